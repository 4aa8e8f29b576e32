package service_test

import (
	"fmt"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// onlyEvent returns the only event of s after offset, of type typ.
func (fx *fixture) onlyEvent(s store.Stream, after uint64, typ string) store.Event {
	fx.t.Helper()
	evs := fx.events(s, after)
	if len(evs) != 1 || evs[0].Type != typ {
		fx.t.Fatalf("events of %s after %d = %v, want one %s", s, after, evs, typ)
	}
	return evs[0]
}

func wantVersion(t *testing.T, what string, got, want int64) {
	t.Helper()
	if got != want {
		t.Errorf("%s: version %d, want %d", what, got, want)
	}
}

// testVersions: tables, fields and views carry their stored version in what
// the service returns and in every event: 1 when created, +1 on each update,
// the last one when deleted; a field or view changed as a consequence of
// another change (the former primary field, views reconciled with a field)
// carries its new version, and views_before the version it had.
func testVersions(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	ws, ts := store.WorkspaceStream(fx.ws.ID), fx.tableStream()

	// Created: 1, in the answer and in table_created.
	wantVersion(t, "created table", fx.tbl.Version, 1)
	for _, f := range fx.tbl.Fields {
		wantVersion(t, "created field "+f.Name, f.Version, 1)
	}
	wevs := fx.events(ws, 0)
	tc := decode[event.TableCreated](t, wevs[len(wevs)-1])
	wantVersion(t, "table_created table", tc.Table.Version, 1)
	for _, f := range tc.Fields {
		wantVersion(t, "table_created field "+f.Name, f.Version, 1)
	}

	// A table update: +1.
	top := fx.top(ws)
	name := "Jobs"
	tbl := ok(fx.svc.UpdateTable(ctx, fx.admin, fx.tbl.ID, service.TablePatch{Name: &name}))(t)
	wantVersion(t, "updated table", tbl.Version, 2)
	tu := decode[event.TableUpdated](t, fx.onlyEvent(ws, top, event.EventTableUpdated))
	wantVersion(t, "table_updated table", tu.Table.Version, 2)
	wantVersion(t, "table_updated table_before", tu.TableBefore.Version, 1)
	wantVersion(t, "GetTable", ok(fx.svc.GetTable(ctx, fx.admin, fx.tbl.ID))(t).Version, 2)
	wantVersion(t, "ListTables", ok(fx.svc.ListTables(ctx, fx.admin, fx.ws.ID))(t)[0].Version, 2)

	// Views: created at 1, +1 on update.
	price, colour := fx.f["Price"], fx.f["Colour"]
	green := colour.Options.Choices[1]
	top = fx.top(ts)
	cheap := ok(fx.svc.CreateView(ctx, fx.admin, fx.tbl.ID, service.ViewInput{
		Name: "Cheap", Filters: []table.Filter{{FieldID: price.ID, Type: "lower_than", Value: "10"}},
		HiddenFieldIDs: []int64{price.ID},
	}))(t)
	wantVersion(t, "created view", cheap.Version, 1)
	vc := decode[event.ViewCreated](t, fx.onlyEvent(ts, top, event.EventViewCreated))
	wantVersion(t, "view_created view", vc.View.Version, 1)
	greens := ok(fx.svc.CreateView(ctx, fx.admin, fx.tbl.ID, service.ViewInput{
		Name: "Greens", Filters: []table.Filter{{FieldID: colour.ID, Type: "single_select_equal", Value: table.FilterValue(fmt.Sprint(green.ID))}},
	}))(t)
	top = fx.top(ts)
	renamed := "Cheap ones"
	cheap = ok(fx.svc.UpdateView(ctx, fx.admin, cheap.ID, service.ViewPatch{Name: &renamed}))(t)
	wantVersion(t, "updated view", cheap.Version, 2)
	vu := decode[event.ViewUpdated](t, fx.onlyEvent(ts, top, event.EventViewUpdated))
	wantVersion(t, "view_updated view", vu.View.Version, 2)
	wantVersion(t, "view_updated view_before", vu.ViewBefore.Version, 1)

	// A field update: +1, and nothing else changes.
	top = fx.top(ts)
	notesName := "Remarks"
	notes := ok(fx.svc.UpdateField(ctx, fx.admin, fx.f["Notes"].ID, service.FieldPatch{Name: &notesName}))(t)
	wantVersion(t, "updated field", notes.Version, 2)
	fu := decode[event.FieldUpdated](t, fx.onlyEvent(ts, top, event.EventFieldUpdated))
	wantVersion(t, "field_updated field", fu.Field.Version, 2)
	wantVersion(t, "field_updated field_before", fu.FieldBefore.Version, 1)
	if len(fu.RelatedFields) != 0 || len(fu.ViewsChanged) != 0 || fu.ViewsBefore == nil || len(fu.ViewsBefore) != 0 {
		t.Errorf("a rename changed other things: %+v", fu)
	}

	// Another field becomes primary: the former primary field steps down,
	// through the store, and carries its new version.
	top = fx.top(ts)
	yes := true
	done := ok(fx.svc.UpdateField(ctx, fx.admin, fx.f["Done"].ID, service.FieldPatch{Primary: &yes}))(t)
	wantVersion(t, "field made primary", done.Version, 2)
	fu = decode[event.FieldUpdated](t, fx.onlyEvent(ts, top, event.EventFieldUpdated))
	wantVersion(t, "field_updated field made primary", fu.Field.Version, 2)
	if len(fu.RelatedFields) != 1 || fu.RelatedFields[0].ID != fx.f["Name"].ID || fu.RelatedFields[0].Primary {
		t.Fatalf("related fields = %+v", fu.RelatedFields)
	}
	wantVersion(t, "related field (the former primary)", fu.RelatedFields[0].Version, 2)
	for _, f := range ok(fx.svc.ListFields(ctx, fx.admin, fx.tbl.ID))(t) {
		want := map[bool]int64{true: 2, false: 1}[f.ID == fx.f["Name"].ID || f.ID == fx.f["Done"].ID || f.ID == notes.ID]
		wantVersion(t, "ListFields "+f.Name, f.Version, want)
	}

	// A field change that rewrites a view: views_changed at the new version,
	// views_before at the old one.
	top = fx.top(ts)
	keep := []table.Choice{colour.Options.Choices[0]}
	colourAfter := ok(fx.svc.UpdateField(ctx, fx.admin, colour.ID, service.FieldPatch{Options: &service.FieldOptionsInput{Choices: &keep}}))(t)
	wantVersion(t, "select field with a choice removed", colourAfter.Version, 2)
	evs := fx.events(ts, top)
	if len(evs) == 0 || evs[0].Type != event.EventFieldUpdated {
		t.Fatalf("events = %v", evs)
	}
	fu = decode[event.FieldUpdated](t, evs[0])
	if len(fu.ViewsChanged) != 1 || fu.ViewsChanged[0].ID != greens.ID || len(fu.ViewsChanged[0].Filters) != 0 {
		t.Fatalf("views changed = %+v", fu.ViewsChanged)
	}
	wantVersion(t, "views_changed view", fu.ViewsChanged[0].Version, 2)
	if len(fu.ViewsBefore) != 1 || fu.ViewsBefore[0].ID != greens.ID || len(fu.ViewsBefore[0].Filters) != 1 {
		t.Fatalf("views before = %+v", fu.ViewsBefore)
	}
	wantVersion(t, "views_before view", fu.ViewsBefore[0].Version, 1)

	// A field deletion: the field with its last version, the views it
	// rewrote at their new versions.
	top = fx.top(ts)
	if err := fx.svc.DeleteField(ctx, fx.admin, price.ID); err != nil {
		t.Fatal(err)
	}
	fd := decode[event.FieldDeleted](t, fx.onlyEvent(ts, top, event.EventFieldDeleted))
	wantVersion(t, "field_deleted field", fd.Field.Version, 1)
	if len(fd.ViewsChanged) != 1 || fd.ViewsChanged[0].ID != cheap.ID || len(fd.ViewsBefore) != 1 || fd.ViewsBefore[0].ID != cheap.ID {
		t.Fatalf("field_deleted views = %+v, before %+v", fd.ViewsChanged, fd.ViewsBefore)
	}
	wantVersion(t, "field_deleted views_changed", fd.ViewsChanged[0].Version, 3)
	wantVersion(t, "field_deleted views_before", fd.ViewsBefore[0].Version, 2)
	if len(fd.ViewsBefore[0].HiddenFieldIDs) != 1 || len(fd.ViewsChanged[0].HiddenFieldIDs) != 0 {
		t.Errorf("views_before should hide the field, views_changed not: %+v / %+v", fd.ViewsBefore[0], fd.ViewsChanged[0])
	}
	for _, v := range ok(fx.svc.ListViews(ctx, fx.admin, fx.tbl.ID))(t) {
		want := map[int64]int64{cheap.ID: 3, greens.ID: 2}[v.ID]
		wantVersion(t, "ListViews "+v.Name, v.Version, want)
	}

	// A view deletion: its last version.
	top = fx.top(ts)
	if err := fx.svc.DeleteView(ctx, fx.admin, cheap.ID); err != nil {
		t.Fatal(err)
	}
	vd := decode[event.ViewDeleted](t, fx.onlyEvent(ts, top, event.EventViewDeleted))
	wantVersion(t, "view_deleted view", vd.View.Version, 3)

	// A table deletion: its last version, on both streams.
	top, wtop := fx.top(ts), fx.top(ws)
	if err := fx.svc.DeleteTable(ctx, fx.admin, fx.tbl.ID); err != nil {
		t.Fatal(err)
	}
	td := decode[event.TableDeleted](t, fx.onlyEvent(ts, top, event.EventTableDeleted))
	wantVersion(t, "table_deleted (table stream)", td.Table.Version, 2)
	td = decode[event.TableDeleted](t, fx.onlyEvent(ws, wtop, event.EventTableDeleted))
	wantVersion(t, "table_deleted (workspace stream)", td.Table.Version, 2)
}
