package redisbroker

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/hub/brokertest"
	"github.com/tablecast/tablecast/internal/stream"
	"github.com/tablecast/tablecast/internal/stream/streamtest"
	"github.com/tablecast/tablecast/internal/testsupport/redistest"
)

// testRedis returns a client of the test Redis and a fresh key prefix.
func testRedis(t *testing.T) (*redis.Client, string) { return redistest.Client(t) }

func TestHistoryContract(t *testing.T) {
	c, prefix := testRedis(t)
	var n int
	var mu sync.Mutex
	streamtest.HistoryContract(t, func(t *testing.T) stream.History {
		mu.Lock()
		n++
		p := prefix + strings.Repeat("h", n) + ":"
		mu.Unlock()
		return NewHistory(c, p, streamtest.ContractSize, time.Hour)
	})
}

func redisNode(t *testing.T, c *redis.Client, prefix, node string) *Broker {
	t.Helper()
	b, err := New(Config{Client: c, Prefix: prefix, NodeID: node, HistorySize: 100, HistoryTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBrokerContract runs the brokers' contract (brokertest) on the Redis
// broker, each case under a key prefix of its own.
func TestBrokerContract(t *testing.T) {
	brokertest.Contract(t, func(t *testing.T) hub.Broker {
		c, prefix := testRedis(t)
		return redisNode(t, c, prefix, "n1")
	})
}

// TestBrokerAcrossNodes: two nodes sharing a Redis. A node receives
// the streams it subscribed to and user-targeted publications, never its
// own unstreamed publications twice, and nothing of streams it did not
// subscribe to.
func TestBrokerAcrossNodes(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := context.Background()
	a, b := redisNode(t, c, prefix, "A"), redisNode(t, c, prefix, "B")
	ra, rb := brokertest.Start(t, a), brokertest.Start(t, b)
	if err := a.Subscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if err := a.Subscribe(ctx, "table:7"); err != nil {
		t.Fatal(err)
	}
	// B publishes on a stream only A has subscribers for.
	pos, err := b.Publish(ctx, &hub.Publication{Kind: hub.KindMessage, Collection: "room", Data: []byte(`"hi"`)})
	if err != nil || pos.Offset != 1 {
		t.Fatalf("publish: %+v %v", pos, err)
	}
	if p := ra.Wait(t, 1)[0]; p.Offset != 1 || p.Epoch != pos.Epoch || string(p.Data) != `"hi"` {
		t.Fatalf("A received %+v", p)
	}
	// An event from B: B's node has it at once, A through Redis, once each.
	ev := &hub.Publication{Kind: hub.KindEvent, Stream: "table:7", Offset: 42, Epoch: "outbox1", Event: "rows_created", Data: []byte(`{}`)}
	if _, err := b.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if p := ra.Wait(t, 2)[1]; p.Kind != hub.KindEvent || p.Offset != 42 || p.Stream != "table:7" {
		t.Fatalf("A received %+v", p)
	}
	// A user-targeted publication reaches every node once.
	if _, err := b.Publish(ctx, &hub.Publication{Kind: hub.KindUser, Target: hub.Target{UserID: "u"}, Data: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	ra.Wait(t, 3)
	// B got its event and its user publication, each once, and nothing of
	// "room": a marker published after them arrives third.
	if _, err := b.Publish(ctx, &hub.Publication{Kind: hub.KindUser, Target: hub.Target{UserID: "marker"}, Data: []byte(`2`)}); err != nil {
		t.Fatal(err)
	}
	got := rb.Wait(t, 3)
	if got[0].Kind != hub.KindEvent || got[1].Target.UserID != "u" || got[2].Target.UserID != "marker" {
		t.Fatalf("B received %+v %+v %+v", got[0], got[1], got[2])
	}
	ra.Wait(t, 4)
	// The marker came last: had B received anything else, it would be there.
	if n := rb.Count(); n != 3 {
		t.Fatalf("B received %d publications, want 3", n)
	}
	// Unsubscribing stops the routing (Redis confirms it asynchronously: a
	// message already on its way may still arrive, which the hub drops).
	if err := a.Unsubscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if pos, err := b.Publish(ctx, &hub.Publication{Kind: hub.KindMessage, Collection: "room", Data: []byte(`"later"`)}); err != nil || pos.Offset != 2 {
		t.Fatalf("publish after unsubscribe: %+v %v", pos, err)
	}
}

// crash stops a Redis broker as a killed process would: no leave, no
// cleanup, its node key left to expire.
func (b *Broker) crash() {
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
	a.SetStats(func() hub.Stats { return hub.Stats{NodeID: "A", Connections: 3} })
	b.SetStats(func() hub.Stats { return hub.Stats{NodeID: "B", Connections: 4} })
	r := brokertest.NewRecorder()
	if err := a.Start(ctx, brokertest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Subscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	info := hub.PresenceInfo{Document: "d1", UserID: "u", SessionID: "s", ConnectionID: "c_a", State: json.RawMessage(`{"x":1}`), Node: "A"}
	if err := a.PutPresence(ctx, "room", info); err != nil {
		t.Fatal(err)
	}
	if err := a.PutSession(ctx, "u", hub.SessionInfo{ConnectionID: "c_a", SessionID: "s", Node: "A"}, true); err != nil {
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
	got := r.Wait(t, 1)
	if p := got[0]; p.Kind != hub.KindPresence || p.Author.ConnID != "c_a" || string(p.Data) != "null" || p.Document != "d1" {
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
