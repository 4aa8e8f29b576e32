package store

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// contractDocOps: the op log keeps each document's ops by version, returns
// them from a version on in order, refuses a version taken twice, rolls back
// with its transaction, and is pruned with the events.
func contractDocOps(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	col := "record_" + strconv.FormatInt(f.table.ID, 10)
	ops := []DocOp{
		{Collection: col, DocID: 7, Version: 0, Op: json.RawMessage(`{"create":{"fields":{}}}`), Offset: 1},
		{Collection: col, DocID: 7, Version: 1, Op: json.RawMessage(`{"op":[{"p":["fields","1"],"oi":"a"}]}`), Src: "c1", Seq: 1, Offset: 2},
		{Collection: col, DocID: 8, Version: 0, Op: json.RawMessage(`{"create":{}}`), Offset: 2},
		{Collection: col, DocID: 7, Version: 2, Op: json.RawMessage(`{"del":true}`), Src: "c1", Seq: 2, Offset: 3},
	}
	update(t, s, func(ctx context.Context, tx Tx) error { return tx.AppendDocOps(ctx, ops) })

	got := must(s.DocOps(ctx, col, 7, 1, 10)).get(t)
	if len(got) != 2 || got[0].Version != 1 || got[1].Version != 2 {
		t.Fatalf("DocOps from 1: %+v, want versions 1 and 2", got)
	}
	if got[0].Src != "c1" || got[0].Seq != 1 || got[0].Offset != 2 {
		t.Errorf("DocOps[0] = %+v, want %+v", got[0], ops[1])
	}
	jsonEqual(t, got[0].Op, ops[1].Op, "DocOps[0].Op")
	if got[0].CreatedAt.IsZero() || time.Since(got[0].CreatedAt) > time.Hour {
		t.Errorf("CreatedAt = %v", got[0].CreatedAt)
	}
	if got := must(s.DocOps(ctx, col, 7, 0, 1)).get(t); len(got) != 1 || got[0].Version != 0 {
		t.Errorf("DocOps limit 1: %+v", got)
	}
	if got := must(s.DocOps(ctx, col, 7, 3, 10)).get(t); len(got) != 0 {
		t.Errorf("DocOps past the end: %+v", got)
	}
	if got := must(s.DocOps(ctx, "field_"+strconv.FormatInt(f.table.ID, 10), 7, 0, 10)).get(t); len(got) != 0 {
		t.Errorf("another collection's document 7: %+v", got)
	}

	// A version taken twice is a conflict, and a rolled-back entry is gone.
	err := s.Update(ctx, func(tx Tx) error {
		return tx.AppendDocOps(ctx, []DocOp{{Collection: col, DocID: 8, Version: 0, Op: json.RawMessage(`{"del":true}`), Offset: 9}})
	})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("version taken twice: %v, want ErrConflict", err)
	}
	_ = s.Update(ctx, func(tx Tx) error {
		if err := tx.AppendDocOps(ctx, []DocOp{{Collection: col, DocID: 8, Version: 1, Op: json.RawMessage(`{"del":true}`), Offset: 9}}); err != nil {
			t.Fatal(err)
		}
		return errors.New("roll back")
	})
	if got := must(s.DocOps(ctx, col, 8, 0, 10)).get(t); len(got) != 1 {
		t.Errorf("after a rollback: %+v, want the create only", got)
	}
	for _, bad := range []DocOp{
		{Collection: "", DocID: 1, Op: json.RawMessage(`{}`)},
		{Collection: col, DocID: 0, Op: json.RawMessage(`{}`)},
		{Collection: col, DocID: 1, Version: -1, Op: json.RawMessage(`{}`)},
		{Collection: col, DocID: 1, Op: json.RawMessage(`[1]`)},
	} {
		err := s.Update(ctx, func(tx Tx) error { return tx.AppendDocOps(ctx, []DocOp{bad}) })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("AppendDocOps(%+v): %v, want ErrInvalid", bad, err)
		}
	}

	// A batch larger than one statement.
	big := make([]DocOp, docOpsChunk+3)
	for i := range big {
		big[i] = DocOp{Collection: col, DocID: 100 + int64(i), Op: json.RawMessage(`{"create":{}}`), Offset: 4}
	}
	update(t, s, func(ctx context.Context, tx Tx) error { return tx.AppendDocOps(ctx, big) })
	if got := must(s.DocOps(ctx, col, 100+docOpsChunk+2, 0, 10)).get(t); len(got) != 1 {
		t.Errorf("last of a large batch: %+v", got)
	}

	must(s.PruneEvents(ctx, time.Now().Add(time.Hour), time.Time{}, 0)).get(t)
	if got := must(s.DocOps(ctx, col, 7, 0, 10)).get(t); len(got) != 0 {
		t.Errorf("after pruning everything: %+v", got)
	}
}

// contractRowIDsAndOrders: InsertRows with ids and orders of the caller's;
// an id in use is a conflict; the store's own ids go past the given ones;
// UpdateRows with an Order moves the row.
func contractRowIDsAndOrders(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	var first InsertedRows
	update(t, s, func(ctx context.Context, tx Tx) error {
		first = must(tx.InsertRows(ctx, NewRows{TableID: f.table.ID, Values: []json.RawMessage{nil}})).get(t)
		return nil
	})
	chosen := first.Rows[0].ID + 1000
	var ins InsertedRows
	update(t, s, func(ctx context.Context, tx Tx) error {
		ins = must(tx.InsertRows(ctx, NewRows{TableID: f.table.ID, IDs: []int64{chosen, chosen - 500},
			Orders: []string{"0.50000000000000000000", "7"},
			Values: []json.RawMessage{json.RawMessage(`{"a":1}`), nil}})).get(t)
		return nil
	})
	if ins.Rows[0].ID != chosen || ins.Rows[1].ID != chosen-500 {
		t.Fatalf("ids %d %d, want %d %d", ins.Rows[0].ID, ins.Rows[1].ID, chosen, chosen-500)
	}
	if ins.Rows[0].Order != "0.50000000000000000000" || ins.Rows[1].Order != "7.00000000000000000000" {
		t.Errorf("orders %s %s", ins.Rows[0].Order, ins.Rows[1].Order)
	}
	rows := must(s.Rows(ctx, f.table.ID, RowCursor{}, 10)).get(t)
	if len(rows) != 3 || rows[0].ID != chosen || rows[1].ID != first.Rows[0].ID || rows[2].ID != chosen-500 {
		t.Errorf("listed %+v", rows)
	}
	// The sequence went past the largest given id.
	update(t, s, func(ctx context.Context, tx Tx) error {
		next := must(tx.InsertRows(ctx, NewRows{TableID: f.table.ID, Values: []json.RawMessage{nil}})).get(t)
		if next.Rows[0].ID <= chosen {
			t.Errorf("next sequence id %d, want > %d", next.Rows[0].ID, chosen)
		}
		return nil
	})
	for name, in := range map[string]NewRows{
		"id in use":      {TableID: f.table.ID, IDs: []int64{chosen}, Values: []json.RawMessage{nil}},
		"id 0":           {TableID: f.table.ID, IDs: []int64{0}, Values: []json.RawMessage{nil}},
		"id twice":       {TableID: f.table.ID, IDs: []int64{chosen + 7, chosen + 7}, Values: []json.RawMessage{nil, nil}},
		"ids count":      {TableID: f.table.ID, IDs: []int64{chosen + 8}, Values: []json.RawMessage{nil, nil}},
		"bad order":      {TableID: f.table.ID, Orders: []string{"-1"}, Values: []json.RawMessage{nil}},
		"order + before": {TableID: f.table.ID, BeforeID: chosen, Orders: []string{"1"}, Values: []json.RawMessage{nil}},
	} {
		err := s.Update(ctx, func(tx Tx) error { _, err := tx.InsertRows(ctx, in); return err })
		want := ErrInvalid
		if name == "id in use" {
			want = ErrConflict
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}

	// Moving a row: its order changes, its version grows, values stay.
	update(t, s, func(ctx context.Context, tx Tx) error {
		moved := must(tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: chosen, Order: "9.5"}})).get(t)
		if moved[0].Order != "9.50000000000000000000" || moved[0].Version != 2 {
			t.Errorf("moved: %+v", moved[0])
		}
		jsonEqual(t, moved[0].Values, json.RawMessage(`{"a":1}`), "moved row's values")
		return nil
	})
	if rows := must(s.Rows(ctx, f.table.ID, RowCursor{}, 10)).get(t); rows[len(rows)-1].ID != chosen {
		t.Errorf("moved row not last: %+v", rows)
	}
	err := s.Update(ctx, func(tx Tx) error {
		_, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: chosen, Order: "x"}})
		return err
	})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("bad order: %v, want ErrInvalid", err)
	}
}

// contractSavepoint: a savepoint whose function fails, by its error or by
// a failing statement, is undone and the transaction goes on; one that
// succeeds is kept.
func contractSavepoint(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	insert := func(tx Tx, v string) error {
		_, err := tx.InsertRows(ctx, NewRows{TableID: f.table.ID, Values: []json.RawMessage{json.RawMessage(`{"k":"` + v + `"}`)}})
		return err
	}
	var keptID int64
	update(t, s, func(ctx context.Context, tx Tx) error {
		if err := insert(tx, "a"); err != nil {
			return err
		}
		err := tx.Savepoint(ctx, func() error {
			if err := insert(tx, "b"); err != nil {
				return err
			}
			return errors.New("changed my mind")
		})
		if err == nil || err.Error() != "changed my mind" {
			t.Errorf("savepoint error = %v", err)
		}
		// A failing statement (a view slug taken) inside: undone too, and
		// the transaction is usable afterwards.
		must(tx.CreateView(ctx, View{TableID: f.table.ID, Name: "v1", Public: true, Slug: "taken"})).get(t)
		err = tx.Savepoint(ctx, func() error {
			_, err := tx.CreateView(ctx, View{TableID: f.table.ID, Name: "v2", Public: true, Slug: "taken"})
			return err
		})
		if !errors.Is(err, ErrConflict) {
			t.Errorf("savepoint with a failing statement: %v, want ErrConflict", err)
		}
		err = tx.Savepoint(ctx, func() error {
			if err := insert(tx, "c"); err != nil {
				return err
			}
			v := must(tx.CreateView(ctx, View{TableID: f.table.ID, Name: "v3"})).get(t)
			keptID = v.ID
			return nil
		})
		if err != nil {
			t.Errorf("successful savepoint: %v", err)
		}
		// After a savepoint that succeeded: a write outside any, then one
		// that fails (undone alone), then one that succeeds.
		if err := insert(tx, "d"); err != nil {
			return err
		}
		err = tx.Savepoint(ctx, func() error {
			if err := insert(tx, "e"); err != nil {
				return err
			}
			return errors.New("changed my mind again")
		})
		if err == nil {
			t.Error("a failing savepoint after a successful one succeeded")
		}
		if err := tx.Savepoint(ctx, func() error { return insert(tx, "f") }); err != nil {
			t.Errorf("the last savepoint: %v", err)
		}
		return nil
	})
	rows := must(s.Rows(ctx, f.table.ID, RowCursor{}, 10)).get(t)
	var got []string
	for _, r := range rows {
		got = append(got, string(r.Values))
	}
	want := []string{`"a"`, `"c"`, `"d"`, `"f"`}
	ok := len(rows) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.Contains(got[i], want[i])
	}
	if !ok {
		t.Errorf("rows after the savepoints: %v, want a, c, d and f", got)
	}
	views := must(s.Views(ctx, f.table.ID)).get(t)
	if len(views) != 2 || views[1].ID != keptID {
		t.Errorf("views: %+v, want v1 and v3", views)
	}
}
