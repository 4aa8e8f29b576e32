package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
	"github.com/tablecast/tablecast/pkg/client"
)

// The fault suite: Redis goes away (killed, or one node's connections to it
// cut) while clients of every dialect subscribe, open live queries and add
// pages, and writes and publishes go on through both nodes during and after
// the outage. Every client either receives every write after the point it
// was told it is live, in order, once; or is told to retry, and after
// retrying as its client library does, receives everything from there.

// outage is one way for Redis to go away from node A.
type outage struct {
	down, up func()
	// bothNodes: B loses Redis too (Redis itself is down), so B's admin
	// publishes are refused as well.
	bothNodes bool
	// keepsHistory: Redis keeps the app channels' histories through the
	// outage (it stayed up), so a subscriber from before resumes from it.
	keepsHistory bool
}

// TestBrokerOutageRedisKilled: Redis is killed (SIGKILL) and started again,
// empty, on the same port.
func TestBrokerOutageRedisKilled(t *testing.T) {
	redisURL, args, rp := ownRedis(t)
	db := pgtest.FreshDatabase(t)
	a := startNode(t, "A", db, redisURL, "tc:")
	b := startNode(t, "B", db, redisURL, "tc:")
	runOutage(t, a, b, outage{
		down: func() { rp.stop(syscall.SIGKILL) },
		up: func() {
			rp = start(t, "redis-server", args)
			waitRedis(t, args[1])
		},
		bothNodes: true,
	})
}

// TestBrokerOutageConnectionCut: node A's connections to Redis are cut
// (and new ones refused) by a proxy, then let through again; Redis and
// node B are untouched.
func TestBrokerOutageConnectionCut(t *testing.T) {
	redisURL, args, _ := ownRedis(t)
	db := pgtest.FreshDatabase(t)
	proxy := startProxy(t, "127.0.0.1:"+args[1])
	a := startNode(t, "A", db, "redis://"+proxy.addr()+"/0", "tc:")
	b := startNode(t, "B", db, redisURL, "tc:")
	runOutage(t, a, b, outage{down: proxy.cut, up: proxy.restore, keepsHistory: true})
}

func runOutage(t *testing.T, a, b *node, o outage) {
	tbl, field := table(t, a)
	col := fmt.Sprintf("record_%d", tbl)
	doc := createRow(t, a, tbl, field, "the document")
	nodes := []*node{a, b}

	var pub publisher
	var before *client.Client
	var beforeRes client.SubscribeResult
	if o.keepsHistory {
		before = dialRetrying(t, a, "owner")
		var err error
		if beforeRes, err = before.Subscribe(ctx(t), "lobby", ""); err != nil {
			t.Fatal(err)
		}
		pub.publish(t, b, "before", false)
	}

	o.down()
	waitReady(t, a, false)

	// The greetings are not held up by Redis.
	started := time.Now()
	nat := dialRetrying(t, a, "owner")
	sdb := dialJSON(t, sharedbURL(t, a, "owner"))
	sdb.next(is("a", "init"))
	br := dialJSON(t, baserowURL(t, a, "owner"))
	br.next(is("type", "authentication"))
	if d := time.Since(started); d > 1500*time.Millisecond {
		t.Errorf("three greetings took %v while Redis was away", d)
	}

	// A table stream subscribes without Redis: its history is the outbox.
	natRes, err := nat.Subscribe(ctx(t), col, "")
	if err != nil {
		t.Fatalf("native subscribe to %s while Redis is away: %v", col, err)
	}
	natB := dialRetrying(t, b, "owner")
	natBRes, err := natB.Subscribe(ctx(t), col, "")
	if err != nil {
		t.Fatalf("native subscribe on B: %v", err)
	}
	// An app channel cannot be served (its offsets live in Redis): 503
	// with retry_after, which the client library retries by itself.
	_, err = nat.Request(ctx(t), client.Message{Type: client.TypeSubscribe, Collection: "lobby"})
	var se *client.ServerError
	if !errors.As(err, &se) || se.Code != 503 || se.RetryAfter <= 0 {
		t.Fatalf("app channel subscribe while Redis is away: %v; want 503 with retry_after", err)
	}
	lobby := dialRetrying(t, a, "owner")
	var lobbyRes client.SubscribeResult
	lobbyDone := make(chan error, 1)
	go func() {
		var err error
		lobbyRes, err = lobby.Subscribe(context.Background(), "lobby", "")
		lobbyDone <- err
	}()

	sdb.send(map[string]any{"a": "hs", "id": nil, "protocol": 1, "protocolMinor": 2})
	sdb.next(is("a", "hs"))
	sdb.send(map[string]any{"a": "qs", "id": 1, "c": col, "q": map[string]any{}})
	qs := sdb.next(is("a", "qs"))
	if _, failed := qs["error"]; failed {
		t.Fatalf("qs while Redis is away: %s", qs["error"])
	}
	sdb.send(map[string]any{"a": "s", "c": col, "d": strconv.FormatInt(doc, 10)})
	snap := sdb.next(is("a", "s"))
	var snapV struct{ V int64 }
	_ = json.Unmarshal(snap["data"], &snapV)

	br.send(map[string]any{"page": "table", "table_id": tbl})
	if m := br.next(func(m map[string]json.RawMessage) bool { return str(m, "type") != "" }); str(m, "type") != "page_add" {
		t.Fatalf("table page while Redis is away: %s", mustJSON(m))
	}

	// Admin publishes need Redis (app channel offsets): 503 + Retry-After.
	pub.publish(t, a, "while A is away", true)
	if !o.bothNodes {
		pub.publish(t, b, "through B while A is away", false)
	}

	var w writes
	w.run(t, nodes, tbl, field, doc, "during", 12)
	o.up()
	waitReady(t, a, true)
	w.run(t, nodes, tbl, field, doc, "after", 12)

	select {
	case err := <-lobbyDone:
		if err != nil {
			t.Fatalf("the library's retried subscribe to lobby: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("the retried subscribe to lobby did not succeed after Redis came back")
	}
	for i := range 10 {
		pub.publish(t, nodes[i%2], "after "+strconv.Itoa(i), false)
	}
	top := topOf(t, b, col)

	var lost, dups int
	count := func(who string) func(l, d int) {
		return func(l, d int) {
			lost += l
			dups += d
			if l > 0 || d > 0 {
				t.Errorf("%s: %d lost, %d duplicated", who, l, d)
			}
		}
	}
	count("native on A, " + col)(checkOffsets(t, nat, col, natRes.Offset, top))
	count("native on B, " + col)(checkOffsets(t, natB, col, natBRes.Offset, top))
	count("native on A, lobby subscribed while away")(checkOffsets(t, lobby, "lobby", lobbyRes.Offset, pub.last()))
	if before != nil {
		count("native on A, lobby subscribed before")(checkOffsets(t, before, "lobby", beforeRes.Offset, pub.last()))
	}
	count("sharedb live query and document")(checkShareDB(t, sdb, col, w.created, doc, snapV.V, len(w.updates)))
	count("baserow table page")(checkPage(t, br, w.created, len(w.updates), top))
	t.Logf("%d rows and %d updates written, %d app messages published (%d refused with 503); %d lost silently, %d duplicates",
		len(w.created), len(w.updates), len(pub.offsets), pub.refused, lost, dups)
}

// dialRetrying is a native client that reconnects and resubscribes by
// itself, as applications use it.
func dialRetrying(t *testing.T, n *node, user string) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx(t), client.Config{URL: n.ws, Token: token(t, user, "lobby"), Reconnect: true,
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond, MessageBuffer: 1024})
	if err != nil {
		t.Fatalf("dial %s: %v", n.id, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func waitReady(t *testing.T, n *node, ready bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st, _ := n.get("/readyz")
		if (st == http.StatusOK) == ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: /readyz %d after %v, want ready=%v", n.id, st, wait, ready)
		}
		time.Sleep(20 * time.Millisecond) // polling a process's readiness
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func createRow(t *testing.T, n *node, tbl int64, field, v string) int64 {
	t.Helper()
	var row struct{ ID int64 }
	n.do(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", tbl), map[string]any{"fields": map[string]any{field: v}}, &row)
	return row.ID
}

// writes creates rows and updates the document, through the nodes in turn.
type writes struct {
	created []int64
	updates []string
}

func (w *writes) run(t *testing.T, nodes []*node, tbl int64, field string, doc int64, phase string, n int) {
	t.Helper()
	for i := range n {
		via := nodes[i%len(nodes)]
		v := fmt.Sprintf("%s %d via %s", phase, i, via.id)
		if i%3 == 2 {
			via.do(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d/rows/%d", tbl, doc), map[string]any{"fields": map[string]any{field: v}}, nil)
			w.updates = append(w.updates, v)
			continue
		}
		w.created = append(w.created, createRow(t, via, tbl, field, v))
	}
}

// publisher publishes app messages on lobby through the admin API and
// keeps the offsets of those accepted.
type publisher struct {
	offsets []uint64
	refused int
}

// publish sends one message; refused says the node must answer 503 with
// Retry-After (its Redis is away). Otherwise a 503 is retried after its
// Retry-After, as a caller would.
func (p *publisher) publish(t *testing.T, n *node, text string, refused bool) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		body, _ := json.Marshal(map[string]any{"channel": "lobby", "message": map[string]string{"text": text}})
		req, _ := http.NewRequest("POST", n.http+"/api/ws/broadcast/channel", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After: %s", b)
			}
			p.refused++
			if refused {
				return
			}
			if attempt < 10 {
				time.Sleep(200 * time.Millisecond) // the Retry-After a caller honours, shortened
				continue
			}
		}
		if refused || resp.StatusCode != http.StatusOK {
			t.Fatalf("publish %q on %s: %d %s (want refused=%v)", text, n.id, resp.StatusCode, b, refused)
		}
		var res struct{ Offset uint64 }
		_ = json.Unmarshal(b, &res)
		p.offsets = append(p.offsets, res.Offset)
		return
	}
}

func (p *publisher) last() uint64 {
	var top uint64
	for _, o := range p.offsets {
		top = max(top, o)
	}
	return top
}

// topOf is the stream's position now, from a fresh subscription.
func topOf(t *testing.T, n *node, col string) uint64 {
	t.Helper()
	c := n.dial(t, "owner")
	res, err := c.Subscribe(ctx(t), col, "")
	if err != nil {
		t.Fatal(err)
	}
	return res.Offset
}

// checkOffsets reads c's messages on col until the offset top and counts
// the offsets in (from, top] that did not come and those that came twice,
// or out of order.
func checkOffsets(t *testing.T, c *client.Client, col string, from, top uint64) (lost, dups int) {
	t.Helper()
	seen := map[uint64]bool{}
	var last uint64 = from
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	for last < top {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				t.Fatalf("%s: client ended: %v", col, c.Err())
			}
			if m.Collection != col || m.Offset == nil {
				continue
			}
			off := *m.Offset
			if seen[off] || off <= from {
				dups++
				continue
			}
			if off != last+1 {
				t.Errorf("%s: offset %d after %d", col, off, last)
			}
			seen[off], last = true, off
		case <-timer.C:
			return int(top-from) - len(seen), dups
		}
	}
	return int(top-from) - len(seen), dups
}

// checkShareDB reads the socket's messages until every created row was
// inserted in the live query and the document's n ops arrived, and counts
// what is missing and what came twice (the ops' versions must follow each
// other from the snapshot's).
func checkShareDB(t *testing.T, c *jsonConn, col string, created []int64, doc, v int64, n int) (lost, dups int) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range created {
		want[strconv.FormatInt(id, 10)] = true
	}
	got := map[string]bool{}
	d := strconv.FormatInt(doc, 10)
	next, end := v, v+int64(n)
	ops := map[int64]string{}
	replayed := 0
	defer func() {
		if replayed > 0 {
			t.Logf("sharedb: %d document ops sent again below the client's version (dropped by ShareDB clients)", replayed)
		}
	}()
	deadline := time.After(20 * time.Second)
	for len(got) < len(want) || next < end {
		select {
		case m := <-c.msgs:
			switch {
			case m["error"] != nil:
				t.Fatalf("sharedb told: %s", mustJSON(m))
			case str(m, "a") == "q":
				var diff []struct {
					Type   string
					Values []struct{ D string } // the document's id
				}
				_ = json.Unmarshal(m["diff"], &diff)
				for _, e := range diff {
					for _, v := range e.Values {
						if e.Type != "insert" {
							continue
						}
						if got[v.D] || !want[v.D] {
							t.Logf("live query inserted %s again (or unwritten): %s", v.D, mustJSON(m))
							dups++
						}
						got[v.D] = true
					}
				}
			case str(m, "a") == "op" && str(m, "c") == col && str(m, "d") == d:
				at := num(m, "v")
				op := string(m["op"])
				switch {
				case at < next && ops[at] == op:
					// A live query's catch-up replays its collection from
					// the read it made: ShareDB clients drop an op below
					// their version (by design, harmless).
					replayed++
				case at < next:
					t.Errorf("document op at v%d again, different: %s then %s", at, ops[at], op)
					dups++
				case at > next:
					t.Errorf("document op at v%d, want v%d", at, next)
					next = at + 1
				default:
					ops[at] = op
					next++
				}
			}
		case <-c.closed:
			t.Fatalf("sharedb socket ended: %v", c.err)
		case <-deadline:
			return len(want) - len(got) + int(end-next), dups
		}
	}
	return 0, dups
}

// checkPage reads the table page's messages until the event top and
// checks every created row and every update came, each event once, in
// order.
func checkPage(t *testing.T, c *jsonConn, created []int64, updates int, top uint64) (lost, dups int) {
	t.Helper()
	var rows []int64
	updated := 0
	var last uint64
	deadline := time.After(20 * time.Second)
	for last < top {
		select {
		case m := <-c.msgs:
			typ := str(m, "type")
			if typ == "page_discard" {
				t.Fatalf("baserow page discarded: %s", mustJSON(m))
			}
			if typ != "rows_created" && typ != "rows_updated" {
				continue
			}
			ev := uint64(num(m, "_event_id"))
			if ev <= last {
				dups++
				continue
			}
			last = ev
			var body struct{ Rows []struct{ ID int64 } }
			_ = json.Unmarshal(mustRaw(m), &body)
			if typ == "rows_updated" {
				updated++
				continue
			}
			for _, r := range body.Rows {
				rows = append(rows, r.ID)
			}
		case <-c.closed:
			t.Fatalf("baserow socket ended: %v", c.err)
		case <-deadline:
			last = top
		}
	}
	lost = len(created) - len(rows) + updates - updated
	for i := range min(len(rows), len(created)) {
		if rows[i] != created[i] {
			t.Errorf("baserow rows_created in order %v, want %v", rows, created)
			break
		}
	}
	return max(lost, 0), dups
}

func mustRaw(m map[string]json.RawMessage) []byte { b, _ := json.Marshal(m); return b }
