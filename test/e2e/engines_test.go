package e2e

import (
	"testing"

	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
)

// withDatabase points the node at a database URL.
func withDatabase(u string) nodeOption {
	return func(s *nodeSetup) { s.args = append(s.args, "--database-url", u) }
}

// engines runs f once per store engine: SQLite always, PostgreSQL when
// TABLECAST_TEST_POSTGRES names a server (each test gets a fresh database,
// dropped afterwards). Without it the PostgreSQL run is skipped, except
// under CI=true, where it fails.
func engines(t *testing.T, f func(t *testing.T, db nodeOption)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, withDatabase("sqlite://:memory:"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, withDatabase(freshPostgres(t)))
	})
}

func freshPostgres(t *testing.T) string { return pgtest.FreshDatabase(t) }
