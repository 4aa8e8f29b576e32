package event_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/tablecast/tablecast/"

// goList runs `go list` with args and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("the go command is needed to check the imports: %v", err)
		}
	}
	cmd := exec.Command(goBin, append([]string{"list"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list %v: %v\n%s", args, err, stderr)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestDialectsLinkNoStore: the dialects render events and speak through
// the ports they own; none of them, nor anything they import, reaches the
// service, the store or a database driver.
func TestDialectsLinkNoStore(t *testing.T) {
	forbidden := []string{
		module + "internal/service",
		module + "internal/store",
		"modernc.org/sqlite",
		"github.com/jackc/pgx",
	}
	lines := goList(t, "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"internal/dialect/...")
	if len(lines) < 5 {
		t.Fatalf("go list found %d dialect packages", len(lines))
	}
	for _, line := range lines {
		deps := strings.Fields(line)
		pkg := deps[0]
		for _, dep := range deps[1:] {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}

// TestEventIsALeaf: the event contract imports the standard library and
// the pure packages only (and they, nothing from outside the module).
func TestEventIsALeaf(t *testing.T) {
	allowed := map[string]bool{
		module + "internal/table":    true,
		module + "internal/ot/json0": true,
	}
	for _, imp := range goList(t, "-f", "{{join .Imports \"\\n\"}}", module+"internal/event") {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") && !allowed[imp] {
			t.Errorf("internal/event imports %s", imp)
		}
	}
	for _, dep := range goList(t, "-deps", module+"internal/event") {
		if first, _, _ := strings.Cut(dep, "/"); strings.Contains(first, ".") && !strings.HasPrefix(dep, module) {
			t.Errorf("internal/event depends on %s", dep)
		}
	}
}
