package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
)

// sdbInsert is a submit of a string insert into the text cell.
func sdbInsert(f sdbFixture, row string, v, seq int64, at int, s string) map[string]any {
	return map[string]any{"a": "op", "c": f.col, "d": row, "v": v, "seq": seq,
		"op": []any{map[string]any{"p": []any{"fields", f.text, at}, "si": s}}}
}

func (tn *testNode) rowText(t *testing.T, f sdbFixture, row int64) (string, int64) {
	t.Helper()
	var got struct {
		Version int64
		Fields  map[string]any
	}
	tn.rest(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/rows/%d", f.tbl, row), nil, "", &got)
	s, _ := got.Fields[f.text].(string)
	return s, got.Version
}

// TestShareDBStaleOp: an op sent against an old version is transformed;
// the submitter first gets the ops it missed, then the ack whose v is the
// version it has reached by then. Its own op is not echoed back.
func TestShareDBStaleOp(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	f := newSdbFixture(t, tn)
	row := fmt.Sprint(f.firstRow)
	a := tn.sdbUser(t, "owner")
	b := tn.sdbUser(t, "editor")

	b.sendJSON(sdbInsert(f, row, 1, 1, 0, "B"))
	b.expect("op")
	a.sendJSON(sdbInsert(f, row, 1, 1, 5, "A")) // "hello" -> "helloA", against version 1
	missed := a.expect("op")
	if missed.num("v") != 1 || missed.M["seq"] != nil && missed.num("seq") != 1 || missed.M["op"] == nil {
		t.Fatalf("first %s; want b's op at version 1", missed)
	}
	ack := a.expect("op")
	if ack.num("v") != 2 || ack.str("src") != a.src || ack.num("seq") != 1 || ack.M["op"] != nil {
		t.Fatalf("ack %s; want v 2 for a's op", ack)
	}
	a.sync()
	if s, v := tn.rowText(t, f, f.firstRow); s != "BhelloA" || v != 3 {
		t.Fatalf("row %q at %d; want BhelloA at 3", s, v)
	}

	// Subscribed, the submitter's ack comes from the stream in its op's
	// place, in order after the ops before it: ShareDB's ack, no echo.
	a.sendJSON(map[string]any{"a": "s", "c": f.col, "d": row})
	if s := a.expect("s"); s.M["data"] == nil {
		t.Fatalf("subscribe reply %s", s)
	}
	b.sendJSON(map[string]any{"a": "s", "c": f.col, "d": row})
	b.expect("s")
	b.sendJSON(sdbInsert(f, row, 3, 2, 0, "y")) // applied at 3
	b.expect("op")
	a.sendJSON(sdbInsert(f, row, 3, 2, 0, "x")) // stale: applied at 4
	if m := a.expect("op"); m.num("v") != 3 || m.str("src") != b.src {
		t.Fatalf("got %s; want b's op at 3 first", m)
	}
	if ack := a.expect("op"); ack.num("v") != 4 || ack.str("src") != a.src || ack.num("seq") != 2 || ack.M["op"] != nil {
		t.Fatalf("got %s; want the ack of a's op at 4, without the op", ack)
	}
	a.sync()
	if m := b.expect("op"); m.num("v") != 4 || m.str("src") != a.src {
		t.Fatalf("b got %s; want a's op", m)
	}

	// An op then an unsubscribe at once: the ack the broadcast was to be
	// is sent explicitly before the unsubscribe's reply (after the
	// broadcast, when that came first: the client ignores the second).
	a.sendJSON(sdbInsert(f, row, 5, 3, 0, "z"))
	a.sendJSON(map[string]any{"a": "u", "c": f.col, "d": row})
	explicit := false
	for {
		m := a.next()
		if m.A == "u" {
			break
		}
		if m.A != "op" || m.num("v") != 5 || m.num("seq") != 3 || m.str("src") != a.src {
			t.Fatalf("got %s; want a's op or its ack at 5", m)
		}
		explicit = explicit || m.M["op"] == nil
	}
	if !explicit {
		t.Fatal("no explicit ack before the unsubscribe's reply")
	}
	a.sync()
	if s, v := tn.rowText(t, f, f.firstRow); s != "zxyBhelloA" || v != 6 {
		t.Fatalf("row %q at %d; want zxyBhelloA at 6", s, v)
	}
}

// TestShareDBResentOp: after a reconnect a client resends the op it had no
// ack for, with its src (kept through hs) and seq: it is acknowledged at
// the version it was applied at, after the ops before it, and not applied
// twice.
func TestShareDBResentOp(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	f := newSdbFixture(t, tn)
	row := fmt.Sprint(f.firstRow)
	b := tn.sdbUser(t, "editor")
	b.sendJSON(sdbInsert(f, row, 1, 1, 0, "B")) // version 1 -> 2
	b.expect("op")

	a := tn.sdbUser(t, "owner")
	op := sdbInsert(f, row, 1, 7, 5, "A") // against version 1: transformed, applied at 2
	a.sendJSON(op)
	a.expect("op") // b's op, missed
	if ack := a.expect("op"); ack.num("v") != 2 {
		t.Fatalf("ack %s", ack)
	}

	// The ack was lost: a new socket, the same client id.
	again := tn.sdbOpen(t, url.Values{"token": {tokenFor(t, "owner")}}, nil)
	again.sendJSON(map[string]any{"a": "hs", "id": a.src, "protocol": 1, "protocolMinor": 2})
	if hs := again.expect("hs"); hs.str("id") != a.src {
		t.Fatalf("hs %s; want the client's id %q kept", hs, a.src)
	}
	again.sendJSON(op)
	before := again.expect("op")
	if before.num("v") != 1 || before.M["op"] == nil {
		t.Fatalf("got %s; want b's op at version 1 first", before)
	}
	ack := again.expect("op")
	if ack.num("v") != 2 || ack.str("src") != a.src || ack.num("seq") != 7 || ack.M["op"] != nil {
		t.Fatalf("ack %s; want the resent op acknowledged at 2", ack)
	}
	again.sync()
	if s, v := tn.rowText(t, f, f.firstRow); s != "BhelloA" || v != 3 {
		t.Fatalf("row %q at %d; want BhelloA at 3 (the op applied once)", s, v)
	}
}

// TestShareDBRevoked: a member removed from the workspace stops receiving
// the table's documents, live queries and presence at once, and cannot
// subscribe again.
func TestShareDBRevoked(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	f := newSdbFixture(t, tn)
	row := fmt.Sprint(f.firstRow)
	ed := tn.sdbUser(t, "editor")
	ed.sendJSON(map[string]any{"a": "s", "c": f.col, "d": row})
	ed.expect("s")
	ed.sendJSON(map[string]any{"a": "qs", "id": 1, "c": fmt.Sprintf("rec_%d", f.tbl), "q": map[string]any{}})
	ed.expect("qs")
	ch := fmt.Sprintf("__col_user_%d", f.tbl)
	ed.sendJSON(map[string]any{"a": "ps", "ch": ch, "seq": 1})
	ed.expect("ps")
	ed.expect("pr")

	own := tn.sdbUser(t, "owner")
	own.sendJSON(map[string]any{"a": "s", "c": f.col, "d": row})
	own.expect("s")

	tn.rest(t, "owner", "DELETE", fmt.Sprintf("/api/workspaces/%d/members/editor", f.ws), nil, "", nil)
	tn.rest(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d/rows/%d", f.tbl, f.firstRow),
		map[string]any{"fields": map[string]any{f.text: "after"}}, "", nil)
	if m := own.expect("op"); m.str("d") != row {
		t.Fatalf("owner got %s", m)
	}
	// Delivered to the owner: had the editor still been subscribed, the op
	// would be queued before the answer to this pp.
	ed.sync()
	ed.sendJSON(map[string]any{"a": "s", "c": f.col, "d": row})
	ed.expectError("s", "ERR_UNKNOWN_COLLECTION")
	ed.sendJSON(map[string]any{"a": "ps", "ch": ch, "seq": 2})
	ed.expectError("ps", "ERR_FORBIDDEN")
}

// TestShareDBOtherDocuments: fields (fld_T), views (view_T) and tables
// (tbl_W) are documents too; REST changes reach them as json0 ops at their
// versions.
func TestShareDBOtherDocuments(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	f := newSdbFixture(t, tn)
	c := tn.sdbUser(t, "editor")
	fld := fmt.Sprintf("fld_%d", f.tbl)
	c.sendJSON(map[string]any{"a": "s", "c": fld, "d": f.num})
	snap := c.expect("s")
	var data struct {
		V    int64
		Data map[string]any
	}
	if err := json.Unmarshal(snap.M["data"], &data); err != nil || data.V != 1 || data.Data["name"] != "N" || data.Data["version"] != nil {
		t.Fatalf("field snapshot %s", snap)
	}
	tbl := fmt.Sprintf("tbl_%d", f.ws)
	c.sendJSON(map[string]any{"a": "bs", "c": tbl, "b": []string{fmt.Sprint(f.tbl), "987654"}})
	bs := c.expect("bs")
	var bulk map[string]struct {
		V    int64
		Data map[string]any
		Type *string
	}
	if err := json.Unmarshal(bs.M["data"], &bulk); err != nil || bulk[fmt.Sprint(f.tbl)].Data["name"] != "t" || bulk["987654"].Data != nil || bulk["987654"].V != 0 {
		t.Fatalf("bulk reply %s", bs)
	}

	tn.rest(t, "owner", "PATCH", fmt.Sprintf("/api/fields/%s", f.num), map[string]any{"name": "Count"}, "", nil)
	op := c.expect("op")
	if op.str("c") != fld || op.str("d") != f.num || op.num("v") != 1 || string(op.M["op"]) != `[{"p":["name"],"od":"N","oi":"Count"}]` {
		t.Fatalf("field op %s", op)
	}
	tn.rest(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d", f.tbl), map[string]any{"name": "renamed"}, "", nil)
	op = c.expect("op")
	if op.str("c") != tbl || op.num("v") != 1 || string(op.M["op"]) != `[{"p":["name"],"od":"t","oi":"renamed"}]` {
		t.Fatalf("table op %s", op)
	}
	c.sync()

	// A view created over REST enters a live query of view_T.
	c.sendJSON(map[string]any{"a": "qs", "id": 4, "c": fmt.Sprintf("view_%d", f.tbl), "q": map[string]any{}})
	if q := c.expect("qs"); string(q.M["data"]) != "[]" {
		t.Fatalf("views query %s", q)
	}
	var v struct{ ID int64 }
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/views", f.tbl), map[string]any{"name": "grid", "type": "grid"}, "", &v)
	for {
		m := c.next()
		if m.A == "op" { // the view's create, through the collection subscription
			continue
		}
		if m.A != "q" || m.num("id") != 4 {
			t.Fatalf("got %s; want the query's diff", m)
		}
		var diff []struct {
			Type   string
			Index  int
			Values []struct{ D string }
		}
		if err := json.Unmarshal(m.M["diff"], &diff); err != nil || len(diff) != 1 || diff[0].Type != "insert" ||
			len(diff[0].Values) != 1 || diff[0].Values[0].D != fmt.Sprint(v.ID) {
			t.Fatalf("diff %s", m)
		}
		break
	}
}

// TestShareDBTwoSpellings: a socket holding a document under both names of
// its collection (record_T and Teable's rec_T) gets the ack of an op made
// through one there, and the op, as another client's, on the other.
func TestShareDBTwoSpellings(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	f := newSdbFixture(t, tn)
	row := fmt.Sprint(f.firstRow)
	rec := fmt.Sprintf("rec_%d", f.tbl)
	c := tn.sdbUser(t, "owner")
	c.sendJSON(map[string]any{"a": "s", "c": rec, "d": row})
	c.expect("s")
	c.sendJSON(map[string]any{"a": "s", "c": f.col, "d": row})
	c.expect("s")
	op := sdbInsert(f, row, 1, 1, 0, "x")
	op["c"] = rec
	c.sendJSON(op)
	got := map[string]sdbMsg{}
	for len(got) < 2 {
		m := c.expect("op")
		got[m.str("c")] = m
	}
	if m := got[rec]; m.num("v") != 1 || m.str("src") != c.src || m.num("seq") != 1 || m.M["op"] != nil {
		t.Fatalf("on %s: %s; want the ack at 1", rec, m)
	}
	if m := got[f.col]; m.num("v") != 1 || m.str("src") != c.src || m.num("seq") != 1 || m.M["op"] == nil {
		t.Fatalf("on %s: %s; want the op at 1", f.col, m)
	}
	c.sync()
}
