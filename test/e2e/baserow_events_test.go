package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
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

// shape is the row in Baserow's shape, every field. A number is a
// decimal string with its field's places: the fixtures' only number
// field (Amount) has 2, so a JSON number of the REST answer is written
// with 2.
func (r restRow) shape() map[string]any {
	out := map[string]any{"id": r.ID, "order": r.Order}
	for k, v := range r.Fields {
		out["field_"+k] = v
		if t := bytes.TrimSpace(v); len(t) > 0 && (t[0] == '-' || t[0] >= '0' && t[0] <= '9') {
			if n, ok := new(big.Rat).SetString(string(t)); ok {
				out["field_"+k] = n.FloatString(2)
			}
		}
	}
	return out
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
				"field":          brDateField(fld.ID, T, f.ws, "Due", fld.Order),
				"related_fields": []any{}})
		})
		run("field_updated", func(t *testing.T) {
			var fld struct{ Order int }
			tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/fields/%d", fieldID), map[string]any{"name": "Deadline"}, writer.wsID, &fld)
			f.expectEvent(t, reader, "field_updated", map[string]any{
				"field_id":       fieldID,
				"field":          brDateField(fieldID, T, f.ws, "Deadline", fld.Order),
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
			view := brView(v.ID, T, "Open ones", v.Order, v.Slug, []int64{f.secret})
			view["filter_type"] = "OR"
			view["filters"] = []any{map[string]any{"id": v.ID*1000 + 1, "view": v.ID, "field": f.status, "type": "equal", "value": "open",
				"preload_values": map[string]any{}, "group": nil}}
			view["sortings"] = []any{map[string]any{"id": v.ID*1000 + 1, "view": v.ID, "field": f.amount, "order": "DESC", "type": "default"}}
			view["filter_groups"], view["group_bys"], view["decorations"] = []any{}, []any{}, []any{}
			f.expectEvent(t, reader, "view_created", map[string]any{"view": view})
		})
		run("view_updated", func(t *testing.T) {
			var v struct{ Order int }
			tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/views/%d", viewID), map[string]any{"name": "Renamed", "sorts": []any{}}, writer.wsID, &v)
			// Baserow's view_updated leaves filters and sortings out; the
			// sort removed has a message of its own.
			view := brView(viewID, T, "Renamed", v.Order, slug, []int64{f.secret})
			view["filter_type"] = "OR"
			f.expectEvent(t, reader, "view_updated", map[string]any{"view_id": viewID, "view": view})
			f.expectEvent(t, reader, "view_sort_deleted", map[string]any{"view_id": viewID, "view_sort_id": viewID*1000 + 1})
		})
		run("view_deleted", func(t *testing.T) {
			tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/views/%d", viewID), nil, writer.wsID, nil)
			f.expectEvent(t, reader, "view_deleted", map[string]any{"table_id": T, "view_id": viewID})
		})
		run("table_updated", func(t *testing.T) {
			var tb struct{ Order int }
			tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d", T), map[string]any{"name": "Jobs"}, writer.wsID, &tb)
			// From the workspace: every member's socket has it, without
			// _event_id (not an event of the table's stream).
			expectMembers(t, reader.expect("table_updated"), map[string]any{"table_id": T, "force_table_refresh": false,
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
			tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/tables/%d", T), nil, writer.wsID, nil)
			expectMembers(t, reader.expect("table_deleted"), map[string]any{"table_id": T, "database_id": f.ws})
		})
		reader.sync()
		writer.sync()
	})
}

// expectMembers checks that a message's members other than type are want
// (compared as JSON).
func expectMembers(t *testing.T, m brMsg, want map[string]any) {
	t.Helper()
	got := map[string]json.RawMessage{}
	for k, v := range m.M {
		if k != "type" {
			got[k] = v
		}
	}
	if !jsonEqual(t, mustJSON(t, got), want) {
		t.Fatalf("%s:\n got  %s\n want %s", m.Type, mustJSON(t, got), mustJSON(t, want))
	}
}

// brDateField is a date field with time as Baserow's field serializer
// sends it: every member Baserow's date field type reads.
func brDateField(id, tbl, ws int64, name string, order int) map[string]any {
	return map[string]any{"id": id, "table_id": tbl, "name": name, "type": "date", "order": order, "primary": false,
		"read_only": false, "immutable_type": false, "immutable_properties": false, "description": nil,
		"database_id": ws, "workspace_id": ws, "db_index": false, "field_constraints": []any{},
		"date_format": "ISO", "date_include_time": true, "date_time_format": "24", "date_show_tzinfo": false,
		"date_force_timezone": nil}
}

// brView is a grid view as Baserow's view_updated carries it (no
// filters or sortings).
func brView(id, tbl int64, name string, order int, slug string, hidden []int64) map[string]any {
	return map[string]any{"id": id, "table_id": tbl, "name": name, "type": "grid", "order": order, "filter_type": "AND",
		"filters_disabled": false, "public": true, "slug": slug, "public_view_has_password": false, "show_logo": true,
		"allow_public_export": false, "ownership_type": "collaborative", "owned_by_id": nil, "row_identifier_type": "id",
		"hidden_field_ids": hidden}
}
