package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/auth"
)

// brTab is a browser tab as Baserow's realTimeHandler.js (release 1.35)
// runs it: it keeps the pages it subscribed to; on any close it connects
// again with the token it holds by then and sends its pages again;
// force_disconnect logs its user out (fatal here: none of these cases may
// log a user out). It remembers the last _event_id it saw, to ask for the
// events it missed.
type brTab struct {
	t        *testing.T
	token    func() string
	pages    []map[string]any
	conn     *brConn
	lastSeen uint64
}

func newBrTab(t *testing.T, tn *testNode, token func() string) *brTab {
	tab := &brTab{t: t, token: token}
	tab.connect(tn)
	return tab
}

// connect opens a socket with the current token and adds the tab's pages.
func (b *brTab) connect(tn *testNode) {
	b.t.Helper()
	b.conn = tn.brDial(b.t, b.token())
	for _, p := range b.pages {
		b.conn.sendJSON(p)
		if m := b.next(); m.Type != "page_add" {
			b.t.Fatalf("re-adding page %v: got %s", p, m)
		}
	}
}

// add subscribes the tab to a page.
func (b *brTab) add(page string, params map[string]any) {
	b.t.Helper()
	msg := map[string]any{"page": page}
	for k, v := range params {
		msg[k] = v
	}
	b.pages = append(b.pages, msg)
	b.conn.sendJSON(msg)
	if m := b.next(); m.Type != "page_add" {
		b.t.Fatalf("adding page %v: got %s", msg, m)
	}
}

// see notes what a message tells the tab.
func (b *brTab) see(m brMsg) {
	b.t.Helper()
	if m.Type == "force_disconnect" {
		b.t.Fatalf("force_disconnect %s: Baserow's front end logs its user out", m)
	}
	if _, ok := m.M["_event_id"]; ok {
		b.lastSeen = max(b.lastSeen, m.eventID(b.t))
	}
}

func (b *brTab) next() brMsg {
	b.t.Helper()
	m := b.conn.next()
	b.see(m)
	return m
}

func (b *brTab) expect(typ string) brMsg {
	b.t.Helper()
	m := b.next()
	if m.Type != typ {
		b.t.Fatalf("got %s; want %s", m, typ)
	}
	return m
}

// closed reads until the socket is closed and returns the close code.
func (b *brTab) closed() ws.StatusCode {
	b.t.Helper()
	code, before := b.conn.expectClose()
	for _, m := range before {
		b.see(m)
	}
	return code
}

// resume asks for the missed events with typ (replay_events or
// realtime_subscribe) and returns what came before the answer, and the
// answer.
func (b *brTab) resume(typ string) ([]brMsg, brMsg) {
	b.t.Helper()
	b.conn.sendJSON(map[string]any{"type": typ, "last_seen_id": b.lastSeen})
	var got []brMsg
	for {
		m := b.next()
		if m.Type == typ+"_result" {
			return got, m
		}
		got = append(got, m)
	}
}

// expectMissed checks the replayed messages' types and _event_ids.
func expectMissed(t *testing.T, got []brMsg, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %v; want %v", got, want)
	}
	for i, m := range got {
		if m.Type+"@"+strconv.FormatUint(m.eventID(t), 10) != want[i] {
			t.Fatalf("replayed message %d: %s; want %s", i, m, want[i])
		}
	}
}

// TestBaserowTabAcrossTokenExpiry: a tab whose access token runs out
// (Baserow's front end renews it on its own every few minutes) is closed
// without force_disconnect, reconnects with its renewed token, keeps its
// pages, and with realtime_subscribe gets what happened in between.
func TestBaserowTabAcrossTokenExpiry(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		v := f.publicView(t, f.openFilter())
		r := f.createRow(t, map[int64]any{f.name: "r", f.status: "open"}, "")
		const leeway = 5 * time.Second // TABLECAST_JWT_LEEWAY's default
		expiring := mint(t, auth.Claims{Subject: "owner", ExpiresAt: time.Now().Add(2*time.Second - leeway)})
		token := expiring
		tab := newBrTab(t, tn, func() string { return token })
		tab.add("table", map[string]any{"table_id": f.tbl})
		tab.add("row", map[string]any{"table_id": f.tbl, "row_id": r.ID})
		tab.add("view", map[string]any{"slug": v.Slug})
		f.patchRow(t, r.ID, map[int64]any{f.name: "seen"}, "")
		tab.expect("rows_updated") // the view's
		tab.expect("rows_updated") // the table's

		token = tokenFor(t, "owner") // renewed by the front end meanwhile
		if code := tab.closed(); code != 4001 {
			t.Fatalf("closed with %d; want 4001", code)
		}
		missed := f.patchRow(t, r.ID, map[int64]any{f.name: "missed"}, "")
		tab.connect(tn)
		got, res := tab.resume("realtime_subscribe")
		top := f.top(t)
		at := "@" + strconv.FormatUint(top, 10)
		expectMissed(t, got, "rows_updated"+at, "rows_updated"+at) // the table page's, then the view page's
		expectMembers(t, res, map[string]any{"outdated": false, "current_latest_id": top})
		var rows []map[string]json.RawMessage
		got[0].decodeInto(t, "rows", &rows)
		if !jsonEqual(t, rows[0][fieldKey(f.name)], missed.Fields[strconv.FormatInt(f.name, 10)]) {
			t.Fatalf("replayed %s; want the missed change", got[0])
		}
		f.patchRow(t, r.ID, map[int64]any{f.name: "live"}, "")
		tab.expect("rows_updated")
		tab.expect("rows_updated")
		tab.conn.sync()
	})
}

// TestBaserowTabAcrossRestart: a graceful shutdown closes every socket
// (4000) without force_disconnect: a signed-in tab and an anonymous
// visitor of a public view both reconnect to the node that replaces it,
// keep their pages, and get the events they missed, neither sent to a
// login page.
func TestBaserowTabAcrossRestart(t *testing.T) {
	run := func(t *testing.T, dbURL string) {
		first := startNode(t, withDatabase(dbURL))
		f := newBrFixture(t, first)
		v := f.publicView(t, f.openFilter())
		r := f.createRow(t, map[int64]any{f.name: "r", f.status: "open"}, "")
		token := tokenFor(t, "owner")
		tab := newBrTab(t, first, func() string { return token })
		tab.add("table", map[string]any{"table_id": f.tbl})
		visitor := newBrTab(t, first, func() string { return "anonymous" })
		visitor.add("view", map[string]any{"slug": v.Slug})
		f.patchRow(t, r.ID, map[int64]any{f.name: "seen"}, "")
		tab.expect("rows_updated")
		visitor.expect("rows_updated")

		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			done <- first.shutdown(ctx)
		}()
		for name, b := range map[string]*brTab{"tab": tab, "visitor": visitor} {
			if code := b.closed(); code != 4000 {
				t.Fatalf("%s closed with %d; want 4000", name, code)
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("shutdown: %v", err)
		}

		second := startNode(t, withDatabase(dbURL))
		f.tn = second
		f.patchRow(t, r.ID, map[int64]any{f.name: "while away"}, "")
		tab.connect(second)
		visitor.connect(second)
		top := f.top(t)
		at := "@" + strconv.FormatUint(top, 10)
		got, res := tab.resume("realtime_subscribe")
		expectMissed(t, got, "rows_updated"+at)
		expectMembers(t, res, map[string]any{"outdated": false, "current_latest_id": top})
		got, res = visitor.resume("replay_events")
		expectMissed(t, got, "rows_updated"+at)
		expectMembers(t, res, map[string]any{"force_refresh": false, "latest_event_id": top})
		f.patchRow(t, r.ID, map[int64]any{f.name: "live"}, "")
		tab.expect("rows_updated")
		visitor.expect("rows_updated")
		tab.conn.sync()
		visitor.conn.sync()
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		run(t, "sqlite://"+t.TempDir()+"/restart.db")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		run(t, freshPostgres(t))
	})
}

// TestBaserowRealtimeSubscribe: realtime_subscribe is answered like
// replay_events, as realtime_subscribe_result with outdated and
// current_latest_id: outdated false after the missed events, true when
// they cannot be given (an id ahead of the stream, or none), with the
// stream's offset of now. last_event_id is read when last_seen_id is
// absent.
func TestBaserowRealtimeSubscribe(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		c := tn.brUser(t, "owner")
		c.tablePage(f.tbl)
		f.createRow(t, map[int64]any{f.name: "one"}, "")
		last := c.expect("rows_created").eventID(t)
		f.createRow(t, map[int64]any{f.name: "two"}, "")
		c.expect("rows_created")
		top := f.top(t)

		c.sendJSON(map[string]any{"type": "realtime_subscribe", "last_event_id": last})
		if m := c.expect("rows_created"); m.eventID(t) != top {
			t.Fatalf("replayed %s; want the event at %d", m, top)
		}
		expectMembers(t, c.expect("realtime_subscribe_result"), map[string]any{"outdated": false, "current_latest_id": top})

		c.sendJSON(map[string]any{"type": "realtime_subscribe", "last_seen_id": top + 100})
		expectMembers(t, c.expect("realtime_subscribe_result"), map[string]any{"outdated": true, "current_latest_id": top})
		c.sendJSON(map[string]any{"type": "realtime_subscribe"})
		expectMembers(t, c.expect("realtime_subscribe_result"), map[string]any{"outdated": true, "current_latest_id": nil})
		// replay_events still works beside it.
		c.sendJSON(map[string]any{"type": "replay_events", "last_seen_id": top})
		expectMembers(t, c.expect("replay_events_result"), map[string]any{"force_refresh": false, "latest_event_id": top})
		c.sync()
	})
}

// TestBaserowForceDisconnect: force_disconnect, which Baserow's front end
// takes for a logout, is kept for the admin API ending a user's
// connections (Baserow sends it when a password change ends the user's
// sessions), then close 4003; an anonymous socket disconnected by the
// admin API is closed with nothing before (no login to be sent to).
func TestBaserowForceDisconnect(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	user := tn.brUser(t, "owner")
	anon := tn.brAnon(t)
	var res struct {
		Disconnected int `json:"disconnected"`
	}
	tn.adminOK(t, "POST", "/api/ws/disconnect", map[string]any{"user_id": "owner"}, &res)
	code, before := user.expectClose()
	if code != 4003 || len(before) != 1 || before[0].Type != "force_disconnect" || string(before[0].M["reason"]) != `"disconnected"` {
		t.Fatalf("close %d after %v; want force_disconnect disconnected, then 4003", code, before)
	}
	tn.adminOK(t, "POST", "/api/ws/disconnect", map[string]any{"connection_id": anon.wsID}, &res)
	if code, before := anon.expectClose(); code != 4003 || len(before) != 0 {
		t.Fatalf("anonymous: close %d after %v; want 4003 and nothing before it", code, before)
	}
}
