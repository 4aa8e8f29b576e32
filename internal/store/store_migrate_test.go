package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

// A database created by 0001 (before versions) with tables, fields and views
// in it: migrating gives each of them version 1, and updates go on from there.
func TestSQLiteUpgradeVersions(t *testing.T) {
	testUpgradeVersions(t, "sqlite://"+filepath.Join(t.TempDir(), "u.db"))
}

func TestPostgresUpgradeVersions(t *testing.T) {
	testUpgradeVersions(t, createPostgresDB(t, postgresAdminURL(t)))
}

// openUnmigrated opens the store at u without migrating it (closed when
// the test ends) and returns its engine, dialect, migrator and migrations.
func openUnmigrated(t *testing.T, u string) (Store, string, *dialect, migrator, []migration) {
	t.Helper()
	s, err := Open(testCtx(t), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var engine string
	var d *dialect
	var m migrator
	switch st := s.(type) {
	case *SQLiteStore:
		engine, d, m = "sqlite", st.d, sqliteMigrator{st}
	case *PostgresStore:
		engine, d, m = "postgres", st.d, pgMigrator{st}
	default:
		t.Fatalf("unexpected store %T", s)
	}
	ms, err := loadMigrations(engine)
	if err != nil {
		t.Fatal(err)
	}
	return s, engine, d, m, ms
}

func testUpgradeVersions(t *testing.T, u string) {
	ctx := testCtx(t)
	s, engine, d, m, ms := openUnmigrated(t, u)
	if len(ms) < 2 || ms[0].version != 1 || ms[1].version != 2 {
		t.Fatalf("migrations of %s: want 0001 then 0002", engine)
	}
	// The schema of 0001 only, with data written as that version wrote it.
	var tableID, fieldID, viewID int64
	err := m.inMigrationTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, migrationsTable); err != nil {
			return err
		}
		if _, err := q.exec(ctx, ms[0].sql); err != nil {
			return err
		}
		if _, err := q.exec(ctx, d.sql(`INSERT INTO schema_migrations (version, applied_at) VALUES (1, 'then')`)); err != nil {
			return err
		}
		var wsID int64
		if err := q.queryRow(ctx, d.sql(`INSERT INTO workspaces (name, created_at) VALUES ('w', ?) RETURNING id`),
			d.ts(now())).Scan(&wsID); err != nil {
			return err
		}
		if err := q.queryRow(ctx, d.sql(`INSERT INTO tables (workspace_id, name, position, created_at)
			VALUES (?, 'T', 1, ?) RETURNING id`), wsID, d.ts(now())).Scan(&tableID); err != nil {
			return err
		}
		if err := q.queryRow(ctx, d.sql(`INSERT INTO fields (table_id, name, type, is_primary, position)
			VALUES (?, 'Name', 'text', {T}, 1) RETURNING id`), tableID).Scan(&fieldID); err != nil {
			return err
		}
		return q.queryRow(ctx, d.sql(`INSERT INTO views (table_id, name, type, position, filter_type, filters, sorts,
			hidden_field_ids, is_public, password_hash) VALUES (?, 'Grid', 'grid', 1, 'AND', {json}, {json}, {json}, {F}, '')
			RETURNING id`), tableID, "[]", "[]", "[]").Scan(&viewID)
	})
	if err != nil {
		t.Fatalf("schema 0001: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from 0001: %v", err)
	}
	if got := must(s.Table(ctx, tableID)).get(t); got.Version != 1 {
		t.Fatalf("table after the upgrade: version %d, want 1", got.Version)
	}
	if got := must(s.Field(ctx, fieldID)).get(t); got.Version != 1 {
		t.Fatalf("field after the upgrade: version %d, want 1", got.Version)
	}
	if got := must(s.View(ctx, viewID)).get(t); got.Version != 1 {
		t.Fatalf("view after the upgrade: version %d, want 1", got.Version)
	}
	update(t, s, func(ctx context.Context, tx Tx) error {
		f := must(tx.Field(ctx, fieldID)).get(t)
		if f = must(tx.UpdateField(ctx, f)).get(t); f.Version != 2 {
			t.Errorf("field updated after the upgrade: version %d, want 2", f.Version)
		}
		return nil
	})
}

// A database at 0004 with events published and not: after 0005 the
// unpublished ones, and only they, are in the outbox, in their order, and
// new events join them.
func TestSQLiteUpgradeOutbox(t *testing.T) {
	testUpgradeOutbox(t, "sqlite://"+filepath.Join(t.TempDir(), "u.db"))
}

func TestPostgresUpgradeOutbox(t *testing.T) {
	testUpgradeOutbox(t, createPostgresDB(t, postgresAdminURL(t)))
}

func testUpgradeOutbox(t *testing.T, u string) {
	ctx := testCtx(t)
	s, engine, d, m, ms := openUnmigrated(t, u)
	if len(ms) < 5 || ms[3].version != 4 || ms[4].version != 5 {
		t.Fatalf("migrations of %s: want 0004 then 0005", engine)
	}
	// Table stream 7: offsets 1-4, 2 and 4 unpublished; workspace 7: 1, published.
	err := m.inMigrationTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, migrationsTable); err != nil {
			return err
		}
		for _, mg := range ms[:4] {
			if _, err := q.exec(ctx, mg.sql); err != nil {
				return err
			}
			if _, err := q.exec(ctx, d.sql(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'then')`), mg.version); err != nil {
				return err
			}
		}
		for _, e := range []struct {
			kind, off int64
			published bool
		}{{1, 1, true}, {1, 2, false}, {2, 1, true}, {1, 3, true}, {1, 4, false}} {
			if _, err := q.exec(ctx, d.sql(`INSERT INTO events (stream_kind, stream_id, stream_offset, type, payload, created_at, published)
				VALUES (?, 7, ?, 'e', '{}', ?, ?)`), e.kind, e.off, d.ts(now()), e.published); err != nil {
				return err
			}
		}
		_, err := q.exec(ctx, d.sql(`INSERT INTO streams (kind, id, last_offset) VALUES (1, 7, 4), (2, 7, 1)`))
		return err
	})
	if err != nil {
		t.Fatalf("schema 0004: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from 0004: %v", err)
	}
	a := TableStream(7)
	update(t, s, func(ctx context.Context, tx Tx) error {
		must(tx.AppendEvent(ctx, a, "e", nil)).get(t)
		return nil
	})
	var keys []EventKey
	for _, e := range must(s.Unpublished(ctx, 10)).get(t) {
		keys = append(keys, e.Key())
	}
	if want := []EventKey{{a, 2}, {a, 4}, {a, 5}}; !slices.Equal(keys, want) {
		t.Fatalf("Unpublished after the upgrade = %v, want %v", keys, want)
	}
	var published []bool
	for _, e := range must(s.Events(ctx, a, 0, 10)).get(t) {
		published = append(published, e.Published)
	}
	if want := []bool{true, false, true, false, false}; !slices.Equal(published, want) {
		t.Fatalf("Published of table 7's events = %v, want %v", published, want)
	}
}
