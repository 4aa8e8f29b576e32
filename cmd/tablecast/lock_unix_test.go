//go:build unix

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/internal/store"
)

// serve and migrate refuse a SQLite database another process (here a store
// of this one) has open, exit 1 and say why.
func TestRefusesADatabaseInUse(t *testing.T) {
	t.Setenv("TABLECAST_JWT_SECRET", "")
	path := filepath.Join(t.TempDir(), "tc.db")
	db := "sqlite://" + path
	held, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, args := range [][]string{
		// An address no interface has: were the database opened, serve
		// would fail to listen instead of serving on.
		{"serve", "--jwt-secret", "s", "--listen", "192.0.2.1:3000", "--database-url", db},
		{"migrate", "--database-url", db},
	} {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		if msg := errOut.String(); code != 1 || !strings.Contains(msg, "database is in use by another process") ||
			!strings.Contains(msg, path) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and a message naming the database in use", args[0], code, msg)
		}
	}
}
