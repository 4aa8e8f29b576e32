package service_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

func TestSubmit(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		t.Run("concurrent", func(t *testing.T) { testSubmitConcurrent(t, newFixture(t, open(t), service.Config{})) })
		t.Run("bad_input", func(t *testing.T) { testSubmitBadInput(t, newFixture(t, open(t), service.Config{})) })
		t.Run("lifecycle", func(t *testing.T) { testSubmitLifecycle(t, newFixture(t, open(t), service.Config{})) })
		t.Run("permissions", func(t *testing.T) { testSubmitPermissions(t, newFixture(t, open(t), service.Config{})) })
		t.Run("schema_docs", func(t *testing.T) { testSubmitSchemaDocs(t, newFixture(t, open(t), service.Config{})) })
	})
}

func (fx *fixture) records() string { return event.RecordCollection(fx.tbl.ID) }

// rowOp is a submission of a json0 op on a row at version v.
func (fx *fixture) rowOp(rowID, v int64, src string, seq uint64, op string) event.Submission {
	return event.Submission{Collection: fx.records(), DocID: rowID, V: v, HasV: true, Op: json.RawMessage(op), Src: src, Seq: seq}
}

func (fx *fixture) row(id int64) event.Row {
	fx.t.Helper()
	return ok(fx.svc.GetRow(fx.ctx, fx.admin, fx.tbl.ID, id))(fx.t)
}

func (fx *fixture) cell(r event.Row, name string) string { return string(r.Fields[fx.f[name].ID]) }

func testSubmitConcurrent(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"ac"`), 0))(t)
	name := fx.id("Name")
	// Two clients hold version 1; both insert into the name.
	a := ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "A", 1, `[{"p":["fields","`+name+`",1],"si":"b"}]`)))(t)
	if a.V != 1 || a.Transformed != 0 || a.Duplicate {
		t.Fatalf("first submit = %+v", a)
	}
	top := fx.top(fx.tableStream())
	b := ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "B", 1, `[{"p":["fields","`+name+`",2],"si":"d"}]`)))(t)
	if b.V != 2 || b.Transformed != 1 || b.Offset != top+1 {
		t.Fatalf("stale submit = %+v (top was %d)", b, top)
	}
	// What B had not seen: A's op at version 1.
	if len(b.Missed) != 1 || b.Missed[0].V != 1 || !jsonSame(b.Missed[0].Change, `{"op":[{"p":["fields","`+name+`",1],"si":"b"}]}`) {
		t.Fatalf("missed = %+v", b.Missed)
	}
	got := fx.row(r.ID)
	if fx.cell(got, "Name") != `"abcd"` || got.Version != 3 {
		t.Fatalf("after both: %s at version %d, want \"abcd\" at 3", fx.cell(got, "Name"), got.Version)
	}
	// The event carries the op as applied (transformed), and the op log too.
	ev := decode[event.RowsUpdated](t, fx.events(fx.tableStream(), top)[0])
	if string(ev.Op) != `[{"p":["fields","`+name+`",3],"si":"d"}]` || ev.Src != "B" || ev.Seq != 1 {
		t.Errorf("event op %s src %q seq %d", ev.Op, ev.Src, ev.Seq)
	}
	logged := ok(fx.st.DocOps(ctx, fx.records(), r.ID, 0, 10))(t)
	if len(logged) != 3 || logged[0].Version != 0 || logged[2].Version != 2 || logged[2].Src != "B" {
		t.Fatalf("op log = %+v", logged)
	}
	// A REST write is logged as od/oi, and a stale op transforms against it.
	ok(fx.svc.UpdateRow(ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: r.ID, Fields: fx.fields("Notes", `"n"`)}))(t)
	c := ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 3, "C", 1, `[{"p":["fields","`+name+`",0],"si":">"}]`)))(t)
	if c.V != 4 || c.Transformed != 1 {
		t.Fatalf("submit after REST = %+v", c)
	}
	got = fx.row(r.ID)
	if fx.cell(got, "Name") != `">abcd"` || fx.cell(got, "Notes") != `"n"` || got.Version != 5 {
		t.Fatalf("after REST + op: %s %s v%d", fx.cell(got, "Name"), fx.cell(got, "Notes"), got.Version)
	}
	// Resent (same src and seq, same v): acknowledged, not applied again.
	d := ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "B", 1, `[{"p":["fields","`+name+`",2],"si":"d"}]`)))(t)
	if !d.Duplicate || d.V != 2 {
		t.Fatalf("resent = %+v, want a duplicate applied at 2", d)
	}
	if got := fx.row(r.ID); got.Version != 5 || fx.cell(got, "Name") != `">abcd"` {
		t.Fatalf("resent op applied again: %+v", got)
	}
	// The seed's form has no version: it applies to the current one.
	seed := event.Submission{Collection: fx.records(), DocID: r.ID, Op: json.RawMessage(`[{"p":["fields","` + fx.id("Done") + `"],"t":"string","o":true}]`)}
	if e := ok(fx.svc.Submit(ctx, fx.admin, seed))(t); e.V != 5 {
		t.Fatalf("seed form applied at %d, want 5", e.V)
	}
	if got := fx.row(r.ID); fx.cell(got, "Done") != "true" {
		t.Fatalf("seed form set Done to %s", fx.cell(got, "Done"))
	}
	// Its op, as logged and sent, is a plain od/oi.
	if logged := ok(fx.st.DocOps(ctx, fx.records(), r.ID, 5, 1))(t); string(logged[0].Op) != `{"op":[{"p":["fields","`+fx.id("Done")+`"],"od":false,"oi":true}]}` &&
		!jsonSame(logged[0].Op, `{"op":[{"p":["fields","`+fx.id("Done")+`"],"od":false,"oi":true}]}`) {
		t.Errorf("seed form logged as %s", logged[0].Op)
	}
	// Moving a row through its order.
	got = fx.row(r.ID)
	mv := fx.rowOp(r.ID, got.Version, "", 0, `[{"p":["order"],"od":`+strconv.Quote(got.Order)+`,"oi":"42.00000000000000000000"}]`)
	ok(fx.svc.Submit(ctx, fx.admin, mv))(t)
	if got := fx.row(r.ID); got.Order != "42.00000000000000000000" {
		t.Fatalf("order after the op: %s", got.Order)
	}
}

func testSubmitBadInput(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"x"`, "Price", `"2.00"`, "Tags", `["a"]`), 0))(t)
	id := func(n string) string { return fx.id(n) }
	big := "["
	for i := 0; i <= service.MaxOpComponents; i++ {
		if i > 0 {
			big += ","
		}
		big += `{"p":["fields","` + id("Done") + `"],"na":1}`
	}
	big += "]"
	cases := []struct {
		name, op, key string
	}{
		{"unknown field", `[{"p":["fields","999999"],"oi":"x"}]`, "op[0].p"},
		{"path outside fields", `[{"p":["id"],"od":1,"oi":2}]`, "op[0].p"},
		{"fields replaced whole", `[{"p":["fields"],"od":{},"oi":{}}]`, "op[0].p"},
		{"od does not match", `[{"p":["fields","` + id("Name") + `"],"od":"y","oi":"z"}]`, "op"},
		{"li on a non-list", `[{"p":["fields","` + id("Name") + `",0],"li":"z"}]`, "op"},
		{"na on a non-number", `[{"p":["fields","` + id("Name") + `"],"na":1}]`, "op"},
		{"path that does not exist", `[{"p":["fields","` + id("Notes") + `","deep"],"oi":1}]`, "op"},
		{"malformed component", `[{"p":["fields","` + id("Name") + `"],"oi":"a","li":"b"}]`, "op"},
		{"not a list", `{"p":[]}`, "op"},
		{"too large", big, "op"},
		{"no form of a boolean", `[{"p":["fields","` + id("Done") + `"],"od":false,"oi":"maybe"}]`, "fields." + id("Done")},
		{"no form of a number", `[{"p":["fields","` + id("Price") + `"],"oi":"2,5"}]`, "fields." + id("Price")},
		{"a number too precise", `[{"p":["fields","` + id("Price") + `"],"oi":1234567890123456}]`, "fields." + id("Price")},
		{"unknown choice", `[{"p":["fields","` + id("Tags") + `",1],"li":"zz"}]`, "fields." + id("Tags")},
		{"cell removed", `[{"p":["fields","` + id("Name") + `"],"od":"x"}]`, "fields." + id("Name")},
		{"bad order", `[{"p":["order"],"od":` + strconv.Quote(r.Order) + `,"oi":"1.5"}]`, "order"},
	}
	top := fx.top(fx.tableStream())
	for _, tc := range cases {
		_, err := fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "", 0, tc.op))
		var ve *table.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: error %v, want a validation error", tc.name, err)
			continue
		}
		if _, has := ve.Details[tc.key]; !has {
			t.Errorf("%s: details %v, want key %q", tc.name, ve.Details, tc.key)
		}
	}
	// Version ahead.
	_, err := fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 7, "", 0, `[]`))
	if !errors.Is(err, event.ErrConflict) || !errors.Is(err, event.ErrVersionAhead) {
		t.Errorf("v ahead: %v", err)
	}
	// Nothing changed.
	if got := fx.row(r.ID); got.Version != 1 || fx.top(fx.tableStream()) != top {
		t.Fatalf("bad input changed something: version %d, top %d (was %d)", got.Version, fx.top(fx.tableStream()), top)
	}
	for name, sub := range map[string]event.Submission{
		"collection":   {Collection: "table_1", DocID: 1, Del: true},
		"no table":     {Collection: "record_x", DocID: 1, Del: true},
		"no document":  {Collection: fx.records(), DocID: 0, Del: true},
		"two changes":  {Collection: fx.records(), DocID: r.ID, Del: true, Op: json.RawMessage(`[]`)},
		"no change":    {Collection: fx.records(), DocID: r.ID},
		"field create": {Collection: event.FieldCollection(fx.tbl.ID), DocID: 99, Create: json.RawMessage(`{}`)},
		"create junk":  {Collection: fx.records(), DocID: r.ID + 100, Create: json.RawMessage(`{"nope":1}`)},
		"create value": {Collection: fx.records(), DocID: r.ID + 100, Create: json.RawMessage(`{"fields":{"` + id("Done") + `":"x"}}`)},
	} {
		_, err := fx.svc.Submit(ctx, fx.admin, sub)
		var ve *table.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: error %v, want a validation error", name, err)
		}
	}
}

func testSubmitLifecycle(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	col := fx.records()
	other := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, nil, 0))(t)
	id := other.ID + 5000
	create := event.Submission{Collection: col, DocID: id, Create: json.RawMessage(`{"fields":{"` + fx.id("Name") + `":"new"}}`), Src: "S", Seq: 1}
	res := ok(fx.svc.Submit(ctx, fx.admin, create))(t)
	if res.V != 0 || res.Duplicate {
		t.Fatalf("create = %+v", res)
	}
	got := fx.row(id)
	if fx.cell(got, "Name") != `"new"` || got.Version != 1 || fx.cell(got, "Tags") != "[]" {
		t.Fatalf("created row %+v", got)
	}
	// Resent: acknowledged; another create of it: exists.
	if r := ok(fx.svc.Submit(ctx, fx.admin, create))(t); !r.Duplicate {
		t.Fatalf("resent create = %+v", r)
	}
	create.Seq = 2
	_, err := fx.svc.Submit(ctx, fx.admin, create)
	if !errors.Is(err, event.ErrDocExists) {
		t.Fatalf("second create: %v", err)
	}
	// An id in use by a row of the table is taken.
	_, err = fx.svc.Submit(ctx, fx.admin, event.Submission{Collection: col, DocID: other.ID, Create: json.RawMessage(`{}`)})
	if !errors.Is(err, event.ErrDocExists) {
		t.Fatalf("create over another row: %v", err)
	}
	// Delete, then an op or a create on it: deleted.
	ok(fx.svc.Submit(ctx, fx.admin, event.Submission{Collection: col, DocID: id, V: 1, HasV: true, Del: true}))(t)
	if _, err := fx.svc.GetRow(ctx, fx.admin, fx.tbl.ID, id); !errors.Is(err, event.ErrNotFound) {
		t.Fatalf("row after delete: %v", err)
	}
	_, err = fx.svc.Submit(ctx, fx.admin, fx.rowOp(id, 1, "", 0, `[]`))
	if !errors.Is(err, event.ErrDocDeleted) {
		t.Errorf("op on a deleted row: %v", err)
	}
	create.Seq = 3
	_, err = fx.svc.Submit(ctx, fx.admin, create)
	if !errors.Is(err, event.ErrDocDeleted) {
		t.Errorf("create of a deleted row: %v", err)
	}
	_, err = fx.svc.Submit(ctx, fx.admin, fx.rowOp(id+1, 0, "", 0, `[]`))
	if !errors.Is(err, event.ErrNotFound) {
		t.Errorf("op on a row that never was: %v", err)
	}
}

func testSubmitPermissions(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, nil, 0))(t)
	ok(fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "vera", Role: store.RoleViewer}))(t)
	ok(fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "ed", Role: store.RoleEditor}))(t)
	op := fx.rowOp(r.ID, 1, "", 0, `[{"p":["fields","`+fx.id("Done")+`"],"od":false,"oi":true}]`)
	_, err := fx.svc.Submit(ctx, service.Actor{UserID: "vera"}, op)
	wantErr(t, err, event.ErrForbidden)
	_, err = fx.svc.Submit(ctx, service.Actor{UserID: "mallory"}, op)
	wantErr(t, err, event.ErrNotFound)
	// A stranger cannot tell a table that exists from one that does not.
	_, err2 := fx.svc.Submit(ctx, service.Actor{UserID: "mallory"}, event.Submission{Collection: "record_987654", DocID: 1, Op: json.RawMessage(`[]`)})
	if !errors.Is(err2, event.ErrNotFound) {
		t.Errorf("stranger on a missing table: %v", err2)
	}
	ok(fx.svc.Submit(ctx, service.Actor{UserID: "ed"}, op))(t)
	if got := fx.row(r.ID); fx.cell(got, "Done") != "true" {
		t.Fatalf("editor's op not applied: %+v", got)
	}
}

func testSubmitSchemaDocs(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	fcol := event.FieldCollection(fx.tbl.ID)
	notes := fx.f["Notes"]
	rename := func(v int64, from, to, src string) event.Submission {
		return event.Submission{Collection: fcol, DocID: notes.ID, V: v, HasV: true, Src: src, Seq: 1,
			Op: json.RawMessage(fmt.Sprintf(`[{"p":["name"],"od":%q,"oi":%q}]`, from, to))}
	}
	top := fx.top(fx.tableStream())
	ok(fx.svc.Submit(ctx, fx.admin, rename(1, "Notes", "Remarks", "A")))(t)
	ev := decode[event.FieldUpdated](t, fx.onlyEvent(fx.tableStream(), top, event.EventFieldUpdated))
	if ev.Field.Name != "Remarks" || ev.Field.Version != 2 || len(ev.Op) == 0 {
		t.Fatalf("field_updated = %+v", ev)
	}
	// A stale rename of the same property: transformed (json0: the later
	// one wins on the server when both replace the same key from the
	// left).
	res, err := fx.svc.Submit(ctx, fx.admin, rename(1, "Notes", "Comments", "B"))
	if err != nil || res.Transformed != 1 {
		t.Fatalf("stale rename: %+v %v", res, err)
	}
	fields := ok(fx.svc.ListFields(ctx, fx.admin, fx.tbl.ID))(t)
	var now table.Field
	for _, f := range fields {
		if f.ID == notes.ID {
			now = f
		}
	}
	if now.Version != 3 {
		t.Fatalf("field after two renames: %+v", now)
	}
	// A type change the server would complete (number options): refused,
	// nothing stored.
	_, err = fx.svc.Submit(ctx, fx.admin, event.Submission{Collection: fcol, DocID: notes.ID, V: 3, HasV: true,
		Op: json.RawMessage(`[{"p":["type"],"od":"long_text","oi":"number"}]`)})
	var ve *table.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("type change by op: %v, want a validation error", err)
	}
	// Views: filters change by op; publishing is REST-only.
	view := ok(fx.svc.CreateView(ctx, fx.admin, fx.tbl.ID, service.ViewInput{Name: "Grid"}))(t)
	vcol := event.ViewCollection(fx.tbl.ID)
	filters := fmt.Sprintf(`[{"field_id":%d,"type":"equal","value":"x"}]`, fx.f["Name"].ID)
	ok(fx.svc.Submit(ctx, fx.admin, event.Submission{Collection: vcol, DocID: view.ID, V: 1, HasV: true,
		Op: json.RawMessage(`[{"p":["filters"],"od":[],"oi":` + filters + `}]`)}))(t)
	views := ok(fx.svc.ListViews(ctx, fx.admin, fx.tbl.ID))(t)
	if len(views[0].Filters) != 1 || views[0].Version != 2 {
		t.Fatalf("view after op: %+v", views[0])
	}
	_, err = fx.svc.Submit(ctx, fx.admin, event.Submission{Collection: vcol, DocID: view.ID, V: 2, HasV: true,
		Op: json.RawMessage(`[{"p":["public"],"od":false,"oi":true}]`)})
	if !errors.As(err, &ve) {
		t.Fatalf("publishing by op: %v, want a validation error", err)
	}
	// Delete a view by submit.
	ok(fx.svc.Submit(ctx, fx.admin, event.Submission{Collection: vcol, DocID: view.ID, V: 2, HasV: true, Del: true}))(t)
	if views := ok(fx.svc.ListViews(ctx, fx.admin, fx.tbl.ID))(t); len(views) != 0 {
		t.Fatalf("views after delete: %+v", views)
	}
}

func jsonSame(a json.RawMessage, b string) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal([]byte(b), &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}
