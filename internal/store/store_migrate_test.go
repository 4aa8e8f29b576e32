package store

import (
	"context"
	"path/filepath"
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

func testUpgradeVersions(t *testing.T, u string) {
	ctx := testCtx(t)
	s, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
	if len(ms) < 2 || ms[0].version != 1 || ms[1].version != 2 {
		t.Fatalf("migrations of %s: want 0001 then 0002", engine)
	}
	// The schema of 0001 only, with data written as that version wrote it.
	var tableID, fieldID, viewID int64
	err = m.inMigrationTx(ctx, func(q querier) error {
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
