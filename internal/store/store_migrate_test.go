package store

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
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

// migrateFrom opens the store at u (closed when the test ends), applies
// the migrations up to version from as Migrate would, lets seed write
// what a database of that version held, in the same transaction, then
// migrates to the latest version. It returns the store and its migrator.
func migrateFrom(t *testing.T, u string, from int, seed func(ctx context.Context, q querier, d *dialect) error) (Store, migrator) {
	t.Helper()
	ctx := testCtx(t)
	s, engine, d, m, ms := openUnmigrated(t, u)
	if len(ms) <= from || ms[from-1].version != int64(from) || ms[from].version != int64(from+1) {
		t.Fatalf("migrations of %s: want %04d then %04d", engine, from, from+1)
	}
	err := m.inMigrationTx(ctx, func(q querier) error {
		if err := applyMigrations(ctx, q, d, ms[:from]); err != nil {
			return err
		}
		return seed(ctx, q, d)
	})
	if err != nil {
		t.Fatalf("schema %04d: %v", from, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from %04d: %v", from, err)
	}
	return s, m
}

func testUpgradeVersions(t *testing.T, u string) {
	ctx := testCtx(t)
	// The schema of 0001 only, with data written as that version wrote it.
	var tableID, fieldID, viewID int64
	s, _ := migrateFrom(t, u, 1, func(ctx context.Context, q querier, d *dialect) error {
		var err error
		if tableID, err = insertTable(ctx, q, d); err != nil {
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

// applyMigrations applies ms in q as Migrate would, recording each.
func applyMigrations(ctx context.Context, q querier, d *dialect, ms []migration) error {
	if _, err := q.exec(ctx, migrationsTable); err != nil {
		return err
	}
	for _, mg := range ms {
		if _, err := q.exec(ctx, mg.sql); err != nil {
			return err
		}
		if _, err := q.exec(ctx, d.sql(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'then')`), mg.version); err != nil {
			return err
		}
	}
	return nil
}

// insertTable writes a workspace and a table in it as every schema since
// 0001 holds them, and returns the table's id.
func insertTable(ctx context.Context, q querier, d *dialect) (int64, error) {
	var wsID, tableID int64
	if err := q.queryRow(ctx, d.sql(`INSERT INTO workspaces (name, created_at) VALUES ('w', ?) RETURNING id`),
		d.ts(now())).Scan(&wsID); err != nil {
		return 0, err
	}
	err := q.queryRow(ctx, d.sql(`INSERT INTO tables (workspace_id, name, position, created_at)
		VALUES (?, 'T', 1, ?) RETURNING id`), wsID, d.ts(now())).Scan(&tableID)
	return tableID, err
}

func testUpgradeOutbox(t *testing.T, u string) {
	ctx := testCtx(t)
	// Table stream 7: offsets 1-4, 2 and 4 unpublished; workspace 7: 1, published.
	s, _ := migrateFrom(t, u, 4, func(ctx context.Context, q querier, d *dialect) error {
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

// A database at 0005 with rows whose values are one JSON object each:
// after 0006 every row reads the same values from its cells (every kind
// of JSON value, and an empty object), a merge changes the cells it
// names only, deleting a row removes its cells, and the id of a row
// deleted before the upgrade is not given again.
func TestSQLiteUpgradeRowCells(t *testing.T) {
	testUpgradeRowCells(t, "sqlite://"+filepath.Join(t.TempDir(), "u.db"))
}

func TestPostgresUpgradeRowCells(t *testing.T) {
	testUpgradeRowCells(t, createPostgresDB(t, postgresAdminURL(t)))
}

func testUpgradeRowCells(t *testing.T, u string) {
	ctx := testCtx(t)
	vals := []string{
		`{"1":"a \"quoted\" text","2":12.5,"3":true,"4":false,"5":null,"6":[1,{"x":"y"}],"7":{"k":[]},"10":"ten"}`,
		`{}`,
	}
	var tableID int64
	var rowIDs []int64
	s, m := migrateFrom(t, u, 5, func(ctx context.Context, q querier, d *dialect) error {
		var err error
		if tableID, err = insertTable(ctx, q, d); err != nil {
			return err
		}
		for i, v := range vals {
			var id int64
			if err := q.queryRow(ctx, d.sql(`INSERT INTO table_rows (table_id, ord, version, vals, created_at, updated_at)
				VALUES (?, {ordp}, 1, {json}, ?, ?) RETURNING id`), tableID, d.order(big.NewInt(int64(i+1))), v, d.ts(now()), d.ts(now())).Scan(&id); err != nil {
				return err
			}
			rowIDs = append(rowIDs, id)
		}
		// A row deleted at the end: its id is not given again.
		var gone int64
		if err := q.queryRow(ctx, d.sql(`INSERT INTO table_rows (table_id, ord, version, vals, created_at, updated_at)
			VALUES (?, {ordp}, 1, {json}, ?, ?) RETURNING id`), tableID, d.order(big.NewInt(9)), `{"1":"gone"}`, d.ts(now()), d.ts(now())).Scan(&gone); err != nil {
			return err
		}
		_, err = q.exec(ctx, d.sql(`DELETE FROM table_rows WHERE id = ?`), gone)
		return err
	})
	for i, id := range rowIDs {
		jsonEqual(t, must(s.Row(ctx, tableID, id)).get(t).Values, json.RawMessage(vals[i]), "migrated row")
	}
	got := must(s.Row(ctx, tableID, rowIDs[0])).get(t).Values
	if want := `{"1":`; !strings.HasPrefix(string(got), want) || !strings.HasSuffix(string(got), `"10":"ten"}`) {
		t.Errorf("cells not in field order: %s", got)
	}
	update(t, s, func(ctx context.Context, tx Tx) error {
		_, err := tx.UpdateRows(ctx, tableID, []RowUpdate{{ID: rowIDs[0], Values: json.RawMessage(`{"2":13,"11":"new"}`)}})
		return err
	})
	jsonEqual(t, must(s.Row(ctx, tableID, rowIDs[0])).get(t).Values,
		json.RawMessage(`{"1":"a \"quoted\" text","2":13,"3":true,"4":false,"5":null,"6":[1,{"x":"y"}],"7":{"k":[]},"10":"ten","11":"new"}`), "merged row")
	countCells := func() int {
		var n int
		if err := m.inMigrationTx(ctx, func(q querier) error {
			return q.queryRow(ctx, `SELECT COUNT(*) FROM row_cells`).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := countCells(); n != 9 {
		t.Fatalf("%d cells after the merge, want 9", n)
	}
	update(t, s, func(ctx context.Context, tx Tx) error {
		_, err := tx.DeleteRows(ctx, tableID, rowIDs[:1])
		return err
	})
	if n := countCells(); n != 0 {
		t.Fatalf("%d cells after the row was deleted, want 0", n)
	}
	var ins InsertedRows
	update(t, s, func(ctx context.Context, tx Tx) error {
		var err error
		ins, err = tx.InsertRows(ctx, NewRows{TableID: tableID, Values: []json.RawMessage{json.RawMessage(`{"1":"new"}`)}})
		return err
	})
	if id := ins.Rows[0].ID; id <= rowIDs[len(rowIDs)-1]+1 {
		t.Fatalf("a row inserted after the upgrade has id %d: ids up to %d were given before", id, rowIDs[len(rowIDs)-1]+1)
	}
	jsonEqual(t, must(s.Row(ctx, tableID, ins.Rows[0].ID)).get(t).Values, json.RawMessage(`{"1":"new"}`), "row inserted after the upgrade")
}

// A database at 0007 with an op log: after 0008 every entry reads as it
// was written, in version order, a version taken before the upgrade is
// still a conflict, and new entries join the old ones.
func TestSQLiteUpgradeDocOps(t *testing.T) {
	testUpgradeDocOps(t, "sqlite://"+filepath.Join(t.TempDir(), "u.db"))
}

func TestPostgresUpgradeDocOps(t *testing.T) {
	testUpgradeDocOps(t, createPostgresDB(t, postgresAdminURL(t)))
}

func testUpgradeDocOps(t *testing.T, u string) {
	ctx := testCtx(t)
	large := `{"op":[{"p":["fields","1"],"oi":"` + strings.Repeat("x", 20_000) + `"}]}`
	old := []struct {
		doc, version int64
		op           string
	}{{7, 1, `{"op":[{"p":["fields","1",0],"si":"b"}]}`}, {8, 0, `{"create":{}}`}, {7, 0, large}, {7, 2, `{"del":true}`}}
	s, _ := migrateFrom(t, u, 7, func(ctx context.Context, q querier, d *dialect) error {
		for i, o := range old {
			if _, err := q.exec(ctx, d.sql(`INSERT INTO doc_ops (collection, doc_id, version, op, src, seq, stream_offset, created_at)
				VALUES ('record_1', ?, ?, {json}, 'c1', ?, ?, ?)`), o.doc, o.version, o.op, o.version, i+1, d.ts(now())); err != nil {
				return err
			}
		}
		return nil
	})
	got := must(s.DocOps(ctx, "record_1", 7, 0, 10)).get(t)
	if len(got) != 3 {
		t.Fatalf("document 7 after the upgrade: %d entries, want 3", len(got))
	}
	for i, want := range []int{2, 0, 3} { // old[i]: versions 0, 1, 2
		o := old[want]
		if got[i].Version != o.version || got[i].Src != "c1" || got[i].Offset != uint64(want+1) {
			t.Errorf("entry %d after the upgrade: %+v, want version %d at offset %d", i, got[i], o.version, want+1)
		}
		jsonEqual(t, got[i].Op, json.RawMessage(o.op), "migrated op")
	}
	err := s.Update(ctx, func(tx Tx) error {
		return tx.AppendDocOps(ctx, []DocOp{{Collection: "record_1", DocID: 8, Version: 0, Op: json.RawMessage(`{"del":true}`), Offset: 9}})
	})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("a version taken before the upgrade, taken again: %v, want ErrConflict", err)
	}
	update(t, s, func(ctx context.Context, tx Tx) error {
		return tx.AppendDocOps(ctx, []DocOp{{Collection: "record_1", DocID: 7, Version: 3, Op: json.RawMessage(`{"op":[]}`), Src: "c2", Seq: 1, Offset: 9}})
	})
	if got := must(s.DocOps(ctx, "record_1", 7, 2, 10)).get(t); len(got) != 2 || got[0].Version != 2 || got[1].Version != 3 || got[1].Src != "c2" {
		t.Errorf("document 7 from version 2 after a new entry: %+v", got)
	}
}

// A database at 0008 with short and long cells: after 0009 every row reads
// as before, on SQLite the long values are kept apart (checkCellBodies),
// and writes go on from there.
func TestSQLiteUpgradeCellBodies(t *testing.T) {
	testUpgradeCellBodies(t, "sqlite://"+filepath.Join(t.TempDir(), "u.db"))
}

func TestPostgresUpgradeCellBodies(t *testing.T) {
	testUpgradeCellBodies(t, createPostgresDB(t, postgresAdminURL(t)))
}

func testUpgradeCellBodies(t *testing.T, u string) {
	ctx := testCtx(t)
	long := `"` + strings.Repeat("é", 2100) + `"` // 4,202 bytes, 2,102 characters: kept apart
	cells := []struct{ key, value string }{{`"1"`, long}, {`"2"`, `12.5`}, {`"3"`, `"` + strings.Repeat("x", 5000) + `"`}}
	var tableID, rowID int64
	s, _ := migrateFrom(t, u, 8, func(ctx context.Context, q querier, d *dialect) error {
		var err error
		if tableID, err = insertTable(ctx, q, d); err != nil {
			return err
		}
		if err := q.queryRow(ctx, d.sql(`INSERT INTO table_rows (table_id, ord, version, created_at, updated_at)
			VALUES (?, {ordp}, 1, ?, ?) RETURNING id`), tableID, d.order(big.NewInt(1)), d.ts(now()), d.ts(now())).Scan(&rowID); err != nil {
			return err
		}
		for _, c := range cells {
			if _, err := q.exec(ctx, d.sql(`INSERT INTO row_cells (row_id, field_key, value) VALUES (?, ?, ?)`), rowID, c.key, c.value); err != nil {
				return err
			}
		}
		return nil
	})
	want := `{"1":` + long + `,"2":12.5,"3":` + cells[2].value + `}`
	jsonEqual(t, must(s.Row(ctx, tableID, rowID)).get(t).Values, json.RawMessage(want), "row after the upgrade")
	checkCellBodies(t, s, "after the upgrade")
	update(t, s, func(ctx context.Context, tx Tx) error {
		return tx.WriteRows(ctx, tableID, []RowUpdate{{ID: rowID, Values: json.RawMessage(`{"1":"short","2":` + long + `}`)}})
	})
	want = `{"1":"short","2":` + long + `,"3":` + cells[2].value + `}`
	jsonEqual(t, must(s.Row(ctx, tableID, rowID)).get(t).Values, json.RawMessage(want), "row written after the upgrade")
	checkCellBodies(t, s, "after a write")
}

func TestSQLiteUpgradeFieldsVersion(t *testing.T) {
	testUpgradeFieldsVersion(t, "sqlite://"+filepath.Join(t.TempDir(), "u.db"))
}

func TestPostgresUpgradeFieldsVersion(t *testing.T) {
	testUpgradeFieldsVersion(t, createPostgresDB(t, postgresAdminURL(t)))
}

// 0010: a table there was starts at fields version 1 (0 is no table), and
// its field changes count from there.
func testUpgradeFieldsVersion(t *testing.T, u string) {
	var tableID int64
	s, _ := migrateFrom(t, u, 9, func(ctx context.Context, q querier, d *dialect) error {
		var err error
		tableID, err = insertTable(ctx, q, d)
		return err
	})
	if got := fieldsVersion(t, s, tableID); got != 1 {
		t.Fatalf("fields version after the upgrade: %d, want 1", got)
	}
	update(t, s, func(ctx context.Context, tx Tx) error {
		_, err := tx.CreateField(ctx, Field{TableID: tableID, Name: "Name", Type: "text"})
		return err
	})
	if got := fieldsVersion(t, s, tableID); got != 2 {
		t.Errorf("fields version after a field was added: %d, want 2", got)
	}
}
