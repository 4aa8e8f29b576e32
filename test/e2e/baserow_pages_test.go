package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestBaserowTablePage: the table page is for members of the table's
// workspace; adding it twice answers page_add again and delivers each event
// once; remove_page answers page_discard and ends it.
func TestBaserowTablePage(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/members", f.ws), map[string]any{"user_id": "guest", "role": "viewer"}, "", &struct{}{})
		T := strconv.FormatInt(f.tbl, 10)
		v := f.publicView(t, map[string]any{})

		guest := tn.brUser(t, "guest")
		m := guest.addPage("table", map[string]any{"table_id": f.tbl})
		if !jsonEqual(t, m.M["parameters"], map[string]any{"table_id": f.tbl}) {
			t.Fatalf("page_add %s", m)
		}
		// Twice, the id as a string: the same page.
		m = guest.addPage("table", map[string]any{"table_id": T})
		if !jsonEqual(t, m.M["parameters"], map[string]any{"table_id": f.tbl}) {
			t.Fatalf("page_add again %s", m)
		}
		r := f.createRow(t, map[int64]any{f.name: "once"}, "")
		guest.expect("rows_created")
		guest.sync() // nothing between: the event came once

		tn.brUser(t, "stranger").addPageFails("table", map[string]any{"table_id": f.tbl}, "not_found")
		tn.brUser(t, "owner").addPageFails("table", map[string]any{"table_id": 999999}, "not_found")
		tn.brAnon(t).addPageFails("table", map[string]any{"table_id": f.tbl}, "forbidden")

		// remove_page: page_discard, and the table page is gone. A public
		// view page of the same table shows, in the stream's order, that
		// nothing came for the table page (an event's frames for one
		// socket go together, the view's first).
		guest.addPage("view", map[string]any{"slug": v.Slug})
		guest.sendJSON(map[string]any{"remove_page": "table", "table_id": f.tbl})
		m = guest.expect("page_discard")
		if string(m.M["page"]) != `"table"` || !jsonEqual(t, m.M["parameters"], map[string]any{"table_id": f.tbl}) {
			t.Fatalf("page_discard %s", m)
		}
		f.patchRow(t, r.ID, map[int64]any{f.name: "after remove"}, "")
		m = guest.expect("rows_updated")
		guest.sync()
		if !strings.Contains(m.String(), "after remove") || string(m.M["table_id"]) != "0" {
			t.Fatalf("the view page got %s", m)
		}
		// remove_page of a page not held is answered too.
		guest.sendJSON(map[string]any{"remove_page": "table", "table_id": f.tbl})
		guest.expect("page_discard")
	})
}

// TestBaserowRowPage: the row page is for members, when the row exists.
// As in Baserow, a row's changes go to the table page only: a socket
// holding the table page and the row page (Baserow's row modal over its
// grid) gets each update and deletion of the row once, and a socket with
// the row page alone gets none.
func TestBaserowRowPage(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		a := f.createRow(t, map[int64]any{f.name: "a"}, "")
		b := f.createRow(t, map[int64]any{f.name: "b"}, "")
		v := f.publicView(t, map[string]any{})
		c := tn.brUser(t, "owner")
		c.tablePage(f.tbl)
		m := c.addPage("row", map[string]any{"table_id": f.tbl, "row_id": a.ID})
		if !jsonEqual(t, m.M["parameters"], map[string]any{"table_id": f.tbl, "row_id": a.ID}) {
			t.Fatalf("page_add %s", m)
		}
		c.addPageFails("row", map[string]any{"table_id": f.tbl, "row_id": 999999}, "not_found")
		tn.brUser(t, "stranger").addPageFails("row", map[string]any{"table_id": f.tbl, "row_id": a.ID}, "not_found")
		tn.brAnon(t).addPageFails("row", map[string]any{"table_id": f.tbl, "row_id": a.ID}, "forbidden")
		// A socket with the row page alone, and a public view of the table
		// on it to show the stream's order.
		alone := tn.brUser(t, "owner")
		alone.addPage("row", map[string]any{"table_id": f.tbl, "row_id": a.ID})
		alone.addPage("view", map[string]any{"slug": v.Slug})

		var out struct{ Items []restRow }
		tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d/rows", f.tbl), map[string]any{"items": []any{
			map[string]any{"id": b.ID, "fields": cells(map[int64]any{f.status: "x"})},
			map[string]any{"id": a.ID, "fields": cells(map[int64]any{f.status: "y"})},
		}}, "", &out)
		f.expectEvent(t, c, "rows_updated", map[string]any{"table_id": f.tbl,
			"rows_before_update": []any{b.shape(), a.shape()}, "rows": []any{out.Items[0].shape(), out.Items[1].shape()},
			"metadata": map[string]any{}, "updated_field_ids": []int64{f.status}})
		c.sync() // once: the row page added nothing
		if m := alone.expect("rows_updated"); string(m.M["table_id"]) != "0" {
			t.Fatalf("the row page's socket got %s; want only the public view's rows_updated", m)
		}
		alone.sync()

		tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows/delete", f.tbl), map[string]any{"ids": []int64{a.ID}}, "", nil)
		f.expectEvent(t, c, "rows_deleted", map[string]any{"table_id": f.tbl, "row_ids": []int64{a.ID}, "rows": []any{out.Items[1].shape()}})
		c.sync()
		if m := alone.expect("rows_deleted"); string(m.M["table_id"]) != "0" {
			t.Fatalf("the row page's socket got %s; want only the public view's rows_deleted", m)
		}
		alone.sync()
	})
}

// TestBaserowMemberRemoved: removing a member discards, at once, every
// table and row page of the workspace's tables on every socket of that
// user; a public view page stays (anyone may hold it).
func TestBaserowMemberRemoved(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		r := f.createRow(t, map[int64]any{f.name: "r"}, "")
		v := f.publicView(t, map[string]any{})
		tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/members", f.ws), map[string]any{"user_id": "guest", "role": "editor"}, "", &struct{}{})
		g1, g2 := tn.brUser(t, "guest"), tn.brUser(t, "guest")
		g1.tablePage(f.tbl)
		g1.addPage("row", map[string]any{"table_id": f.tbl, "row_id": r.ID})
		g1.addPage("view", map[string]any{"slug": v.Slug})
		g2.tablePage(f.tbl)

		if st := tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/workspaces/%d/members/guest", f.ws), nil, "", nil); st != 204 {
			t.Fatalf("remove member: %d", st)
		}
		// The workspace's members are told first (the guest too), then its
		// pages go.
		for _, g := range []*brConn{g1, g2} {
			if m := g.expect("group_user_deleted"); string(m.M["id"]) != `"guest"` {
				t.Fatalf("%s; want the guest's removal", m)
			}
		}
		got := map[string]bool{}
		for range 2 {
			m := g1.expect("page_discard")
			got[string(m.M["page"])+string(m.M["parameters"])] = true
		}
		if !got[fmt.Sprintf(`"table"{"table_id":%d}`, f.tbl)] || !got[fmt.Sprintf(`"row"{"table_id":%d,"row_id":%d}`, f.tbl, r.ID)] {
			t.Fatalf("discarded %v", got)
		}
		g2.expect("page_discard")
		// Only the public view's projection still comes.
		f.patchRow(t, r.ID, map[int64]any{f.name: "after"}, "")
		if m := g1.expect("rows_updated"); string(m.M["table_id"]) != "0" {
			t.Fatalf("after the removal g1 got %s; want the public view's rows_updated", m)
		}
		g1.sync()
		g2.sync()
		g2.addPageFails("table", map[string]any{"table_id": f.tbl}, "not_found")
	})
}
