package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

// testStoreContract is the behaviour every Store keeps. open returns a new,
// migrated, empty store that is closed when t ends.
func testStoreContract(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"MigrateAgain", contractMigrateAgain},
		{"Workspaces", contractWorkspaces},
		{"Members", contractMembers},
		{"Tables", contractTables},
		{"Fields", contractFields},
		{"DeleteFieldRemovesValues", contractDeleteFieldRemovesValues},
		{"RowCells", contractRowCells},
		{"RowVersions", contractRowVersions},
		{"LongCells", contractLongCells},
		{"RowWhole", contractRowWhole},
		{"Views", contractViews},
		{"Versions", contractVersions},
		{"FieldsVersion", contractFieldsVersion},
		{"InsertRows", contractInsertRows},
		{"InsertRowsBefore", contractInsertRowsBefore},
		{"RowPagination", contractRowPagination},
		{"UpdateRows", contractUpdateRows},
		{"DeleteRows", contractDeleteRows},
		{"CascadeDeletes", contractCascadeDeletes},
		{"UpdateRollsBack", contractUpdateRollsBack},
		{"FailedStatementAbortsTransaction", contractFailedStatementAborts},
		{"Read", contractRead},
		{"AppendEvent", contractAppendEvent},
		{"AppendEvents", contractAppendEvents},
		{"RolledBackTakesNoOffset", contractRolledBackTakesNoOffset},
		{"ConcurrentWriters", contractConcurrentWriters},
		{"Unpublished", contractUnpublished},
		{"PruneEvents", contractPruneEvents},
		{"InvalidArguments", contractInvalidArguments},
		{"DocOps", contractDocOps},
		{"RowIDsAndOrders", contractRowIDsAndOrders},
		{"Savepoint", contractSavepoint},
		{"Webhooks", contractWebhooks},
		{"WebhookHoldsLead", contractWebhookHoldsLead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// --- helpers ---

func update(t *testing.T, s Store, fn func(ctx context.Context, tx Tx) error) {
	t.Helper()
	ctx := testCtx(t)
	if err := s.Update(ctx, func(tx Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// must(f()).get(t) is f's value, or t fails with f's error.
func must[T any](v T, err error) result[T] { return result[T]{v, err} }

type result[T any] struct {
	v   T
	err error
}

func (r result[T]) get(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// deleteOnce deletes id with del, then checks that get finds it no more
// and that deleting it again is ErrNotFound; what names the kind of thing.
func deleteOnce[T any](t *testing.T, s Store, what string, id int64, del func(Tx, context.Context, int64) error, get func(context.Context, int64) (T, error)) {
	t.Helper()
	ctx := testCtx(t)
	update(t, s, func(ctx context.Context, tx Tx) error { return del(tx, ctx, id) })
	_, err := get(ctx, id)
	wantErr(t, err, ErrNotFound, "deleted "+what)
	err = s.Update(ctx, func(tx Tx) error { return del(tx, ctx, id) })
	wantErr(t, err, ErrNotFound, "delete a deleted "+what)
}

// jsonEqual compares JSON by meaning (PostgreSQL's jsonb reorders keys).
func jsonEqual(t *testing.T, got, want json.RawMessage, what string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want %q is not JSON: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s = %s, want %s", what, got, want)
	}
}

// fixture is a workspace with a table and two fields.
type fixture struct {
	ws       Workspace
	table    Table
	name, n  Field
	nameKey  string
	countKey string
}

func newFixture(t *testing.T, s Store) fixture {
	t.Helper()
	var f fixture
	update(t, s, func(ctx context.Context, tx Tx) error {
		f.ws = must(tx.CreateWorkspace(ctx, "acme")).get(t)
		f.table = must(tx.CreateTable(ctx, Table{WorkspaceID: f.ws.ID, Name: "Tasks"})).get(t)
		f.name = must(tx.CreateField(ctx, Field{TableID: f.table.ID, Name: "Name", Type: "text", Primary: true})).get(t)
		f.n = must(tx.CreateField(ctx, Field{TableID: f.table.ID, Name: "Count", Type: "number",
			Options: json.RawMessage(`{"decimals": 2}`)})).get(t)
		return nil
	})
	f.nameKey, f.countKey = strconv.FormatInt(f.name.ID, 10), strconv.FormatInt(f.n.ID, 10)
	return f
}

func insertRows(t *testing.T, s Store, tableID, before int64, values ...string) InsertedRows {
	t.Helper()
	var out InsertedRows
	update(t, s, func(ctx context.Context, tx Tx) error {
		vs := make([]json.RawMessage, len(values))
		for i, v := range values {
			vs[i] = json.RawMessage(v)
		}
		out = must(tx.InsertRows(ctx, NewRows{TableID: tableID, BeforeID: before, Values: vs})).get(t)
		return nil
	})
	return out
}

func allRows(t *testing.T, r Reader, tableID int64) []Row {
	t.Helper()
	return must(r.Rows(testCtx(t), tableID, RowCursor{}, 100000)).get(t)
}

func rowIDs(rows []Row) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func offsets(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Offset
	}
	return out
}

func seq(from, to uint64) []uint64 {
	out := []uint64{}
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// --- the contract ---

func contractMigrateAgain(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	if _, err := s.Table(ctx, f.table.ID); err != nil {
		t.Fatalf("data lost by Migrate: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func contractWorkspaces(t *testing.T, s Store) {
	ctx := testCtx(t)
	var a, b Workspace
	start := time.Now().Add(-time.Second)
	update(t, s, func(ctx context.Context, tx Tx) error {
		a = must(tx.CreateWorkspace(ctx, "Alpha")).get(t)
		b = must(tx.CreateWorkspace(ctx, "Beta")).get(t)
		for _, m := range []Member{{a.ID, "alice", RoleAdmin}, {b.ID, "alice", RoleViewer}, {b.ID, "bob", RoleAdmin}} {
			if err := tx.AddMember(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if a.ID <= 0 || b.ID <= a.ID || a.Name != "Alpha" || a.CreatedAt.Before(start) || a.CreatedAt.Location() != time.UTC {
		t.Fatalf("created %+v, %+v", a, b)
	}
	got := must(s.Workspace(ctx, a.ID)).get(t)
	if got != a {
		t.Fatalf("Workspace = %+v, want %+v", got, a)
	}
	if ws := must(s.Workspaces(ctx, "alice")).get(t); !reflect.DeepEqual(ws, []Workspace{a, b}) {
		t.Fatalf("Workspaces(alice) = %+v", ws)
	}
	if ws := must(s.Workspaces(ctx, "bob")).get(t); !reflect.DeepEqual(ws, []Workspace{b}) {
		t.Fatalf("Workspaces(bob) = %+v", ws)
	}
	if ws := must(s.Workspaces(ctx, "nobody")).get(t); len(ws) != 0 || ws == nil {
		t.Fatalf("Workspaces(nobody) = %#v, want an empty list", ws)
	}
	update(t, s, func(ctx context.Context, tx Tx) error {
		r := must(tx.RenameWorkspace(ctx, a.ID, "Alpha 2")).get(t)
		if r.Name != "Alpha 2" || r.ID != a.ID || !r.CreatedAt.Equal(a.CreatedAt) {
			t.Errorf("renamed = %+v", r)
		}
		_, err := tx.RenameWorkspace(ctx, 999999, "x")
		wantErr(t, err, ErrNotFound, "rename a missing workspace")
		return tx.DeleteWorkspace(ctx, b.ID)
	})
	_, err := s.Workspace(ctx, b.ID)
	wantErr(t, err, ErrNotFound, "deleted workspace")
	if ws := must(s.Workspaces(ctx, "bob")).get(t); len(ws) != 0 {
		t.Fatalf("Workspaces(bob) after delete = %+v", ws)
	}
	err = s.Update(ctx, func(tx Tx) error { return tx.DeleteWorkspace(ctx, b.ID) })
	wantErr(t, err, ErrNotFound, "delete a deleted workspace")
	// Ids are not reused.
	update(t, s, func(ctx context.Context, tx Tx) error {
		c := must(tx.CreateWorkspace(ctx, "Gamma")).get(t)
		if c.ID <= b.ID {
			t.Errorf("new workspace id %d reuses or precedes %d", c.ID, b.ID)
		}
		return nil
	})
}

func contractMembers(t *testing.T, s Store) {
	ctx := testCtx(t)
	var ws Workspace
	update(t, s, func(ctx context.Context, tx Tx) error {
		ws = must(tx.CreateWorkspace(ctx, "w")).get(t)
		for _, m := range []Member{{ws.ID, "9001", RoleAdmin}, {ws.ID, "carol", RoleEditor}, {ws.ID, "alice", RoleViewer}} {
			if err := tx.AddMember(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	for user, want := range map[string]Role{"9001": RoleAdmin, "carol": RoleEditor, "alice": RoleViewer} {
		if got := must(s.MemberRole(ctx, ws.ID, user)).get(t); got != want {
			t.Errorf("MemberRole(%s) = %q, want %q", user, got, want)
		}
	}
	_, err := s.MemberRole(ctx, ws.ID, "mallory")
	wantErr(t, err, ErrNotFound, "role of a non-member")
	_, err = s.MemberRole(ctx, 999999, "alice")
	wantErr(t, err, ErrNotFound, "role in a missing workspace")
	want := []Member{{ws.ID, "9001", RoleAdmin}, {ws.ID, "alice", RoleViewer}, {ws.ID, "carol", RoleEditor}}
	if got := must(s.Members(ctx, ws.ID)).get(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("Members = %+v, want %+v", got, want)
	}

	err = s.Update(ctx, func(tx Tx) error { return tx.AddMember(ctx, Member{ws.ID, "alice", RoleEditor}) })
	wantErr(t, err, ErrConflict, "add an existing member")
	err = s.Update(ctx, func(tx Tx) error { return tx.AddMember(ctx, Member{999999, "alice", RoleEditor}) })
	wantErr(t, err, ErrNotFound, "add a member to a missing workspace")
	err = s.Update(ctx, func(tx Tx) error { return tx.AddMember(ctx, Member{ws.ID, "dave", "owner"}) })
	wantErr(t, err, ErrInvalid, "add a member with an unknown role")
	err = s.Update(ctx, func(tx Tx) error { return tx.UpdateMember(ctx, Member{ws.ID, "mallory", RoleAdmin}) })
	wantErr(t, err, ErrNotFound, "update a non-member")
	err = s.Update(ctx, func(tx Tx) error { return tx.RemoveMember(ctx, ws.ID, "mallory") })
	wantErr(t, err, ErrNotFound, "remove a non-member")

	update(t, s, func(ctx context.Context, tx Tx) error {
		if err := tx.UpdateMember(ctx, Member{ws.ID, "alice", RoleAdmin}); err != nil {
			return err
		}
		return tx.RemoveMember(ctx, ws.ID, "carol")
	})
	if got := must(s.MemberRole(ctx, ws.ID, "alice")).get(t); got != RoleAdmin {
		t.Fatalf("alice is %q after the update", got)
	}
	_, err = s.MemberRole(ctx, ws.ID, "carol")
	wantErr(t, err, ErrNotFound, "role of a removed member")
}

func contractTables(t *testing.T, s Store) {
	ctx := testCtx(t)
	var ws Workspace
	var t1, t2, t3 Table
	update(t, s, func(ctx context.Context, tx Tx) error {
		ws = must(tx.CreateWorkspace(ctx, "w")).get(t)
		t1 = must(tx.CreateTable(ctx, Table{WorkspaceID: ws.ID, Name: "One"})).get(t)
		t2 = must(tx.CreateTable(ctx, Table{WorkspaceID: ws.ID, Name: "Two"})).get(t)
		t3 = must(tx.CreateTable(ctx, Table{WorkspaceID: ws.ID, Name: "Three", Order: 10})).get(t)
		return nil
	})
	err := s.Update(ctx, func(tx Tx) error {
		_, err := tx.CreateTable(ctx, Table{WorkspaceID: 999999, Name: "orphan"})
		return err
	})
	wantErr(t, err, ErrNotFound, "create a table in a missing workspace")
	if t1.Order != 1 || t2.Order != 2 || t3.Order != 10 || t1.WorkspaceID != ws.ID || t1.CreatedAt.IsZero() {
		t.Fatalf("created %+v %+v %+v", t1, t2, t3)
	}
	if got := must(s.Table(ctx, t2.ID)).get(t); got != t2 {
		t.Fatalf("Table = %+v, want %+v", got, t2)
	}
	update(t, s, func(ctx context.Context, tx Tx) error {
		u := must(tx.UpdateTable(ctx, Table{ID: t1.ID, Name: "Uno", Order: 5})).get(t)
		if u.Name != "Uno" || u.Order != 5 {
			t.Errorf("updated %+v", u)
		}
		u = must(tx.UpdateTable(ctx, Table{ID: t2.ID, Name: "Dos"})).get(t) // Order 0 keeps it
		if u.Name != "Dos" || u.Order != 2 {
			t.Errorf("updated %+v", u)
		}
		_, err := tx.UpdateTable(ctx, Table{ID: 999999, Name: "x"})
		wantErr(t, err, ErrNotFound, "update a missing table")
		return nil
	})
	names := []string{}
	for _, tb := range must(s.Tables(ctx, ws.ID)).get(t) {
		names = append(names, tb.Name)
	}
	if !slices.Equal(names, []string{"Dos", "Uno", "Three"}) {
		t.Fatalf("Tables in order = %v", names)
	}
	deleteOnce(t, s, "table", t3.ID, Tx.DeleteTable, s.Table)
}

func contractFields(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	if !f.name.Primary || f.name.Order != 1 || f.n.Order != 2 || f.n.Type != "number" {
		t.Fatalf("fields %+v %+v", f.name, f.n)
	}
	jsonEqual(t, f.name.Options, json.RawMessage(`{}`), "default options")
	jsonEqual(t, f.n.Options, json.RawMessage(`{"decimals":2}`), "options")
	got := must(s.Field(ctx, f.n.ID)).get(t)
	jsonEqual(t, got.Options, f.n.Options, "read options")
	got.Options, f.n.Options = nil, nil
	if !reflect.DeepEqual(got, f.n) {
		t.Fatalf("Field = %+v, want %+v", got, f.n)
	}

	err := s.Update(ctx, func(tx Tx) error {
		_, err := tx.CreateField(ctx, Field{TableID: f.table.ID, Name: "Name", Type: "text"})
		return err
	})
	wantErr(t, err, ErrConflict, "a second field named Name")
	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.CreateField(ctx, Field{TableID: f.table.ID, Name: "Other", Type: "text", Primary: true})
		return err
	})
	wantErr(t, err, ErrConflict, "a second primary field")
	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.CreateField(ctx, Field{TableID: 999999, Name: "x", Type: "text"})
		return err
	})
	wantErr(t, err, ErrNotFound, "a field of a missing table")

	var sel Field
	update(t, s, func(ctx context.Context, tx Tx) error {
		sel = must(tx.CreateField(ctx, Field{TableID: f.table.ID, Name: "Status", Type: "text", Order: 1})).get(t)
		sel.Type, sel.Name = "single_select", "State"
		sel.Options = json.RawMessage(`{"choices":[{"id":1,"value":"open"}]}`)
		sel.Order = 0
		sel = must(tx.UpdateField(ctx, sel)).get(t)
		_, err := tx.UpdateField(ctx, Field{ID: 999999, Name: "x", Type: "text"})
		wantErr(t, err, ErrNotFound, "update a missing field")
		return nil
	})
	if sel.Type != "single_select" || sel.Name != "State" || sel.Order != 1 {
		t.Fatalf("updated field %+v", sel)
	}
	jsonEqual(t, sel.Options, json.RawMessage(`{"choices":[{"id":1,"value":"open"}]}`), "updated options")
	ids := []int64{}
	for _, fl := range must(s.Fields(ctx, f.table.ID)).get(t) {
		ids = append(ids, fl.ID)
	}
	if want := []int64{f.name.ID, sel.ID, f.n.ID}; !slices.Equal(ids, want) {
		t.Fatalf("Fields in order = %v, want %v", ids, want) // (1, name) < (1, sel) by id, then 2
	}
	deleteOnce(t, s, "field", sel.ID, Tx.DeleteField, s.Field)
}

func contractViews(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	var v1, v2, v3 View
	update(t, s, func(ctx context.Context, tx Tx) error {
		v1 = must(tx.CreateView(ctx, View{TableID: f.table.ID, Name: "Grid"})).get(t)
		v2 = must(tx.CreateView(ctx, View{TableID: f.table.ID, Name: "Public", Type: "grid", FilterType: "OR",
			Filters:        json.RawMessage(`[{"field_id":` + f.nameKey + `,"type":"equal","value":"x"}]`),
			Sorts:          json.RawMessage(`[{"field_id":` + f.countKey + `,"order":"desc"}]`),
			HiddenFieldIDs: []int64{f.n.ID}, Public: true, Slug: "abc123", PasswordHash: "hash"})).get(t)
		v3 = must(tx.CreateView(ctx, View{TableID: f.table.ID, Name: "Also without slug"})).get(t)
		return nil
	})
	if v1.Type != "grid" || v1.FilterType != "AND" || v1.Order != 1 || v1.Slug != "" || v1.Public ||
		v1.HiddenFieldIDs == nil || len(v1.HiddenFieldIDs) != 0 {
		t.Fatalf("defaults: %+v", v1)
	}
	jsonEqual(t, v1.Filters, json.RawMessage(`[]`), "default filters")
	jsonEqual(t, v1.Sorts, json.RawMessage(`[]`), "default sorts")
	got := must(s.ViewBySlug(ctx, "abc123")).get(t)
	if got.ID != v2.ID || !got.Public || got.PasswordHash != "hash" || got.FilterType != "OR" ||
		!slices.Equal(got.HiddenFieldIDs, []int64{f.n.ID}) || got.Order != 2 {
		t.Fatalf("ViewBySlug = %+v", got)
	}
	jsonEqual(t, got.Filters, v2.Filters, "filters")
	jsonEqual(t, got.Sorts, v2.Sorts, "sorts")
	_, err := s.ViewBySlug(ctx, "nope")
	wantErr(t, err, ErrNotFound, "unknown slug")
	_, err = s.ViewBySlug(ctx, "")
	wantErr(t, err, ErrNotFound, "empty slug")

	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.CreateView(ctx, View{TableID: f.table.ID, Name: "dup", Public: true, Slug: "abc123"})
		return err
	})
	wantErr(t, err, ErrConflict, "a taken slug")
	err = s.Update(ctx, func(tx Tx) error {
		v3.Slug = "abc123"
		_, err := tx.UpdateView(ctx, v3)
		return err
	})
	wantErr(t, err, ErrConflict, "updating to a taken slug")

	update(t, s, func(ctx context.Context, tx Tx) error {
		v2.Public, v2.Slug, v2.PasswordHash, v2.Name = false, "", "", "Private"
		v2.HiddenFieldIDs = nil
		v2.Order = 0
		v2 = must(tx.UpdateView(ctx, v2)).get(t)
		_, err := tx.UpdateView(ctx, View{ID: 999999, Name: "x"})
		wantErr(t, err, ErrNotFound, "update a missing view")
		return nil
	})
	if v2.Public || v2.Slug != "" || v2.Name != "Private" || v2.Order != 2 || len(v2.HiddenFieldIDs) != 0 {
		t.Fatalf("updated view %+v", v2)
	}
	_, err = s.ViewBySlug(ctx, "abc123")
	wantErr(t, err, ErrNotFound, "a released slug")
	if got := must(s.View(ctx, v3.ID)).get(t); got.Name != v3.Name {
		t.Fatalf("View = %+v", got)
	}
	if vs := must(s.Views(ctx, f.table.ID)).get(t); len(vs) != 3 || vs[0].ID != v1.ID || vs[2].ID != v3.ID {
		t.Fatalf("Views = %+v", vs)
	}
	deleteOnce(t, s, "view", v1.ID, Tx.DeleteView, s.View)
}

func contractCascadeDeletes(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	row := insertRows(t, s, f.table.ID, 0, `{}`).Rows[0]
	var view View
	var t2 Table
	update(t, s, func(ctx context.Context, tx Tx) error {
		view = must(tx.CreateView(ctx, View{TableID: f.table.ID, Name: "v", Public: true, Slug: "cascade"})).get(t)
		t2 = must(tx.CreateTable(ctx, Table{WorkspaceID: f.ws.ID, Name: "Second"})).get(t)
		if err := tx.AddMember(ctx, Member{f.ws.ID, "alice", RoleAdmin}); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, TableStream(f.table.ID), "rows_created", json.RawMessage(`{}`))
		return err
	})
	// Deleting the table takes its fields, rows and views; its events stay.
	update(t, s, func(ctx context.Context, tx Tx) error { return tx.DeleteTable(ctx, f.table.ID) })
	_, err := s.Field(ctx, f.name.ID)
	wantErr(t, err, ErrNotFound, "field of a deleted table")
	_, err = s.Row(ctx, f.table.ID, row.ID)
	wantErr(t, err, ErrNotFound, "row of a deleted table")
	_, err = s.ViewBySlug(ctx, "cascade")
	wantErr(t, err, ErrNotFound, "view of a deleted table")
	if evs := must(s.Events(ctx, TableStream(f.table.ID), 0, 10)).get(t); len(evs) != 1 {
		t.Fatalf("a deleted table's events: %v", evs)
	}
	// Deleting the workspace takes its tables and members.
	update(t, s, func(ctx context.Context, tx Tx) error { return tx.DeleteWorkspace(ctx, f.ws.ID) })
	_, err = s.Table(ctx, t2.ID)
	wantErr(t, err, ErrNotFound, "table of a deleted workspace")
	_, err = s.MemberRole(ctx, f.ws.ID, "alice")
	wantErr(t, err, ErrNotFound, "member of a deleted workspace")
	_, err = s.View(ctx, view.ID)
	wantErr(t, err, ErrNotFound, "view of a deleted workspace")
}

// On every engine, a statement that fails (here a unique violation) aborts
// the transaction, as PostgreSQL does: later statements fail, and the
// transaction rolls back even if the function swallows the error. A read that
// finds nothing is not a failure.
// contractConcurrentWriters: many goroutines, each running many transactions
// that update a row and append an event to the same table (a few of them
// rolling back on purpose), produce offsets 1..N with no gap and no
// duplicate, and the outbox holds them in order.
