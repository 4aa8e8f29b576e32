package store

import (
	"context"
	"errors"
	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The contract runs on SQLite always and on PostgreSQL when
// TABLECAST_TEST_POSTGRES names a server (see internal/testsupport/pgtest).

func TestSQLiteContract(t *testing.T) {
	testStoreContract(t, func(t *testing.T) Store { return openSQLiteTest(t) })
}

func TestPostgresContract(t *testing.T) {
	admin := postgresAdminURL(t)
	testStoreContract(t, func(t *testing.T) Store { return openPostgresTest(t, admin) })
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// openSQLiteTest opens a migrated SQLite store in a temporary file.
func openSQLiteTest(tb testing.TB) Store {
	tb.Helper()
	return openMigrated(tb, "sqlite://"+filepath.Join(tb.TempDir(), "test.db"))
}

func openMigrated(tb testing.TB, u string) Store {
	tb.Helper()
	ctx := testCtx(tb)
	s, err := Open(ctx, u)
	if err != nil {
		tb.Fatalf("Open(%s): %v", u, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

// postgresAdminURL returns the server to test against, or skips (fails on CI).
func postgresAdminURL(tb testing.TB) string { return pgtest.AdminURL(tb) }

// createPostgresDB creates an empty database for tb and drops it when tb ends.
func createPostgresDB(tb testing.TB, _ string) string { return pgtest.FreshDatabase(tb) }

// openPostgresTest opens a migrated store on a fresh database.
func openPostgresTest(tb testing.TB, admin string) Store {
	tb.Helper()
	return openMigrated(tb, createPostgresDB(tb, admin))
}

// Several processes migrating one database at the same time: all succeed and
// the schema is there once.
func TestPostgresMigrateConcurrently(t *testing.T) {
	admin := postgresAdminURL(t)
	u := createPostgresDB(t, admin)
	ctx := testCtx(t)
	stores := make([]Store, 4)
	for i := range stores {
		s, err := Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	testMigrateConcurrently(t, stores)
}

// A SQLite database has one store at a time (TestSQLiteOneStorePerFile):
// several goroutines migrate through it at once.
func TestSQLiteMigrateConcurrently(t *testing.T) {
	ctx := testCtx(t)
	s, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testMigrateConcurrently(t, []Store{s, s, s, s})
}

func testMigrateConcurrently(t *testing.T, stores []Store) {
	ctx := testCtx(t)
	errs := make(chan error, len(stores))
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() { errs <- s.Migrate(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	for _, s := range stores {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	// The schema works.
	err := stores[0].Update(ctx, func(tx Tx) error {
		_, err := tx.CreateWorkspace(ctx, "w")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenURLs(t *testing.T) {
	ctx := testCtx(t)
	for _, u := range []string{"mysql://x", "sqlite://", "sqlite://x.db?synchronous=sometimes", "sqlite://x.db?bogus=1", ""} {
		if s, err := Open(ctx, u); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

func TestSQLiteMemory(t *testing.T) {
	ctx := testCtx(t)
	s, err := Open(ctx, "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := s.Update(ctx, func(tx Tx) error {
		w, err := tx.CreateWorkspace(ctx, "mem")
		id = w.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if w, err := s.Workspace(ctx, id); err != nil || w.Name != "mem" {
		t.Fatalf("Workspace = %+v, %v", w, err)
	}
	dir := s.(*SQLiteStore).tempDir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary directory %s still there after Close: %v", dir, err)
	}
	// A second store is another database.
	s2, err := Open(ctx, "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Workspace(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second :memory: store sees the first's data: %v", err)
	}
}

func TestKeyRuns(t *testing.T) {
	a, b := TableStream(1), WorkspaceStream(1)
	got := keyRuns([]EventKey{{a, 3}, {b, 1}, {a, 1}, {a, 2}, {a, 2}, {a, 5}, {b, 2}, {TableStream(2), 6}})
	want := []keyRun{{a, 1, 3}, {a, 5, 5}, {TableStream(2), 6, 6}, {b, 1, 2}}
	if !slices.Equal(got, want) {
		t.Fatalf("keyRuns = %v, want %v", got, want)
	}
	if got := keyRuns(nil); len(got) != 0 {
		t.Fatalf("keyRuns(nil) = %v", got)
	}
}
