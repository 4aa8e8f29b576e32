package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// brFixture is a workspace of "owner" with a table of four fields: the
// primary text Name, Status (text), Secret (text) and Amount (number, 2
// decimals).
type brFixture struct {
	tn                           *testNode
	ws, tbl                      int64
	name, status, secret, amount int64
}

func newBrFixture(t *testing.T, tn *testNode) *brFixture {
	t.Helper()
	f := &brFixture{tn: tn}
	f.ws, f.tbl, f.name = tableFixture(t, tn)
	f.status = f.field(t, map[string]any{"name": "Status", "type": "text"})
	f.secret = f.field(t, map[string]any{"name": "Secret", "type": "text"})
	f.amount = f.field(t, map[string]any{"name": "Amount", "type": "number", "options": map[string]any{"decimals": 2}})
	return f
}

func (f *brFixture) field(t *testing.T, body map[string]any) int64 {
	t.Helper()
	var out struct{ ID int64 }
	f.tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/fields", f.tbl), body, "", &out)
	return out.ID
}

// restRow is a row as the REST API answers it.
type restRow struct {
	ID      int64                      `json:"id"`
	Order   string                     `json:"order"`
	Version int64                      `json:"version"`
	Fields  map[string]json.RawMessage `json:"fields"`
}

// shape is the row in Baserow's shape, every field. A number, which REST
// answers as a JSON number, is Baserow's decimal string: the fixture's one
// number field (Amount) has 2 decimals, and it has no select.
func (r restRow) shape() map[string]any {
	out := map[string]any{"id": r.ID, "order": r.Order}
	for k, v := range r.Fields {
		out["field_"+k] = baserowNumber(v)
	}
	return out
}

// baserowNumber writes a bare JSON number as a decimal string with 2
// decimals ("1.50"), as the Baserow dialect sends the fixture's numbers.
func baserowNumber(v json.RawMessage) any {
	var f float64
	if len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) && json.Unmarshal(v, &f) == nil {
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	return v
}

func cells(vals map[int64]any) map[string]any {
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		out[strconv.FormatInt(k, 10)] = v
	}
	return out
}

// createRow creates a row through REST, from the socket wsID when given.
func (f *brFixture) createRow(t *testing.T, vals map[int64]any, wsID string) restRow {
	t.Helper()
	var r restRow
	f.tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", f.tbl), map[string]any{"fields": cells(vals)}, wsID, &r)
	return r
}

func (f *brFixture) patchRow(t *testing.T, id int64, vals map[int64]any, wsID string) restRow {
	t.Helper()
	var r restRow
	f.tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d/rows/%d", f.tbl, id), map[string]any{"fields": cells(vals)}, wsID, &r)
	return r
}

func (f *brFixture) deleteRow(t *testing.T, id int64) {
	t.Helper()
	if st := f.tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/tables/%d/rows/%d", f.tbl, id), nil, "", nil); st != 204 {
		t.Fatalf("delete row %d: %d", id, st)
	}
}

// top is the table stream's offset now (a row listing's "offset").
func (f *brFixture) top(t *testing.T) uint64 {
	t.Helper()
	var page struct{ Offset uint64 }
	f.tn.restAs(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/rows?limit=1", f.tbl), nil, "", &page)
	return page.Offset
}

// expectEvent reads the next message, checks that it is typ with
// _event_id the table's offset now, and that its members other than type
// and _event_id are want (compared as JSON).
func (f *brFixture) expectEvent(t *testing.T, c *brConn, typ string, want map[string]any) brMsg {
	t.Helper()
	m := c.expect(typ)
	if id, top := m.eventID(t), f.top(t); id != top {
		t.Errorf("%s: _event_id %d; want the table's offset %d", typ, id, top)
	}
	got := map[string]json.RawMessage{}
	for k, v := range m.M {
		if k != "type" && k != "_event_id" {
			got[k] = v
		}
	}
	if !jsonEqual(t, mustJSON(t, got), want) {
		t.Fatalf("%s:\n got  %s\n want %s", typ, mustJSON(t, got), mustJSON(t, want))
	}
	return m
}

// TestBaserowEvents: every row of the spec's events table, as a table
// page receives it, _event_id included; the socket named by the
// request's WebSocketId header is left out.
func TestBaserowEvents(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		reader := tn.brUser(t, "owner")
		writer := tn.brUser(t, "owner")
		reader.tablePage(f.tbl)
		writer.tablePage(f.tbl)
		T := f.tbl
		run := subtests(t, reader, writer)

		first := f.createRow(t, map[int64]any{f.name: "first"}, writer.wsID)
		f.expectEvent(t, reader, "rows_created", map[string]any{
			"table_id": T, "rows": []any{first.shape()}, "metadata": map[string]any{}, "before_row_id": nil})

		run("rows_created", func(t *testing.T) {
			var r restRow
			tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows?before=%d", T, first.ID),
				map[string]any{"fields": cells(map[int64]any{f.name: "before first", f.amount: "1.5"})}, writer.wsID, &r)
			f.expectEvent(t, reader, "rows_created", map[string]any{
				"table_id": T, "rows": []any{r.shape()}, "metadata": map[string]any{}, "before_row_id": first.ID})
		})
		run("rows_updated", func(t *testing.T) {
			after := f.patchRow(t, first.ID, map[int64]any{f.status: "open"}, writer.wsID)
			f.expectEvent(t, reader, "rows_updated", map[string]any{
				"table_id": T, "rows_before_update": []any{first.shape()}, "rows": []any{after.shape()},
				"metadata": map[string]any{}, "updated_field_ids": []int64{f.status}})
			first = after
		})
		run("rows_deleted", func(t *testing.T) {
			r := f.createRow(t, map[int64]any{f.name: "doomed"}, writer.wsID)
			reader.expect("rows_created")
			tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/tables/%d/rows/%d", T, r.ID), nil, writer.wsID, nil)
			f.expectEvent(t, reader, "rows_deleted", map[string]any{"table_id": T, "row_ids": []int64{r.ID}, "rows": []any{r.shape()}})
		})
		var fieldID int64
		run("field_created", func(t *testing.T) {
			var fld struct {
				ID    int64
				Order int
			}
			tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/fields", T),
				map[string]any{"name": "Due", "type": "date", "options": map[string]any{"include_time": true}}, writer.wsID, &fld)
			fieldID = fld.ID
			f.expectEvent(t, reader, "field_created", map[string]any{
				"field": map[string]any{"id": fld.ID, "table_id": T, "name": "Due", "type": "date", "order": fld.Order,
					"primary": false, "date_include_time": true},
				"related_fields": []any{}})
		})
		run("field_updated", func(t *testing.T) {
			var fld struct{ Order int }
			tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/fields/%d", fieldID), map[string]any{"name": "Deadline"}, writer.wsID, &fld)
			f.expectEvent(t, reader, "field_updated", map[string]any{
				"field_id": fieldID,
				"field": map[string]any{"id": fieldID, "table_id": T, "name": "Deadline", "type": "date", "order": fld.Order,
					"primary": false, "date_include_time": true},
				"related_fields": []any{}})
		})
		run("field_deleted", func(t *testing.T) {
			tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/fields/%d", fieldID), nil, writer.wsID, nil)
			f.expectEvent(t, reader, "field_deleted", map[string]any{"table_id": T, "field_id": fieldID, "related_fields": []any{}})
		})
		var viewID int64
		var slug string
		run("view_created", func(t *testing.T) {
			var v struct {
				ID    int64
				Order int
				Slug  string
			}
			tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/views", T), map[string]any{
				"name": "Open ones", "filter_type": "OR",
				"filters":          []any{map[string]any{"field_id": f.status, "type": "equal", "value": "open"}},
				"sorts":            []any{map[string]any{"field_id": f.amount, "order": "desc"}},
				"hidden_field_ids": []int64{f.secret}, "public": true,
			}, writer.wsID, &v)
			viewID, slug = v.ID, v.Slug
			f.expectEvent(t, reader, "view_created", map[string]any{"view": map[string]any{
				"id": v.ID, "table_id": T, "name": "Open ones", "type": "grid", "order": v.Order, "filter_type": "OR",
				"filters":  []any{map[string]any{"view": v.ID, "field": f.status, "type": "equal", "value": "open"}},
				"sortings": []any{map[string]any{"view": v.ID, "field": f.amount, "order": "DESC"}},
				"public":   true, "slug": v.Slug, "hidden_field_ids": []int64{f.secret},
			}})
		})
		run("view_updated", func(t *testing.T) {
			var v struct{ Order int }
			tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/views/%d", viewID), map[string]any{"name": "Renamed", "sorts": []any{}}, writer.wsID, &v)
			f.expectEvent(t, reader, "view_updated", map[string]any{"view_id": viewID, "view": map[string]any{
				"id": viewID, "table_id": T, "name": "Renamed", "type": "grid", "order": v.Order, "filter_type": "OR",
				"filters":  []any{map[string]any{"view": viewID, "field": f.status, "type": "equal", "value": "open"}},
				"sortings": []any{}, "public": true, "slug": slug, "hidden_field_ids": []int64{f.secret},
			}})
		})
		run("view_deleted", func(t *testing.T) {
			tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/views/%d", viewID), nil, writer.wsID, nil)
			f.expectEvent(t, reader, "view_deleted", map[string]any{"table_id": T, "view_id": viewID})
		})
		run("table_updated", func(t *testing.T) {
			var tb struct{ Order int }
			tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d", T), map[string]any{"name": "Jobs"}, writer.wsID, &tb)
			f.expectEvent(t, reader, "table_updated", map[string]any{"table_id": T,
				"table": map[string]any{"id": T, "name": "Jobs", "order": tb.Order, "database_id": f.ws}})
		})
		// The writer's socket saw none of the changes it made, and sees a
		// change made without its WebSocketId.
		f.patchRow(t, first.ID, map[int64]any{f.name: "by someone else"}, "")
		if m := writer.expect("rows_updated"); !strings.Contains(m.String(), "by someone else") {
			t.Fatalf("the writer's socket got %s", m)
		}
		reader.expect("rows_updated")

		run("table_deleted", func(t *testing.T) {
			top := f.top(t)
			tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/tables/%d", T), nil, writer.wsID, nil)
			m := reader.expect("table_deleted")
			if id := m.eventID(t); id != top+1 {
				t.Errorf("_event_id %d; want %d", id, top+1)
			}
			if string(m.M["table_id"]) != strconv.FormatInt(T, 10) || string(m.M["database_id"]) != strconv.FormatInt(f.ws, 10) {
				t.Fatalf("table_deleted %s; want table_id %d, database_id %d", m, T, f.ws)
			}
		})
		reader.sync()
		writer.sync()
	})
}
