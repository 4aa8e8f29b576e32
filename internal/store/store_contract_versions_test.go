package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

// contractVersions: tables, fields and views have a version, as rows do: 1
// when created, +1 on each update (in the update's own statement, so the
// returned value is the stored one), read back by every read. A Version given
// by the caller is ignored; a rolled-back or failed update leaves it as it
// was.
func contractVersions(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	if f.table.Version != 1 || f.name.Version != 1 || f.n.Version != 1 {
		t.Fatalf("created at versions table %d, fields %d %d; want 1", f.table.Version, f.name.Version, f.n.Version)
	}
	var view View
	update(t, s, func(ctx context.Context, tx Tx) error {
		view = must(tx.CreateView(ctx, View{TableID: f.table.ID, Name: "Grid", Public: true, Slug: "versions",
			Version: 42})).get(t)
		if view.Version != 1 {
			t.Errorf("CreateView with Version 42: version %d, want 1", view.Version)
		}
		g := must(tx.CreateField(ctx, Field{TableID: f.table.ID, Name: "Extra", Type: "text", Version: 7})).get(t)
		if g.Version != 1 {
			t.Errorf("CreateField with Version 7: version %d, want 1", g.Version)
		}
		tb := must(tx.CreateTable(ctx, Table{WorkspaceID: f.ws.ID, Name: "Other", Version: 9})).get(t)
		if tb.Version != 1 {
			t.Errorf("CreateTable with Version 9: version %d, want 1", tb.Version)
		}
		return nil
	})

	// Updates: +1 each, returned, and seen by reads in the same transaction.
	update(t, s, func(ctx context.Context, tx Tx) error {
		tb := f.table
		tb.Name = "Renamed"
		tb = must(tx.UpdateTable(ctx, tb)).get(t)
		if tb.Version != 2 {
			t.Errorf("UpdateTable: version %d, want 2", tb.Version)
		}
		// A Version given is ignored, and an update that changes nothing
		// else still counts.
		tb.Version = 100
		tb = must(tx.UpdateTable(ctx, tb)).get(t)
		if tb.Version != 3 {
			t.Errorf("UpdateTable again: version %d, want 3", tb.Version)
		}
		if got := must(tx.Table(ctx, tb.ID)).get(t); got.Version != 3 {
			t.Errorf("Table in the transaction: version %d, want 3", got.Version)
		}

		fl := f.n
		fl.Options = json.RawMessage(`{"decimals": 3}`)
		fl = must(tx.UpdateField(ctx, fl)).get(t)
		if fl.Version != 2 {
			t.Errorf("UpdateField: version %d, want 2", fl.Version)
		}
		fl.Version = 0
		fl = must(tx.UpdateField(ctx, fl)).get(t)
		if fl.Version != 3 {
			t.Errorf("UpdateField again: version %d, want 3", fl.Version)
		}
		if got := must(tx.Field(ctx, fl.ID)).get(t); got.Version != 3 {
			t.Errorf("Field in the transaction: version %d, want 3", got.Version)
		}

		v := view
		v.Name = "Grid 2"
		v = must(tx.UpdateView(ctx, v)).get(t)
		if v.Version != 2 {
			t.Errorf("UpdateView: version %d, want 2", v.Version)
		}
		return nil
	})

	// Reads after commit: one, lists and by slug.
	if got := must(s.Table(ctx, f.table.ID)).get(t); got.Version != 3 || got.Name != "Renamed" {
		t.Fatalf("Table = %+v, want version 3", got)
	}
	for _, tb := range must(s.Tables(ctx, f.ws.ID)).get(t) {
		if want := map[bool]int64{true: 3, false: 1}[tb.ID == f.table.ID]; tb.Version != want {
			t.Fatalf("Tables: %q at version %d, want %d", tb.Name, tb.Version, want)
		}
	}
	if got := must(s.Field(ctx, f.n.ID)).get(t); got.Version != 3 {
		t.Fatalf("Field = %+v, want version 3", got)
	}
	for _, fl := range must(s.Fields(ctx, f.table.ID)).get(t) {
		if want := map[bool]int64{true: 3, false: 1}[fl.ID == f.n.ID]; fl.Version != want {
			t.Fatalf("Fields: %q at version %d, want %d (an update touches only its field)", fl.Name, fl.Version, want)
		}
	}
	if got := must(s.View(ctx, view.ID)).get(t); got.Version != 2 {
		t.Fatalf("View = %+v, want version 2", got)
	}
	if got := must(s.ViewBySlug(ctx, "versions")).get(t); got.Version != 2 {
		t.Fatalf("ViewBySlug = %+v, want version 2", got)
	}
	if vs := must(s.Views(ctx, f.table.ID)).get(t); len(vs) != 1 || vs[0].Version != 2 {
		t.Fatalf("Views = %+v, want one at version 2", vs)
	}

	// A rolled-back update leaves the versions as they were.
	errRollback := errors.New("roll back")
	err := s.Update(ctx, func(tx Tx) error {
		fl := must(tx.Field(ctx, f.n.ID)).get(t)
		must(tx.UpdateField(ctx, fl)).get(t)
		must(tx.UpdateView(ctx, must(tx.View(ctx, view.ID)).get(t))).get(t)
		must(tx.UpdateTable(ctx, must(tx.Table(ctx, f.table.ID)).get(t))).get(t)
		return errRollback
	})
	wantErr(t, err, errRollback, "rolled back")
	// So does an update that fails (a taken name).
	err = s.Update(ctx, func(tx Tx) error {
		fl := must(tx.Field(ctx, f.n.ID)).get(t)
		fl.Name = "Name"
		_, err := tx.UpdateField(ctx, fl)
		return err
	})
	wantErr(t, err, ErrConflict, "rename to a taken name")
	if got := must(s.Field(ctx, f.n.ID)).get(t); got.Version != 3 {
		t.Fatalf("field after a rollback and a failed update: version %d, want 3", got.Version)
	}
	if got := must(s.View(ctx, view.ID)).get(t); got.Version != 2 {
		t.Fatalf("view after a rollback: version %d, want 2", got.Version)
	}
	if got := must(s.Table(ctx, f.table.ID)).get(t); got.Version != 3 {
		t.Fatalf("table after a rollback: version %d, want 3", got.Version)
	}

	// Deleting a field changes no other version: the table's, the other
	// fields', the views' (the service updates views explicitly).
	update(t, s, func(ctx context.Context, tx Tx) error { return tx.DeleteField(ctx, f.n.ID) })
	if got := must(s.Field(ctx, f.name.ID)).get(t); got.Version != 1 {
		t.Fatalf("other field after a delete: version %d, want 1", got.Version)
	}
	if got := must(s.View(ctx, view.ID)).get(t); got.Version != 2 {
		t.Fatalf("view after a field delete: version %d, want 2", got.Version)
	}
	if got := must(s.Table(ctx, f.table.ID)).get(t); got.Version != 3 {
		t.Fatalf("table after a field delete: version %d, want 3", got.Version)
	}
}

// contractFieldsVersion: LockTable returns the table's fields version,
// which every field insert, update and delete raises in its own
// transaction, whatever else changes; other tables' changes leave it, and
// a table that does not exist has 0.
func contractFieldsVersion(t *testing.T, s Store) {
	f := newFixture(t, s)
	other := newFixture(t, s)
	version := func(tableID int64) int64 { t.Helper(); return fieldsVersion(t, s, tableID) }
	v0 := version(f.table.ID)
	if v0 < 1 {
		t.Fatalf("fields version of a table with fields: %d, want at least 1", v0)
	}
	var extra Field
	steps := []struct {
		what string
		fn   func(ctx context.Context, tx Tx) error
	}{
		{"a field created", func(ctx context.Context, tx Tx) (err error) {
			extra, err = tx.CreateField(ctx, Field{TableID: f.table.ID, Name: "Extra", Type: "text"})
			return err
		}},
		{"a field renamed", func(ctx context.Context, tx Tx) (err error) {
			extra.Name = "Renamed"
			extra, err = tx.UpdateField(ctx, extra)
			return err
		}},
		{"a field deleted", func(ctx context.Context, tx Tx) error { return tx.DeleteField(ctx, extra.ID) }},
	}
	want := v0
	for _, st := range steps {
		update(t, s, st.fn)
		want++
		if got := version(f.table.ID); got != want {
			t.Errorf("after %s: fields version %d, want %d", st.what, got, want)
		}
	}
	// Neither a row, nor the table's rename, nor another table's field.
	insertRows(t, s, f.table.ID, 0, `{}`)
	update(t, s, func(ctx context.Context, tx Tx) error {
		tb := f.table
		tb.Name = "Renamed table"
		_, err := tx.UpdateTable(ctx, tb)
		return err
	})
	update(t, s, func(ctx context.Context, tx Tx) error {
		_, err := tx.CreateField(ctx, Field{TableID: other.table.ID, Name: "Elsewhere", Type: "text"})
		return err
	})
	if got := version(f.table.ID); got != want {
		t.Errorf("after a row, a rename and another table's field: fields version %d, want %d", got, want)
	}
	if got := version(f.table.ID + other.table.ID + 1000); got != 0 {
		t.Errorf("fields version of no table: %d, want 0", got)
	}
}

// fieldsVersion is the table's fields version, as LockTable returns it.
func fieldsVersion(t *testing.T, s Store, tableID int64) (v int64) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx Tx) error {
		l, ok := tx.(interface {
			LockTable(ctx context.Context, tableID int64) (int64, error)
		})
		if !ok {
			t.Fatalf("%T has no LockTable", tx)
		}
		var err error
		v, err = l.LockTable(ctx, tableID)
		return err
	})
	return v
}
