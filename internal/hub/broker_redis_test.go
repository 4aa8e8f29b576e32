package hub

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/stream"
	"github.com/tablecast/tablecast/internal/stream/streamtest"
	"github.com/tablecast/tablecast/internal/testsupport/redistest"
)

// testRedis returns a client of the test Redis and a fresh key prefix.
func testRedis(t *testing.T) (*redis.Client, string) { return redistest.Client(t) }

func TestRedisHistoryContract(t *testing.T) {
	c, prefix := testRedis(t)
	var n int
	var mu sync.Mutex
	streamtest.HistoryContract(t, func(t *testing.T) stream.History {
		mu.Lock()
		n++
		p := prefix + strings.Repeat("h", n) + ":"
		mu.Unlock()
		return NewRedisHistory(c, p, streamtest.ContractSize, time.Hour)
	})
}

// recorder collects what a broker hands to its node.
type recorder struct {
	mu   sync.Mutex
	pubs []*Publication
	got  chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1000)} }

func (r *recorder) handle(p *Publication) {
	r.mu.Lock()
	r.pubs = append(r.pubs, p)
	r.mu.Unlock()
	r.got <- struct{}{}
}

// wait returns once n publications have arrived in all. The bound covers
// a dead node's detection (its key's TTL and a heartbeat) with room.
func (r *recorder) wait(t *testing.T, n int) []*Publication {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		r.mu.Lock()
		if len(r.pubs) >= n {
			out := append([]*Publication(nil), r.pubs...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("%d publications after 15s, want %d", len(r.pubs), n)
		}
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pubs)
}

// brokerFactory makes a node's broker for a test.
type brokerFactory func(t *testing.T) Broker

func memoryBroker(t *testing.T) Broker {
	h := stream.NewMemoryHistory(stream.MemoryHistoryConfig{Size: 100, TTL: time.Hour})
	t.Cleanup(h.Close)
	return NewMemoryBroker(h)
}

func redisNode(t *testing.T, c *redis.Client, prefix, node string) *RedisBroker {
	t.Helper()
	b, err := NewRedisBroker(RedisBrokerConfig{Client: c, Prefix: prefix, NodeID: node, HistorySize: 100, HistoryTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func startBroker(t *testing.T, b Broker) *recorder {
	t.Helper()
	r := newRecorder()
	if err := b.Start(context.Background(), r.handle); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return r
}

// TestBrokerContract: what the hub relies on, from the memory broker (one
// node) and the Redis broker (one node, then two sharing Redis).
func TestBrokerContract(t *testing.T) {
	factories := map[string]func(t *testing.T) brokerFactory{
		"memory": func(*testing.T) brokerFactory { return memoryBroker },
		"redis": func(t *testing.T) brokerFactory {
			c, prefix := testRedis(t)
			return func(t *testing.T) Broker { return redisNode(t, c, prefix, "n1") }
		},
	}
	for name, factory := range factories {
		t.Run(name, func(t *testing.T) {
			newBroker := factory(t)
			ctx := context.Background()
			b := newBroker(t)
			rec := startBroker(t, b)
			if err := b.Subscribe(ctx, "chat"); err != nil {
				t.Fatal(err)
			}
			top, err := b.Top(ctx, "chat")
			if err != nil || top.Offset != 0 || top.Epoch == "" {
				t.Fatalf("Top of a new stream = %+v, %v", top, err)
			}
			for i := 1; i <= 3; i++ {
				pos, err := b.Publish(ctx, &Publication{Kind: KindMessage, Collection: "chat", Data: []byte(`{"i":` + string(rune('0'+i)) + `}`)})
				if err != nil || pos.Offset != uint64(i) || pos.Epoch != top.Epoch {
					t.Fatalf("publish %d: %+v %v (epoch %s)", i, pos, err, top.Epoch)
				}
			}
			got := rec.wait(t, 3)
			for i, p := range got {
				if p.Offset != uint64(i+1) || p.Epoch != top.Epoch || p.Collection != "chat" {
					t.Fatalf("delivery %d: %+v", i, p)
				}
			}
			hist, pos, err := b.History(ctx, "chat", stream.Position{Offset: 1, Epoch: top.Epoch}, 10)
			if err != nil || len(hist) != 2 || hist[0].Offset != 2 || string(hist[1].Data) != `{"i":3}` || pos.Offset != 3 {
				t.Fatalf("History since 1: %+v %+v %v", hist, pos, err)
			}
			if _, _, err := b.History(ctx, "chat", stream.Position{Offset: 1, Epoch: "other"}, 10); err == nil {
				t.Fatal("History with another epoch: no error")
			}
			// Unstreamed kinds reach the node too.
			if _, err := b.Publish(ctx, &Publication{Kind: KindUser, UserID: "u1", Data: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			if p := rec.wait(t, 4)[3]; p.Kind != KindUser || p.UserID != "u1" {
				t.Fatalf("user publication: %+v", p)
			}
		})
	}
}

// TestRedisBrokerAcrossNodes: two nodes sharing a Redis. A node receives
// the streams it subscribed to and user-targeted publications, never its
// own unstreamed publications twice, and nothing of streams it did not
// subscribe to.
func TestRedisBrokerAcrossNodes(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := context.Background()
	a, b := redisNode(t, c, prefix, "A"), redisNode(t, c, prefix, "B")
	ra, rb := startBroker(t, a), startBroker(t, b)
	if err := a.Subscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if err := a.Subscribe(ctx, "table:7"); err != nil {
		t.Fatal(err)
	}
	// B publishes on a stream only A has subscribers for.
	pos, err := b.Publish(ctx, &Publication{Kind: KindMessage, Collection: "room", Data: []byte(`"hi"`)})
	if err != nil || pos.Offset != 1 {
		t.Fatalf("publish: %+v %v", pos, err)
	}
	if p := ra.wait(t, 1)[0]; p.Offset != 1 || p.Epoch != pos.Epoch || string(p.Data) != `"hi"` {
		t.Fatalf("A received %+v", p)
	}
	// An event from B: B's node has it at once, A through Redis, once each.
	ev := &Publication{Kind: KindEvent, Stream: "table:7", Offset: 42, Epoch: "outbox1", Event: "rows_created", Data: []byte(`{}`)}
	if _, err := b.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if p := ra.wait(t, 2)[1]; p.Kind != KindEvent || p.Offset != 42 || p.Stream != "table:7" {
		t.Fatalf("A received %+v", p)
	}
	// A user-targeted publication reaches every node once.
	if _, err := b.Publish(ctx, &Publication{Kind: KindUser, UserID: "u", Data: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, 3)
	// B got its event and its user publication, each once, and nothing of
	// "room": a marker published after them arrives third.
	if _, err := b.Publish(ctx, &Publication{Kind: KindUser, UserID: "marker", Data: []byte(`2`)}); err != nil {
		t.Fatal(err)
	}
	got := rb.wait(t, 3)
	if got[0].Kind != KindEvent || got[1].UserID != "u" || got[2].UserID != "marker" {
		t.Fatalf("B received %+v %+v %+v", got[0], got[1], got[2])
	}
	ra.wait(t, 4)
	// The marker came last: had B received anything else, it would be there.
	if n := rb.count(); n != 3 {
		t.Fatalf("B received %d publications, want 3", n)
	}
	// Unsubscribing stops the routing (Redis confirms it asynchronously: a
	// message already on its way may still arrive, which the hub drops).
	if err := a.Unsubscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if pos, err := b.Publish(ctx, &Publication{Kind: KindMessage, Collection: "room", Data: []byte(`"later"`)}); err != nil || pos.Offset != 2 {
		t.Fatalf("publish after unsubscribe: %+v %v", pos, err)
	}
}

// crash stops a Redis broker as a killed process would: no leave, no
// cleanup, its node key left to expire.
func (b *RedisBroker) crash() {
	b.mu.Lock()
	ps, cancel, done, beatDone := b.ps, b.cancel, b.done, b.beatDone
	b.ps, b.handler = nil, nil
	b.mu.Unlock()
	cancel()
	_ = ps.Close()
	<-done
	<-beatDone
}

// TestRedisClusterStateAndDeadNodes: presence and sessions recorded on one
// node are seen from another, with both nodes' statistics; when a node dies
// (no clean stop), a live node removes its presence, telling every node
// with a leave, and its sessions.
func TestRedisClusterStateAndDeadNodes(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := context.Background()
	a, b := redisNode(t, c, prefix, "A"), redisNode(t, c, prefix, "B")
	a.SetStats(func() Stats { return Stats{NodeID: "A", Connections: 3} })
	b.SetStats(func() Stats { return Stats{NodeID: "B", Connections: 4} })
	r := newRecorder()
	if err := a.Start(ctx, func(*Publication) {}); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx, r.handle); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Subscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	info := PresenceInfo{Document: "d1", UserID: "u", SessionID: "s", ConnectionID: "c_a", State: json.RawMessage(`{"x":1}`), Node: "A"}
	if err := a.PutPresence(ctx, "room", info); err != nil {
		t.Fatal(err)
	}
	if err := a.PutSession(ctx, "u", SessionInfo{ConnectionID: "c_a", SessionID: "s", Node: "A"}, true); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ClusterPresence(ctx, "room", "d1"); err != nil || len(got) != 1 || got[0].ConnectionID != "c_a" || got[0].Node != "A" {
		t.Fatalf("presence seen from B: %+v %v", got, err)
	}
	if got, err := b.ClusterPresence(ctx, "room", "d2"); err != nil || len(got) != 0 {
		t.Fatalf("presence of another document: %+v %v", got, err)
	}
	if got, err := b.ClusterOnline(ctx, "u"); err != nil || len(got) != 1 || got[0].Node != "A" {
		t.Fatalf("sessions seen from B: %+v %v", got, err)
	}
	// Each node reports its statistics with its first heartbeat.
	deadline := time.Now().Add(5 * time.Second)
	for {
		stats, err := b.NodeStats(ctx)
		if err == nil && len(stats) == 2 && stats[0].Connections+stats[1].Connections == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node stats: %+v %v", stats, err)
		}
		time.Sleep(50 * time.Millisecond) // heartbeats are periodic: nothing to await
	}

	a.crash()
	// B notices within nodeTTL and a heartbeat, and publishes the leave.
	got := r.wait(t, 1)
	if p := got[0]; p.Kind != KindPresence || p.ConnID != "c_a" || string(p.Data) != "null" || p.Document != "d1" {
		t.Fatalf("B received %+v", p)
	}
	if got, err := b.ClusterPresence(ctx, "room", ""); err != nil || len(got) != 0 {
		t.Fatalf("presence after A died: %+v %v", got, err)
	}
	if got, err := b.ClusterOnline(ctx, "u"); err != nil || len(got) != 0 {
		t.Fatalf("sessions after A died: %+v %v", got, err)
	}
	if stats, err := b.NodeStats(ctx); err != nil || len(stats) != 1 || stats[0].NodeID != "B" {
		t.Fatalf("node stats after A died: %+v %v", stats, err)
	}
}
