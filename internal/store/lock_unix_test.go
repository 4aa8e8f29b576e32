//go:build unix

package store

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A second store on a database file fails at once while the first is
// open (flock locks conflict between two opens in one process too), and
// opens once the first is closed; the lock file stays, mode 0600.
func TestSQLiteOneStorePerFile(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "one.db")
	u := "sqlite://" + path
	first, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := Open(ctx, u)
	if err == nil {
		second.Close()
		t.Fatal("a second store opened the database the first has open")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open: %v; want ErrLocked naming %s", err, path)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, u)
	if err != nil {
		t.Fatalf("Open after the first store closed: %v", err)
	}
	if err := again.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path + ".lock")
	if err != nil {
		t.Fatalf("lock file after Close: %v", err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("lock file mode %v, want 0600", m)
	}
}

// A store opened through a symbolic link takes the same lock as one opened
// by the file's own path, whichever opens first, and so does one opened
// through a link to a database not created yet (SQLite creates the file
// the link points to).
func TestSQLiteLockFollowsSymlinks(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "one.db")
	link := filepath.Join(dir, "link.db")
	// Relative, as ln -s usually makes them.
	if err := os.Symlink("one.db", link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, first, second string }{
		{"link to a database not created yet", link, path},
		{"file link", path, link},
		{"file link first", link, path},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, err := Open(ctx, "sqlite://"+tc.first)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			if err := first.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("the database is not where the link leads: %v", err)
			}
			second, err := Open(ctx, "sqlite://"+tc.second)
			if err == nil {
				second.Close()
				t.Fatalf("%s opened while %s is open: the two took different locks", tc.second, tc.first)
			}
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("second Open: %v; want ErrLocked", err)
			}
		})
	}
	if _, err := os.Lstat(link + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a lock file beside the link: %v; want none", err)
	}
}

// An Open that fails after taking the lock releases it: the next one fails
// for the same reason, not with ErrLocked.
func TestSQLiteFailedOpenReleasesLock(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		s, err := Open(ctx, "sqlite://"+path)
		if err == nil {
			s.Close()
			t.Fatalf("open %d: a file that is not a database opened", i)
		}
		if errors.Is(err, ErrLocked) {
			t.Fatalf("open %d: %v: the failed open before kept the lock", i, err)
		}
	}
}

// TestSQLiteLockChild is the other process of TestSQLiteLockAcrossProcesses:
// it holds a store on the database its environment names until its stdin
// closes. Run alone, it skips.
func TestSQLiteLockChild(t *testing.T) {
	path := os.Getenv("TABLECAST_TEST_LOCK_CHILD")
	if path == "" {
		t.Skip("the child of TestSQLiteLockAcrossProcesses")
	}
	s, err := Open(testCtx(t), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Stdout.WriteString("held\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent is done
}

// Another process holding the database keeps this one out; when it dies
// (killed, no Close) the kernel releases its lock and the database opens.
func TestSQLiteLockAcrossProcesses(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "shared.db")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSQLiteLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TABLECAST_TEST_LOCK_CHILD="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "held\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	s, err := Open(ctx, "sqlite://"+path)
	if err == nil {
		s.Close()
		t.Error("opened the database another process holds")
	} else if !errors.Is(err, ErrLocked) {
		t.Errorf("Open: %v; want ErrLocked", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: an error
	s, err = Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatalf("Open after the other process died: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
