package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
	"github.com/tablecast/tablecast/internal/testsupport/redistest"
	"github.com/tablecast/tablecast/pkg/client"
)

// TestKilledNode: presence set on A is seen from C, and disappears when A
// is killed (SIGKILL); A's client resumes on B with since and receives
// everything written meanwhile through C, in order.
func TestKilledNode(t *testing.T) {
	redisURL, prefix := redistest.Prefix(t)
	db := pgtest.FreshDatabase(t)
	a, b, c := startNode(t, "A", db, redisURL, prefix), startNode(t, "B", db, redisURL, prefix), startNode(t, "C", db, redisURL, prefix)
	tbl, field := table(t, b)
	col := fmt.Sprintf("record_%d", tbl)

	onA := a.dial(t, "owner")
	res, err := onA.Subscribe(ctx(t), col, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onA.Subscribe(ctx(t), "lobby", ""); err != nil {
		t.Fatal(err)
	}
	if err := onA.Presence(ctx(t), "lobby", "", map[string]any{"cell": "A1"}); err != nil {
		t.Fatal(err)
	}
	// C subscribes after: the presence comes from the cluster's state.
	onC := c.dial(t, "viewer")
	if _, err := onC.Subscribe(ctx(t), "lobby", ""); err != nil {
		t.Fatal(err)
	}
	joined := next(t, onC, "presence")
	var pj struct {
		ConnectionID string          `json:"connection_id"`
		State        json.RawMessage `json:"state"`
	}
	_ = json.Unmarshal(joined.Data, &pj)
	if pj.ConnectionID != onA.Info().ConnectionID {
		t.Fatalf("C saw presence %s, want A's connection %s", joined.Data, onA.Info().ConnectionID)
	}
	addRow(t, c, tbl, field, "before")
	first := next(t, onA, "op")
	pos := client.Position{Offset: *first.Offset, Epoch: res.Epoch}

	a.stop(syscall.SIGKILL)
	// The cluster notices within a few seconds; C's subscriber is told.
	left := next(t, onC, "presence")
	var pl struct {
		ConnectionID string          `json:"connection_id"`
		State        json.RawMessage `json:"state"`
	}
	_ = json.Unmarshal(left.Data, &pl)
	if pl.ConnectionID != onA.Info().ConnectionID || string(pl.State) != "null" {
		t.Fatalf("C got %s, want A's connection leaving", left.Data)
	}
	for i := range 5 {
		addRow(t, c, tbl, field, "while A is down "+strconv.Itoa(i))
	}
	moved := b.dial(t, "owner")
	rec, err := moved.SubscribeFrom(ctx(t), col, "", pos)
	if err != nil || !rec.Recovered {
		t.Fatalf("resume on B: %+v %v", rec, err)
	}
	for i := range 5 {
		m := next(t, moved, "op")
		if *m.Offset != pos.Offset+uint64(i)+1 {
			t.Fatalf("replayed op %d at offset %d, want %d", i, *m.Offset, pos.Offset+uint64(i)+1)
		}
	}
}

// TestRedisGoesAway: with the suite's own Redis stopped, /readyz says so,
// writes keep committing and reach the subscribers of the node that made
// them; when Redis is back, the other node's subscriber receives every
// event it missed, in order, with no gap.
func TestRedisGoesAway(t *testing.T) {
	need(t, "TABLECAST_TEST_POSTGRES")
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (CI=true)")
		}
		t.Skip("redis-server is not installed")
	}
	port := strconv.Itoa(freePort(t))
	redisArgs := []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	rs := start(t, "redis-server", redisArgs)
	redisURL := "redis://127.0.0.1:" + port + "/0"
	waitRedis(t, port)
	db := pgtest.FreshDatabase(t)
	a, b := startNode(t, "A", db, redisURL, "tc:"), startNode(t, "B", db, redisURL, "tc:")
	tbl, field := table(t, b)
	col := fmt.Sprintf("record_%d", tbl)
	onA, onB := a.dial(t, "owner"), b.dial(t, "owner")
	resA, err := onA.Subscribe(ctx(t), col, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onB.Subscribe(ctx(t), col, ""); err != nil {
		t.Fatal(err)
	}
	addRow(t, b, tbl, field, "first")
	next(t, onA, "op")
	next(t, onB, "op")
	// An app channel's subscriber on A, who has seen a message.
	lobby := a.dial(t, "owner")
	if _, err := lobby.Subscribe(ctx(t), "lobby", ""); err != nil {
		t.Fatal(err)
	}
	b.do(t, "", "POST", "/api/ws/broadcast/channel", map[string]any{"channel": "lobby", "message": map[string]any{"n": 1}}, nil)
	seen := next(t, lobby, "message")
	seenPos, _ := lobby.Position("lobby")

	rs.stop(syscall.SIGTERM)
	deadline := time.Now().Add(wait)
	for st, body := a.get("/readyz"); st != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("broker")); st, body = a.get("/readyz") {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with Redis down: %d %s", st, body)
		}
		time.Sleep(50 * time.Millisecond) // polling
	}
	for i := range 3 {
		addRow(t, b, tbl, field, "during "+strconv.Itoa(i))
		if m := next(t, onB, "op"); *m.Offset != resA.Offset+uint64(i)+2 {
			t.Fatalf("B's subscriber got offset %d during the outage", *m.Offset)
		}
	}

	rs2 := start(t, "redis-server", redisArgs)
	_ = rs2
	waitRedis(t, port)
	for i := range 3 {
		m := next(t, onA, "op")
		if *m.Offset != resA.Offset+uint64(i)+2 {
			t.Fatalf("A's subscriber got offset %d after the outage, want %d", *m.Offset, resA.Offset+uint64(i)+2)
		}
	}
	addRow(t, b, tbl, field, "after")
	if m := next(t, onA, "op"); *m.Offset != resA.Offset+5 {
		t.Fatalf("A's subscriber got offset %d after Redis came back, want %d", *m.Offset, resA.Offset+5)
	}
	deadline = time.Now().Add(wait)
	for st, body := a.get("/readyz"); st != http.StatusOK; st, body = a.get("/readyz") {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after Redis came back: %d %s", st, body)
		}
		time.Sleep(50 * time.Millisecond) // polling
	}
	// The new Redis lost the channel's history: A closes its subscriber's
	// connection with 4002, and resuming from its position says it cannot
	// recover, rather than going on as if nothing was missed.
	err = waitEnd(t, lobby)
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != client.CloseSlowConsumer {
		t.Fatalf("the lobby subscriber ended with %v, want close 4002", err)
	}
	again := a.dial(t, "owner")
	res, err := again.SubscribeFrom(ctx(t), "lobby", "", seenPos)
	if err != nil || res.Recovered {
		t.Fatalf("resuming from %+v (message at %d) after the history was lost: %+v %v", seenPos, *seen.Offset, res, err)
	}
}

// TestBrokerLinkBreaks: a node whose Redis subscription breaks while
// messages are published gets them back when it reconnects: app-channel
// messages from the Redis history, table events from the outbox, each
// once, in order.
func TestBrokerLinkBreaks(t *testing.T) {
	need(t, "TABLECAST_TEST_POSTGRES")
	redisURL, _, _ := ownRedis(t)
	db := pgtest.FreshDatabase(t)
	a, b := startNode(t, "A", db, redisURL, "tc:"), startNode(t, "B", db, redisURL, "tc:")
	tbl, field := table(t, b)
	col := fmt.Sprintf("record_%d", tbl)
	onA := a.dial(t, "owner")
	resT, err := onA.Subscribe(ctx(t), col, "")
	if err != nil {
		t.Fatal(err)
	}
	resL, err := onA.Subscribe(ctx(t), "lobby", "")
	if err != nil {
		t.Fatal(err)
	}
	b.do(t, "", "POST", "/api/ws/broadcast/channel", map[string]any{"channel": "lobby", "message": map[string]any{"n": 0}}, nil)
	next(t, onA, "message")

	// A stops; its Redis connections are cut; B publishes; A goes on.
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	opts, _ := redis.ParseURL(redisURL)
	rc := redis.NewClient(opts)
	defer rc.Close()
	if err := rc.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		b.do(t, "", "POST", "/api/ws/broadcast/channel", map[string]any{"channel": "lobby", "message": map[string]any{"n": i}}, nil)
		addRow(t, b, tbl, field, "while A was cut off "+strconv.Itoa(i))
	}
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	wantMsg, wantOp := resL.Offset+2, resT.Offset+1
	for wantMsg <= resL.Offset+4 || wantOp <= resT.Offset+3 {
		m := next2(t, onA)
		switch m.Type {
		case "message":
			if *m.Offset != wantMsg {
				t.Fatalf("message at offset %d, want %d", *m.Offset, wantMsg)
			}
			wantMsg++
		case "op":
			if *m.Offset != wantOp {
				t.Fatalf("op at offset %d, want %d", *m.Offset, wantOp)
			}
			wantOp++
		}
	}
}

// TestWritesAndBroadcastsAcrossProcesses: a subscriber on A receives, in
// offset order with no gap or duplicate, rows written through B and C at
// once; a user connected to A and C receives a broadcast sent through B
// once per connection.
func TestWritesAndBroadcastsAcrossProcesses(t *testing.T) {
	redisURL, prefix := redistest.Prefix(t)
	db := pgtest.FreshDatabase(t)
	a, b, c := startNode(t, "A", db, redisURL, prefix), startNode(t, "B", db, redisURL, prefix), startNode(t, "C", db, redisURL, prefix)
	tbl, field := table(t, b)
	col := fmt.Sprintf("record_%d", tbl)
	sub := a.dial(t, "owner")
	res, err := sub.Subscribe(ctx(t), col, "")
	if err != nil {
		t.Fatal(err)
	}
	const perNode = 15
	errs := make(chan error, 2)
	for _, n := range []*node{b, c} {
		go func() { // t.Fatal belongs to the test's goroutine: report instead
			var err error
			for i := 0; i < perNode && err == nil; i++ {
				err = n.try("owner", "POST", fmt.Sprintf("/api/tables/%d/rows", tbl),
					map[string]any{"fields": map[string]any{field: n.id + strconv.Itoa(i)}})
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 * perNode {
		if m := next(t, sub, "op"); *m.Offset != res.Offset+uint64(i)+1 {
			t.Fatalf("op %d at offset %d, want %d", i, *m.Offset, res.Offset+uint64(i)+1)
		}
	}
	onA, onC := a.dial(t, "erin"), c.dial(t, "erin")
	b.do(t, "", "POST", "/api/ws/broadcast/user", map[string]any{"user_id": "erin", "message": map[string]any{"hi": 1}}, nil)
	for _, cl := range []*client.Client{onA, onC} {
		if m := next(t, cl, "message"); string(m.Data) != `{"hi":1}` {
			t.Fatalf("broadcast: %s", m.Data)
		}
	}
	// Once each: a second broadcast is the next message on both.
	b.do(t, "", "POST", "/api/ws/broadcast/user", map[string]any{"user_id": "erin", "message": map[string]any{"hi": 2}}, nil)
	for _, cl := range []*client.Client{onA, onC} {
		if m := next(t, cl, "message"); string(m.Data) != `{"hi":2}` {
			t.Fatalf("second broadcast: %s", m.Data)
		}
	}
}
