package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
	"github.com/tablecast/tablecast/internal/testsupport/redistest"
)

// TestWebhookNodeKilled: two nodes on PostgreSQL share a webhook; the one
// holding its lease is killed (SIGKILL) in the middle of a call; the other
// takes the webhook over once the lease runs out, and the receiver gets
// every event at least once, in offset order.
func TestWebhookNodeKilled(t *testing.T) {
	redisURL, prefix := redistest.Prefix(t)
	db := pgtest.FreshDatabase(t)
	env := []string{"TABLECAST_WEBHOOK_ALLOW_PRIVATE=true", "TABLECAST_WEBHOOK_LEASE=2s",
		"TABLECAST_WEBHOOK_RETRY_BASE=10ms", "TABLECAST_WEBHOOK_TIMEOUT=3s"}
	nodes := map[string]*node{
		"A": startNode(t, "A", db, redisURL, prefix, env...),
		"B": startNode(t, "B", db, redisURL, prefix, env...),
	}
	tbl, field := table(t, nodes["B"])

	// The receiver takes every call but the 30th, which it holds until the
	// caller goes away.
	var mu sync.Mutex
	type call struct {
		id     string
		offset uint64
		ok     bool
	}
	var calls []call
	hung := make(chan struct{})
	got := make(chan struct{}, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct{ Offset uint64 }
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		n := len(calls) + 1
		hang := n == 30
		calls = append(calls, call{id: r.Header.Get("webhook-id"), offset: p.Offset, ok: !hang})
		mu.Unlock()
		defer func() {
			select {
			case got <- struct{}{}:
			default:
			}
		}()
		if hang {
			close(hung)
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	var hook struct {
		ID              int64  `json:"id"`
		DeliveredOffset uint64 `json:"delivered_offset"`
	}
	nodes["B"].do(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/webhooks", tbl), map[string]any{"url": rcv.URL}, &hook)
	for i := range 60 {
		addRow(t, nodes["B"], tbl, field, fmt.Sprint("before ", i))
	}
	select {
	case <-hung:
	case <-time.After(wait):
		t.Fatal("the receiver got no 30th call")
	}

	// Kill the node that is calling.
	conn, err := pgx.Connect(ctx(t), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var owner string
	if err := conn.QueryRow(ctx(t), `SELECT lease_owner FROM webhooks WHERE id = $1`, hook.ID).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	victim, _, _ := strings.Cut(owner, "/")
	if nodes[victim] == nil {
		t.Fatalf("lease owner %q is neither node", owner)
	}
	nodes[victim].stop(syscall.SIGKILL)
	survivor := nodes["A"]
	if victim == "A" {
		survivor = nodes["B"]
	}
	for i := range 40 {
		addRow(t, survivor, tbl, field, fmt.Sprint("after ", i))
	}

	// Every event at least once, in order.
	want := 100
	deadline := time.After(30 * time.Second)
	for {
		mu.Lock()
		var firsts []uint64
		seen := map[string]bool{}
		for _, c := range calls {
			if c.ok && !seen[c.id] {
				seen[c.id] = true
				firsts = append(firsts, c.offset)
			}
		}
		mu.Unlock()
		if len(firsts) >= want {
			for i, off := range firsts {
				if off != hook.DeliveredOffset+uint64(i)+1 {
					t.Fatalf("event %d taken has offset %d, want %d (taken: %v)", i, off, hook.DeliveredOffset+uint64(i)+1, firsts)
				}
			}
			break
		}
		select {
		case <-got:
		case <-deadline:
			t.Fatalf("%d of %d events taken after the kill of %s", len(firsts), want, victim)
		}
	}
	if err := conn.QueryRow(ctx(t), `SELECT lease_owner FROM webhooks WHERE id = $1`, hook.ID).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(owner, victim+"/") {
		t.Fatalf("the lease is still the dead node's: %q", owner)
	}
}
