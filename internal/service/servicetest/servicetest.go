// Package servicetest holds what the tests of the service and of the REST
// API share: real stores (SQLite in a temporary file always, PostgreSQL
// when TABLECAST_TEST_POSTGRES names a server) and a recording Publisher.
package servicetest

import (
	"context"
	"errors"
	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/store"
)

// PostgresEnv names the PostgreSQL server to test against: an admin URL on
// which the tests create and drop databases tablecast_svc_<random>_<n>.
const PostgresEnv = "TABLECAST_TEST_POSTGRES"

// Engines runs fn once per store engine, as subtests "sqlite" and
// "postgres", each with a fresh migrated store. Without PostgresEnv the
// PostgreSQL run is skipped with a how-to, or fails when CI=true.
func Engines(t *testing.T, fn func(t *testing.T, open func(t testing.TB) store.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, OpenSQLite) })
	t.Run("postgres", func(t *testing.T) {
		admin := PostgresAdminURL(t)
		fn(t, func(tb testing.TB) store.Store { return OpenPostgres(tb, admin) })
	})
}

// Ctx is a context that ends with the test.
func Ctx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// OpenSQLite opens a migrated SQLite store in a temporary file.
func OpenSQLite(tb testing.TB) store.Store {
	tb.Helper()
	return openMigrated(tb, "sqlite://"+filepath.Join(tb.TempDir(), "test.db"))
}

func openMigrated(tb testing.TB, u string) store.Store {
	tb.Helper()
	ctx := Ctx(tb)
	s, err := store.Open(ctx, u)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return s
}

// PostgresAdminURL returns PostgresEnv, or skips the test (fails it when
// CI=true) when it is not set.
func PostgresAdminURL(tb testing.TB) string { return pgtest.AdminURL(tb) }

// OpenPostgres creates a fresh database on the admin server, migrates it,
// and drops it when tb ends (the store, registered after it, closes first).
func OpenPostgres(tb testing.TB, _ string) store.Store {
	tb.Helper()
	return openMigrated(tb, pgtest.FreshDatabase(tb))
}

// Recorder is a Publisher that records what it is given. Fail makes
// Publish return an error (after recording nothing), as a broker that is
// down.
type Recorder struct {
	mu     sync.Mutex
	events []store.Event
	calls  int
	fail   error
}

var _ service.Publisher = (*Recorder)(nil)

// ErrDown is what a failing Recorder returns.
var ErrDown = errors.New("servicetest: publisher down")

// Publish records the events, or fails when Fail is set.
func (r *Recorder) Publish(_ context.Context, events []store.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, slices.Clone(events)...)
	return nil
}

// Fail makes the next calls fail (down true) or succeed again.
func (r *Recorder) Fail(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = nil
	if down {
		r.fail = ErrDown
	}
}

// Events returns the events recorded so far.
func (r *Recorder) Events() []store.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Calls returns how many times Publish was called.
func (r *Recorder) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// Reset forgets what was recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events, r.calls = nil, 0
}
