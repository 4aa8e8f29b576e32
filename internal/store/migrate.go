package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migrations are SQL files named NNNN_description.sql under
// migrations/<engine>/, applied in version order, each in its own transaction
// together with its row in schema_migrations(version). A version, once
// released, is never edited: a change is a new file, written for both engines
// with the same meaning.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int64
	name    string
	sql     string
}

// loadMigrations reads the migrations of one engine ("sqlite", "postgres").
func loadMigrations(engine string) ([]migration, error) {
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations for %s: %w", engine, err)
	}
	var out []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %s/%s: name must start with a positive version and _", dir, e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return int(a.version - b.version) })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("store: migrations %s and %s have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// migrator is what an engine provides to the shared runner.
type migrator interface {
	// inMigrationTx runs fn in a transaction, holding whatever lock keeps two
	// processes from migrating at once (SQLite: the write lock of BEGIN
	// IMMEDIATE; PostgreSQL: an advisory lock), and commits if fn succeeds.
	inMigrationTx(ctx context.Context, fn func(q querier) error) error
}

const (
	migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`
)

// runMigrations applies the missing migrations of engine, one transaction
// each. Versions the database has and this binary does not know (a newer
// binary migrated it) are left alone.
func runMigrations(ctx context.Context, engine string, d *dialect, m migrator) error {
	ms, err := loadMigrations(engine)
	if err != nil {
		return err
	}
	for _, mg := range ms {
		err := m.inMigrationTx(ctx, func(q querier) error {
			if _, err := q.exec(ctx, migrationsTable); err != nil {
				return err
			}
			var n int
			if err := q.queryRow(ctx, d.sql(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), mg.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := q.exec(ctx, mg.sql); err != nil {
				return err
			}
			_, err := q.exec(ctx, d.sql(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
				mg.version, now().Format("2006-01-02T15:04:05.000000Z"))
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s (%s): %w", mg.name, engine, err)
		}
	}
	return nil
}
