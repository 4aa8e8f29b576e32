package e2e

import (
	"strconv"
	"testing"
)

// TestBaserowReplayEvents: a socket that re-adds its pages and sends
// replay_events gets the events it missed after last_seen_id, in order,
// then replay_events_result, then live events, each once.
func TestBaserowReplayEvents(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		v := f.publicView(t, f.openFilter())
		a := tn.brUser(t, "owner")
		a.tablePage(f.tbl)
		r := f.createRow(t, map[int64]any{f.name: "seen", f.status: "open"}, "")
		last := a.expect("rows_created").eventID(t)
		_ = a.nc.Close() // away

		f.patchRow(t, r.ID, map[int64]any{f.name: "missed 1"}, "")
		f.createRow(t, map[int64]any{f.name: "missed 2", f.status: "closed"}, "")
		f.patchRow(t, r.ID, map[int64]any{f.status: "closed"}, "") // out of the view

		b := tn.brUser(t, "owner")
		b.tablePage(f.tbl)
		b.addPage("row", map[string]any{"table_id": f.tbl, "row_id": r.ID})
		b.addPage("view", map[string]any{"slug": v.Slug})
		b.sendJSON(map[string]any{"type": "replay_events", "last_seen_id": last})
		// Each page replays in turn, in offset order.
		want := []struct {
			typ string
			id  uint64
		}{
			{"rows_updated", last + 1}, {"rows_created", last + 2}, {"rows_updated", last + 3}, // table page
			// the row page: none (row events go to the table page only)
			{"rows_updated", last + 1}, {"rows_deleted", last + 3}, // view page: the closed row is not in it, r leaves
		}
		for i, w := range want {
			m := b.expect(w.typ)
			if m.eventID(t) != w.id {
				t.Fatalf("replayed message %d: %s; want %s with _event_id %d", i, m, w.typ, w.id)
			}
			if i >= 3 && string(m.M["table_id"]) != "0" {
				t.Fatalf("the view page's replay %s has table_id != 0", m)
			}
		}
		res := b.expect("replay_events_result")
		if string(res.M["force_refresh"]) != "false" || res.num(t, "latest_event_id") != int64(last+3) {
			t.Fatalf("%s; want force_refresh false, latest_event_id %d", res, last+3)
		}
		f.createRow(t, map[int64]any{f.name: "live", f.status: "open"}, "")
		if m := b.expect("rows_created"); m.eventID(t) != last+4 { // the view page's projection first
			t.Fatalf("live: %s", m)
		}
		if m := b.expect("rows_created"); m.eventID(t) != last+4 || string(m.M["table_id"]) != strconv.FormatInt(f.tbl, 10) {
			t.Fatalf("live: %s", m)
		}
		b.sync()
	})
}

// TestBaserowReplayRefused: replay_events answers force_refresh true when
// it cannot give every missed event; the pages go on live.
func TestBaserowReplayRefused(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--replay-limit", "2"))
	f := newBrFixture(t, tn)
	other := newBrFixture(t, tn)
	top := f.top(t)
	for i := range 3 {
		f.createRow(t, map[int64]any{f.name: "r" + strconv.Itoa(i)}, "")
	}
	tests := []struct {
		name      string
		pages     func(c *brConn)
		lastSeen  any
		force     bool
		latestNil bool
		latest    uint64
	}{
		{"more missed than the replay limit", func(c *brConn) { c.tablePage(f.tbl) }, top, true, false, top + 3},
		{"last_seen_id ahead of the stream", func(c *brConn) { c.tablePage(f.tbl) }, top + 100, true, false, top + 3},
		{"nothing missed", func(c *brConn) { c.tablePage(f.tbl) }, top + 3, false, false, top + 3},
		{"no pages", func(*brConn) {}, 7, false, false, 7},
		{"pages of two tables", func(c *brConn) { c.tablePage(f.tbl); c.tablePage(other.tbl) }, top + 3, true, true, 0},
		{"last_seen_id not a number", func(c *brConn) { c.tablePage(f.tbl) }, "soon", true, true, 0},
		{"last_seen_id missing", func(c *brConn) { c.tablePage(f.tbl) }, nil, true, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tn.brUser(t, "owner")
			tt.pages(c)
			msg := map[string]any{"type": "replay_events"}
			if tt.lastSeen != nil {
				msg["last_seen_id"] = tt.lastSeen
			}
			c.sendJSON(msg)
			res := c.expect("replay_events_result")
			wantLatest := strconv.FormatUint(tt.latest, 10)
			if tt.latestNil {
				wantLatest = "null"
			}
			if string(res.M["force_refresh"]) != strconv.FormatBool(tt.force) || string(res.M["latest_event_id"]) != wantLatest {
				t.Fatalf("%s; want force_refresh %v, latest_event_id %s", res, tt.force, wantLatest)
			}
			c.sync()
		})
	}
	// The pages continue live after a refused replay.
	c := tn.brUser(t, "owner")
	c.tablePage(f.tbl)
	c.sendJSON(map[string]any{"type": "replay_events", "last_seen_id": top})
	c.expect("replay_events_result")
	f.createRow(t, map[int64]any{f.name: "live"}, "")
	if m := c.expect("rows_created"); m.eventID(t) != top+4 {
		t.Fatalf("after a refused replay: %s", m)
	}
}
