package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tablecast/tablecast/pkg/client"
)

// subscribeReply is the data of a subscribe reply.
type subscribeReply struct {
	Offset    *uint64 `json:"offset"`
	Epoch     *string `json:"epoch"`
	Recovered *bool   `json:"recovered"`
}

func decodeSubscribeReply(t *testing.T, m wireMsg) subscribeReply {
	t.Helper()
	var keys map[string]json.RawMessage
	var r subscribeReply
	if json.Unmarshal(m.Data, &keys) != nil || json.Unmarshal(m.Data, &r) != nil ||
		len(keys) != 3 || r.Offset == nil || r.Epoch == nil || *r.Epoch == "" || r.Recovered == nil {
		t.Fatalf("subscribe reply data %s; want exactly offset, a non-empty epoch and recovered", m.Data)
	}
	return r
}

// subscribeSince sends a subscribe (with since when epoch is not empty)
// and returns the messages before the reply, and the reply.
func (rc *rawConn) subscribeSince(collection, document string, offset uint64, epoch string) ([]wireMsg, subscribeReply) {
	rc.t.Helper()
	m := map[string]any{"type": "subscribe", "id": "since", "collection": collection}
	if document != "" {
		m["document"] = document
	}
	if epoch != "" {
		m["data"] = map[string]any{"since": map[string]any{"offset": offset, "epoch": epoch}}
	}
	rc.sendJSON(m)
	var before []wireMsg
	for {
		r := rc.next()
		if r.Type == "subscribe" && r.ID == "since" {
			return before, decodeSubscribeReply(rc.t, r)
		}
		before = append(before, r)
	}
}

func offsets(t *testing.T, msgs []wireMsg) []uint64 {
	t.Helper()
	out := []uint64{}
	for _, m := range msgs {
		if m.Offset == nil {
			t.Fatalf("message without offset: %s", m)
		}
		out = append(out, *m.Offset)
	}
	return out
}

func TestSubscribeReplyShape(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	rc, _ := tn.rawUser(t, "alice", "*")
	r := decodeSubscribeReply(t, rc.subscribe("fresh", "", nil))
	if *r.Offset != 0 || !*r.Recovered {
		t.Errorf("new stream: %+v; want offset 0, recovered true", r)
	}
	epoch := *r.Epoch
	pub := tn.broadcast(t, "fresh", "one")
	if pub.Offset == nil || *pub.Offset != 1 || pub.Epoch != epoch || pub.Delivered != 1 {
		t.Errorf("broadcast answer %+v; want offset 1, epoch %q, delivered 1", pub, epoch)
	}
	if m := rc.next(); m.Type != "message" || m.Offset == nil || *m.Offset != 1 || m.Document != "" {
		t.Errorf("got %s; want message offset 1", m)
	}
	// Subscribing again answers with the position and does not double
	// delivery.
	if r := decodeSubscribeReply(t, rc.subscribe("fresh", "", nil)); *r.Offset != 1 || *r.Epoch != epoch || !*r.Recovered {
		t.Errorf("second subscribe: %+v; want offset 1, same epoch", r)
	}
	tn.broadcast(t, "fresh", "once")
	if m := rc.next(); m.Type != "message" || !jsonEqual(t, m.Data, "once") {
		t.Errorf("got %s; want the message once", m)
	}
	rc.ping()
	// The same stream seen through a document: same epoch, same offset.
	d := rc.subscribe("fresh", "doc-1", nil)
	if d.Document != "doc-1" {
		t.Errorf("document subscribe reply %s", d)
	}
	if r := decodeSubscribeReply(t, d); *r.Offset != 2 || *r.Epoch != epoch {
		t.Errorf("document subscription %+v; want offset 2, epoch %q", r, epoch)
	}
	// Unsubscribing, also from what is not subscribed, is answered in kind.
	for _, doc := range []string{"doc-1", "", "", "never"} {
		m := map[string]any{"type": "unsubscribe", "id": "u", "collection": "fresh"}
		if doc != "" {
			m["document"] = doc
		}
		if r := rc.request(m); r.Type != "unsubscribe" || r.ID != "u" || r.Collection != "fresh" || r.Document != doc || r.Error != nil {
			t.Errorf("unsubscribe %q: %s", doc, r)
		}
	}
	// Nothing arrives once unsubscribed.
	tn.broadcast(t, "fresh", "two")
	rc.ping()
}

// TestCollectionAndDocumentSubscriptions: a document's messages reach its
// collection's and its own subscribers, once per connection.
func TestCollectionAndDocumentSubscriptions(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	a := tn.dialUser(t, "a", "docs", "end")
	b := tn.dialUser(t, "b", "docs", "end")
	c := tn.dialUser(t, "c", "docs", "end")
	d := tn.dialUser(t, "d", "docs", "end")
	subscribe(t, a, "docs", "")
	subscribe(t, b, "docs", "d1")
	subscribe(t, c, "docs", "")
	subscribe(t, c, "docs", "d1")
	subscribe(t, d, "docs", "d2")
	for _, cl := range []*client.Client{a, b, c, d} {
		subscribe(t, cl, "end", "")
	}

	tn.broadcast(t, "docs.d1", "m1")
	tn.broadcast(t, "docs", "m2")
	tn.broadcast(t, "docs.d2", "m3")
	var pub publishResult
	tn.adminOK(t, http.MethodPost, "/api/ws/publish/document",
		map[string]any{"collection": "docs", "document": "d1", "operation": []any{map[string]any{"p": []any{"x"}, "oi": 1}}}, &pub)
	if pub.Offset == nil || *pub.Offset != 4 {
		t.Errorf("publish/document answer %+v; want offset 4 (one stream per collection)", pub)
	}
	tn.broadcast(t, "end", "end")

	type exp struct {
		typ, doc string
		offset   uint64
		data     any
	}
	m1 := exp{"message", "d1", 1, "m1"}
	m2 := exp{"message", "", 2, "m2"}
	m3 := exp{"message", "d2", 3, "m3"}
	m4 := exp{"op", "d1", 4, nil}
	for _, tc := range []struct {
		name string
		c    *client.Client
		want []exp
	}{
		{"collection", a, []exp{m1, m2, m3, m4}},
		{"document d1", b, []exp{m1, m4}},
		{"collection and d1", c, []exp{m1, m2, m3, m4}},
		{"document d2", d, []exp{m3}},
	} {
		for _, w := range tc.want {
			m := recv(t, tc.c)
			if m.Type != w.typ || m.Collection != "docs" || m.Document != w.doc || m.Offset == nil || *m.Offset != w.offset ||
				(w.data != nil && !jsonEqual(t, m.Data, w.data)) {
				t.Fatalf("%s: got %s %s/%s offset %v data %s; want %+v", tc.name, m.Type, m.Collection, m.Document, m.Offset, m.Data, w)
			}
			if w.typ == "op" {
				if !jsonEqual(t, dataField(t, m.Data, "source"), "server") || len(dataField(t, m.Data, "op")) == 0 {
					t.Errorf("%s: op data %s; want op and source server", tc.name, m.Data)
				}
			}
		}
		recvMessage(t, tc.c, "end", "end")
	}
}

// TestRecovery: subscribe with since replays exactly the missed messages,
// in order, before a reply with recovered true; or nothing, and recovered
// false.
func TestRecovery(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--history-size", "5", "--replay-limit", "3"))
	const realEpoch = ""
	tests := []struct {
		name      string
		published int    // messages published first, 1..n
		document  string // subscribe to this document; messages alternate d1, d2
		since     uint64
		epoch     string // realEpoch: the stream's
		replayed  []uint64
		recovered bool
	}{
		{"missed two", 3, "", 1, realEpoch, []uint64{2, 3}, true},
		{"missed all", 3, "", 0, realEpoch, []uint64{1, 2, 3}, true},
		{"up to date", 3, "", 3, realEpoch, []uint64{}, true},
		{"wrong epoch", 3, "", 1, "not-the-epoch", []uint64{}, false},
		{"ahead of the stream", 3, "", 10, realEpoch, []uint64{}, false},
		{"pruned", 8, "", 1, realEpoch, []uint64{}, false}, // history keeps 4..8
		{"just kept", 8, "", 5, realEpoch, []uint64{6, 7, 8}, true},
		{"over the replay limit", 5, "", 0, realEpoch, []uint64{}, false},
		{"at the replay limit", 5, "", 2, realEpoch, []uint64{3, 4, 5}, true},
		{"document only", 4, "d1", 1, realEpoch, []uint64{3}, true},
		{"unknown stream", 0, "", 0, "old-epoch", []uint64{}, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			collection := fmt.Sprintf("feed-%d", i)
			channel := func(n int) string {
				if tc.document == "" {
					return collection
				}
				return fmt.Sprintf("%s.d%d", collection, 2-n%2)
			}
			epoch := tc.epoch
			for n := 1; n <= tc.published; n++ {
				if e := tn.broadcast(t, channel(n), map[string]any{"n": n}).Epoch; tc.epoch == realEpoch {
					epoch = e
				}
			}
			rc, _ := tn.rawUser(t, "alice", "feed-*")
			before, r := rc.subscribeSince(collection, tc.document, tc.since, epoch)
			if got := offsets(t, before); fmt.Sprint(got) != fmt.Sprint(tc.replayed) {
				t.Errorf("replayed offsets %v; want %v", got, tc.replayed)
			}
			for _, m := range before {
				if m.Type != "message" || m.Collection != collection || !jsonEqual(t, dataField(t, m.Data, "n"), *m.Offset) {
					t.Errorf("replayed %s", m)
				}
			}
			if *r.Recovered != tc.recovered || *r.Offset != uint64(tc.published) {
				t.Errorf("reply recovered %v offset %d; want recovered %v at offset %d", *r.Recovered, *r.Offset, tc.recovered, tc.published)
			}
			if tc.epoch == realEpoch && *r.Epoch != epoch {
				t.Errorf("reply epoch %q; want %q", *r.Epoch, epoch)
			}
			// Live from the reply on.
			next := tn.broadcast(t, channel(1), "live")
			if m := rc.next(); m.Type != "message" || m.Offset == nil || *m.Offset != uint64(tc.published+1) || *m.Offset != *next.Offset {
				t.Errorf("live message after the reply: %s; want offset %d", m, tc.published+1)
			}
		})
	}
}

// TestLiveFromTheReply: while messages are published continuously, a
// subscriber with since receives every offset exactly once, in order:
// the replay up to the reply's offset, live ones after it.
func TestLiveFromTheReply(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	epoch := tn.broadcast(t, "busy", 1).Epoch
	const total = 60
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		for i := 2; i <= total; i++ {
			if err := tn.tryBroadcast(ctx, "busy", i); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	rc, _ := tn.rawUser(t, "alice", "busy")
	before, r := rc.subscribeSince("busy", "", 0, epoch)
	if !*r.Recovered {
		t.Fatalf("reply %+v; want recovered", r)
	}
	got := offsets(t, before)
	if uint64(len(got)) != *r.Offset {
		t.Errorf("replayed %v before a reply at offset %d", got, *r.Offset)
	}
	for *r.Offset < total && (len(got) == 0 || got[len(got)-1] < total) {
		got = append(got, offsets(t, []wireMsg{rc.next()})...)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for i, o := range got {
		if o != uint64(i+1) {
			t.Fatalf("offsets %v: position %d holds %d", got, i, o)
		}
	}
	if len(got) != total {
		t.Errorf("received %d offsets; want %d", len(got), total)
	}
	rc.ping() // nothing left over
}

// TestClientResume: pkg/client, kicked with reconnect true while messages
// are published, reconnects, resumes with since and receives what it
// missed exactly once.
func TestClientResume(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	tok := tokenFor(t, "alice", "feed")
	var attempts atomic.Int32
	gate := make(chan struct{})
	events := make(chan client.Event, 64)
	c := tn.dialClient(t, client.Config{
		TokenFunc: func(ctx context.Context) (string, error) {
			if attempts.Add(1) > 1 { // hold the reconnect until the test has published
				select {
				case <-gate:
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}
			return tok, nil
		},
		Reconnect:    true,
		ReconnectMin: 10 * time.Millisecond,
		ReconnectMax: 50 * time.Millisecond,
		OnEvent: func(e client.Event) {
			select {
			case events <- e:
			default:
			}
		},
	})
	subscribe(t, c, "feed", "")
	tn.broadcast(t, "feed", 1)
	recvMessage(t, c, "feed", 1)
	first := c.Info().ConnectionID

	var kicked struct {
		Disconnected int `json:"disconnected"`
	}
	tn.adminOK(t, http.MethodPost, "/api/ws/disconnect", map[string]any{"connection_id": first, "reconnect": true}, &kicked)
	if kicked.Disconnected != 1 {
		t.Errorf("disconnect answer %+v; want 1", kicked)
	}
	if m := recv(t, c); m.Type != "disconnect" || !jsonEqual(t, m.Data, map[string]any{"code": 4003, "reason": mustReason(t, m.Data), "reconnect": true}) {
		t.Errorf("got %s %s; want disconnect 4003 reconnect true", m.Type, m.Data)
	}
	awaitEvent(t, events, client.EventDisconnected)
	for i := 2; i <= 4; i++ {
		tn.broadcast(t, "feed", i)
	}
	close(gate)
	ev := awaitEvent(t, events, client.EventRecovered)
	if ev.Collection != "feed" || ev.Result.Offset != 4 {
		t.Errorf("recovered event %+v; want feed at offset 4", ev)
	}
	for i := 2; i <= 4; i++ {
		recvMessage(t, c, "feed", i)
	}
	tn.broadcast(t, "feed", 5)
	recvMessage(t, c, "feed", 5)
	if c.Info().ConnectionID == first {
		t.Error("the connection id did not change across the reconnect")
	}
	if pos, _ := c.Position("feed"); pos.Offset != 5 {
		t.Errorf("position %+v; want offset 5", pos)
	}
}

func mustReason(t *testing.T, data json.RawMessage) string {
	t.Helper()
	var s string
	_ = json.Unmarshal(dataField(t, data, "reason"), &s)
	return s
}

// awaitEvent waits for an event of type typ, skipping others.
func awaitEvent(t *testing.T, events <-chan client.Event, typ client.EventType) client.Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case e := <-events:
			if e.Type == typ {
				return e
			}
		case <-timer.C:
			t.Fatalf("no %v event within %v", typ, waitTimeout)
		}
	}
}
