package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
)

// The messages Baserow's web front end (release 1.35) reads, in the
// shapes its handlers read them: modules/database/realtime.js and the
// field and view types its handlers call.

// restField is a field as the REST API answers it.
type restField struct {
	ID      int64
	Order   int
	Options struct {
		Choices []struct {
			ID    int64  `json:"id"`
			Value string `json:"value"`
			Color string `json:"color"`
		} `json:"choices"`
	} `json:"options"`
}

func (f *brFixture) restField(t *testing.T, body map[string]any) restField {
	t.Helper()
	var out restField
	f.tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/fields", f.tbl), body, "", &out)
	return out
}

// TestBaserowCellShapes: a single select arrives as {"id","value","color"},
// a multiple select as a list of those, a number as a decimal string with
// its field's places, a date as Baserow writes it, on the table page and
// on a public view's page; field_created carries every member Baserow's
// field types read.
func TestBaserowCellShapes(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		choices := []any{map[string]any{"value": "red", "color": "light-red"}, map[string]any{"value": "blue", "color": "dark-blue"}}
		color := f.restField(t, map[string]any{"name": "Color", "type": "single_select", "options": map[string]any{"choices": choices}})
		tags := f.restField(t, map[string]any{"name": "Tags", "type": "multiple_select", "options": map[string]any{"choices": choices}})
		due := f.restField(t, map[string]any{"name": "Due", "type": "date"})
		v := f.publicView(t, map[string]any{})
		red, blue := color.Options.Choices[0], color.Options.Choices[1]
		tagRed, tagBlue := tags.Options.Choices[0], tags.Options.Choices[1]

		c := tn.brUser(t, "owner")
		c.tablePage(f.tbl)
		anon := tn.brAnon(t)
		anon.addPage("view", map[string]any{"slug": v.Slug})

		r := f.createRow(t, map[int64]any{f.name: "shapes", color.ID: red.ID, tags.ID: []int64{tagBlue.ID, tagRed.ID},
			f.amount: "3.5", due.ID: "2026-01-02"}, "")
		want := map[string]any{
			fieldKey(color.ID): map[string]any{"id": red.ID, "value": "red", "color": "light-red"},
			fieldKey(tags.ID):  []any{map[string]any{"id": tagBlue.ID, "value": "blue", "color": "dark-blue"}, map[string]any{"id": tagRed.ID, "value": "red", "color": "light-red"}},
			fieldKey(f.amount): "3.50",
			fieldKey(due.ID):   "2026-01-02",
			fieldKey(f.name):   "shapes",
			fieldKey(f.status): nil,
			fieldKey(f.secret): nil,
			"id":               r.ID,
			"order":            r.Order,
		}
		for name, conn := range map[string]*brConn{"table page": c, "public view page": anon} {
			m := conn.expect("rows_created")
			var rows []map[string]json.RawMessage
			m.decodeInto(t, "rows", &rows)
			if len(rows) != 1 || !jsonEqual(t, mustJSON(t, rows[0]), want) {
				t.Fatalf("%s: rows_created %s;\n want the row %s", name, m, mustJSON(t, want))
			}
		}

		// A select changed to another choice: rows_updated, both sides in
		// Baserow's shape.
		f.patchRow(t, r.ID, map[int64]any{color.ID: blue.ID}, "")
		m := c.expect("rows_updated")
		var before, after []map[string]json.RawMessage
		m.decodeInto(t, "rows_before_update", &before)
		m.decodeInto(t, "rows", &after)
		if !jsonEqual(t, before[0][fieldKey(color.ID)], map[string]any{"id": red.ID, "value": "red", "color": "light-red"}) ||
			!jsonEqual(t, after[0][fieldKey(color.ID)], map[string]any{"id": blue.ID, "value": "blue", "color": "dark-blue"}) {
			t.Fatalf("rows_updated %s", m)
		}
		anon.expect("rows_updated")

		// Field definitions as Baserow's field types read them.
		common := func(id int64, name, typ string, order int) map[string]any {
			return map[string]any{"id": id, "table_id": f.tbl, "name": name, "type": typ, "order": order, "primary": false,
				"read_only": false, "immutable_type": false, "immutable_properties": false, "description": nil,
				"database_id": f.ws, "workspace_id": f.ws, "db_index": false, "field_constraints": []any{}}
		}
		for _, tc := range []struct {
			body  map[string]any
			extra func(fl restField) map[string]any
		}{
			{map[string]any{"name": "S", "type": "single_select", "options": map[string]any{"choices": choices[:1]}}, func(fl restField) map[string]any {
				return map[string]any{"single_select_default": nil, "select_options": []any{
					map[string]any{"id": fl.Options.Choices[0].ID, "value": "red", "color": "light-red"}}}
			}},
			{map[string]any{"name": "M", "type": "multiple_select"}, func(restField) map[string]any {
				return map[string]any{"multiple_select_default": []any{}, "select_options": []any{}}
			}},
			{map[string]any{"name": "N", "type": "number", "options": map[string]any{"decimals": 3}}, func(restField) map[string]any {
				return map[string]any{"number_decimal_places": 3, "number_negative": true, "number_prefix": "", "number_suffix": "",
					"number_separator": "", "number_default": nil}
			}},
			{map[string]any{"name": "D", "type": "date"}, func(restField) map[string]any {
				return map[string]any{"date_format": "ISO", "date_include_time": false, "date_time_format": "24",
					"date_show_tzinfo": false, "date_force_timezone": nil}
			}},
			{map[string]any{"name": "T", "type": "text"}, func(restField) map[string]any { return map[string]any{"text_default": ""} }},
			{map[string]any{"name": "L", "type": "long_text"}, func(restField) map[string]any {
				return map[string]any{"long_text_enable_rich_text": false}
			}},
			{map[string]any{"name": "B", "type": "boolean"}, func(restField) map[string]any { return map[string]any{"boolean_default": false} }},
		} {
			fl := f.restField(t, tc.body)
			wantField := common(fl.ID, tc.body["name"].(string), tc.body["type"].(string), fl.Order)
			for k, v := range tc.extra(fl) {
				wantField[k] = v
			}
			f.expectEvent(t, c, "field_created", map[string]any{"field": wantField, "related_fields": []any{}})
			anon.expect("force_view_refresh") // a new field is shown on the view
		}
		c.sync()
		anon.sync()
	})
}

// TestBaserowViewChangeMessages: a view's filters, sorts and hidden
// fields changed through the store reach the table page as Baserow's own
// messages (view_filter_*, view_sort_*, view_field_options_updated),
// with ids that follow the filter's place in the view; a change of
// anything else is view_updated, without filters and sortings.
func TestBaserowViewChangeMessages(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		var v restView
		tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/views", f.tbl), map[string]any{"name": "grid"}, "", &v)
		c := tn.brUser(t, "owner")
		c.tablePage(f.tbl)
		V := v.ID
		filter := func(i int, field int64, typ, value string) map[string]any {
			return map[string]any{"id": V*1000 + int64(i), "view": V, "field": field, "type": typ, "value": value,
				"preload_values": map[string]any{}, "group": nil}
		}
		sort := func(i int, field int64, order string) map[string]any {
			return map[string]any{"id": V*1000 + int64(i), "view": V, "field": field, "order": order, "type": "default"}
		}
		patch := func(body map[string]any) { f.patchView(t, V, body) }
		run := subtests(t, c)

		run("filter created", func(t *testing.T) {
			patch(map[string]any{"filters": []any{map[string]any{"field_id": f.status, "type": "equal", "value": "open"}}})
			f.expectEvent(t, c, "view_filter_created", map[string]any{"view_filter": filter(1, f.status, "equal", "open")})
		})
		run("filter updated and another created", func(t *testing.T) {
			patch(map[string]any{"filters": []any{
				map[string]any{"field_id": f.status, "type": "equal", "value": "closed"},
				map[string]any{"field_id": f.name, "type": "contains", "value": "x"},
			}})
			f.expectEvent(t, c, "view_filter_updated", map[string]any{"view_filter_id": V*1000 + 1, "view_filter": filter(1, f.status, "equal", "closed")})
			f.expectEvent(t, c, "view_filter_created", map[string]any{"view_filter": filter(2, f.name, "contains", "x")})
		})
		run("filters deleted", func(t *testing.T) {
			patch(map[string]any{"filters": []any{}})
			f.expectEvent(t, c, "view_filter_deleted", map[string]any{"view_id": V, "view_filter_id": V*1000 + 1})
			f.expectEvent(t, c, "view_filter_deleted", map[string]any{"view_id": V, "view_filter_id": V*1000 + 2})
		})
		run("sorts", func(t *testing.T) {
			patch(map[string]any{"sorts": []any{map[string]any{"field_id": f.amount, "order": "desc"}}})
			f.expectEvent(t, c, "view_sort_created", map[string]any{"view_sort": sort(1, f.amount, "DESC")})
			patch(map[string]any{"sorts": []any{map[string]any{"field_id": f.amount, "order": "asc"}}})
			f.expectEvent(t, c, "view_sort_updated", map[string]any{"view_sort_id": V*1000 + 1, "view_sort": sort(1, f.amount, "ASC")})
			patch(map[string]any{"sorts": []any{}})
			f.expectEvent(t, c, "view_sort_deleted", map[string]any{"view_id": V, "view_sort_id": V*1000 + 1})
		})
		run("hidden fields", func(t *testing.T) {
			patch(map[string]any{"hidden_field_ids": []int64{f.secret}})
			opts := map[string]any{}
			for _, id := range []int64{f.name, f.status, f.secret, f.amount} {
				opts[strconv.FormatInt(id, 10)] = map[string]any{"hidden": id == f.secret}
			}
			f.expectEvent(t, c, "view_field_options_updated", map[string]any{"view_id": V, "field_options": opts})
		})
		run("filter type", func(t *testing.T) {
			patch(map[string]any{"filter_type": "OR"})
			m := c.expect("view_updated")
			var view map[string]json.RawMessage
			m.decodeInto(t, "view", &view)
			if string(view["filter_type"]) != `"OR"` || view["filters"] != nil || view["sortings"] != nil {
				t.Fatalf("view_updated %s; want filter_type OR, no filters or sortings", m)
			}
		})
		c.sync()
	})
}

// TestBaserowForceViewRefresh: force_view_refresh carries what Baserow's
// public page reads: view_id (the slug), the view as its public info
// (named by its slug, table a placeholder, sorts of shown fields) and
// the fields it shows, as they are after the change.
func TestBaserowForceViewRefresh(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		body := f.openFilter()
		body["sorts"] = []any{map[string]any{"field_id": f.amount, "order": "desc"}, map[string]any{"field_id": f.secret, "order": "asc"}}
		v := f.publicView(t, body)
		anon := tn.brAnon(t)
		anon.addPage("view", map[string]any{"slug": v.Slug})
		check := func(m brMsg, viewName, statusName string) {
			t.Helper()
			if string(m.M["view_id"]) != strconv.Quote(v.Slug) {
				t.Fatalf("view_id in %s", m)
			}
			var view struct {
				ID    string `json:"id"`
				Slug  string `json:"slug"`
				Name  string `json:"name"`
				Type  string `json:"type"`
				Table struct {
					ID         int64 `json:"id"`
					DatabaseID int64 `json:"database_id"`
				} `json:"table"`
				Sortings []map[string]any `json:"sortings"`
				Public   bool             `json:"public"`
			}
			m.decodeInto(t, "view", &view)
			if view.ID != v.Slug || view.Slug != v.Slug || view.Name != viewName || view.Type != "grid" || !view.Public ||
				view.Table.ID != 0 || view.Table.DatabaseID != 0 || len(view.Sortings) != 1 || view.Sortings[0]["view"] != v.Slug {
				t.Fatalf("view in %s", m)
			}
			var fields []struct {
				ID      int64  `json:"id"`
				Name    string `json:"name"`
				TableID *int64 `json:"table_id"`
			}
			m.decodeInto(t, "fields", &fields)
			var ids []int64
			for _, fl := range fields {
				ids = append(ids, fl.ID)
				if fl.TableID == nil || *fl.TableID != 0 {
					t.Fatalf("field %d of %s: table_id is not the placeholder 0", fl.ID, m)
				}
				if fl.ID == f.status && fl.Name != statusName {
					t.Fatalf("field %d of %s is named %q; want %q (as after the change)", fl.ID, m, fl.Name, statusName)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint([]int64{f.name, f.status, f.amount}) {
				t.Fatalf("fields %v of %s; want the shown ones %v", ids, m, []int64{f.name, f.status, f.amount})
			}
		}
		f.patchView(t, v.ID, map[string]any{"name": "renamed"})
		check(anon.expect("force_view_refresh"), "renamed", "Status")
		tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/fields/%d", f.status), map[string]any{"name": "State"}, "", &struct{}{})
		check(anon.expect("force_view_refresh"), "renamed", "State")
		anon.sync()
	})
}

// TestBaserowWorkspaceMessages: every signed-in socket of a member hears
// of its workspaces' tables and members, with no page added: Baserow's
// table_created, table_updated, table_deleted, group_updated and
// group_user_added, _updated, _deleted. A member added while connected
// starts hearing (told group_user_added); one removed stops.
func TestBaserowWorkspaceMessages(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		var w struct{ ID int64 }
		tn.restAs(t, "owner", "POST", "/api/workspaces", map[string]any{"name": "acme"}, "", &w)
		owner := tn.brUser(t, "owner")
		guest := tn.brUser(t, "guest") // not a member yet
		anon := tn.brAnon(t)

		var tb struct {
			ID    int64
			Order int
		}
		tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/tables", w.ID), map[string]any{"name": "tasks"}, "", &tb)
		expectMembers(t, owner.expect("table_created"), map[string]any{
			"table": map[string]any{"id": tb.ID, "name": "tasks", "order": tb.Order, "database_id": w.ID}})
		tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d", tb.ID), map[string]any{"name": "jobs"}, "", &struct{}{})
		expectMembers(t, owner.expect("table_updated"), map[string]any{"table_id": tb.ID, "force_table_refresh": false,
			"table": map[string]any{"id": tb.ID, "name": "jobs", "order": tb.Order, "database_id": w.ID}})
		tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/workspaces/%d", w.ID), map[string]any{"name": "acme 2"}, "", &struct{}{})
		expectMembers(t, owner.expect("group_updated"), map[string]any{"workspace_id": w.ID,
			"workspace": map[string]any{"id": w.ID, "name": "acme 2"}})

		tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/members", w.ID), map[string]any{"user_id": "guest", "role": "editor"}, "", &struct{}{})
		user := func(role string) map[string]any {
			return map[string]any{"id": "guest", "user_id": "guest", "workspace": w.ID, "permissions": role,
				"name": "guest", "email": "", "to_be_deleted": false}
		}
		for _, c := range []*brConn{owner, guest} {
			expectMembers(t, c.expect("group_user_added"), map[string]any{"id": "guest", "workspace_id": w.ID, "workspace_user": user("EDITOR")})
		}
		tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/workspaces/%d/members/guest", w.ID), map[string]any{"role": "viewer"}, "", &struct{}{})
		for _, c := range []*brConn{owner, guest} {
			expectMembers(t, c.expect("group_user_updated"), map[string]any{"id": "guest", "workspace_id": w.ID, "workspace_user": user("VIEWER")})
		}
		var tb2 struct{ ID int64 }
		tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/tables", w.ID), map[string]any{"name": "more"}, "", &tb2)
		for _, c := range []*brConn{owner, guest} {
			c.expect("table_created")
		}
		// table_deleted reaches every member, not only a table page; a
		// socket holding the table's page gets it once.
		owner.tablePage(tb2.ID)
		// page_add goes out once the subscription exists, before the
		// page's permissions are checked again; a table deleted in
		// between fails that check, and its page_discard follows
		// table_deleted (correct, and what CI saw once under load). The
		// sync waits for the check: a socket's messages are handled in
		// order.
		owner.sync()
		tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/tables/%d", tb2.ID), nil, "", nil)
		for _, c := range []*brConn{owner, guest} {
			expectMembers(t, c.expect("table_deleted"), map[string]any{"table_id": tb2.ID, "database_id": w.ID})
		}
		owner.sync()

		if st := tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/workspaces/%d/members/guest", w.ID), nil, "", nil); st != 204 {
			t.Fatalf("remove member: %d", st)
		}
		for _, c := range []*brConn{owner, guest} {
			expectMembers(t, c.expect("group_user_deleted"), map[string]any{"id": "guest", "workspace_id": w.ID, "workspace_user": user("VIEWER")})
		}
		tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d", tb.ID), map[string]any{"name": "after"}, "", &struct{}{})
		owner.expect("table_updated")
		owner.sync()
		guest.sync() // the removed member hears nothing more
		anon.sync()  // nor does an anonymous socket, ever
	})
}
