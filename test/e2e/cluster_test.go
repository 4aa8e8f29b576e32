package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/testsupport/redistest"
	"github.com/tablecast/tablecast/pkg/client"
)

// The cluster tests run three nodes in this process, sharing a fresh
// PostgreSQL database and a Redis key prefix of their own: what crosses
// nodes goes through Redis exactly as between processes. (The suite in
// test/cluster runs real processes, for what needs killing one.)

// startCluster starts n nodes on one PostgreSQL database and one Redis
// prefix.
func startCluster(t *testing.T, n int) []*testNode {
	t.Helper()
	url, prefix := redistest.Prefix(t)
	db := freshPostgres(t)
	nodes := make([]*testNode, n)
	for i := range nodes {
		nodes[i] = startNode(t, withDatabase(db),
			withArgs("--redis-url", url, "--redis-prefix", prefix, "--node-id", "node-"+string(rune('A'+i))))
	}
	return nodes
}

// TestClusterWritesThroughOtherNodesArriveInOrder: a subscriber on A
// receives, in offset order with no gap or duplicate, the writes made
// through B and C at once.
func TestClusterWritesThroughOtherNodesArriveInOrder(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	_, tbl, name := tableFixture(t, b)
	col := fmt.Sprintf("record_%d", tbl)
	sub := a.dialUser(t, "owner")
	res := subscribe(t, sub, col, "")
	const perNode = 20
	token := tokenFor(t, "owner") // the writers run off the test goroutine: no t there
	errs := make(chan error, 2)
	for _, n := range []*testNode{b, c} {
		go func() {
			for i := range perNode {
				body := fmt.Sprintf(`{"fields":{"%d":"r%d"}}`, name, i)
				req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/tables/%d/rows", n.httpURL, tbl), strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := n.hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("write through %s: %d", n.httpURL, resp.StatusCode)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	next := res.Offset + 1
	for range 2 * perNode {
		m := recv(t, sub)
		if m.Type != "op" || m.Offset == nil || *m.Offset != next {
			t.Fatalf("got %s at offset %v, want an op at %d", m.Type, m.Offset, next)
		}
		next++
	}
}

// TestClusterUserBroadcastAndAppChannels: a user connected to A and C gets
// a broadcast sent through B once per connection; an app channel message
// published through B reaches A with its offset, and a client that moves
// to C recovers what it missed from the Redis history.
func TestClusterUserBroadcastAndAppChannels(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	onA, onC := a.dialUser(t, "ann", "news"), c.dialUser(t, "ann", "news")
	b.adminOK(t, http.MethodPost, "/api/ws/broadcast/user", map[string]any{"user_id": "ann", "message": map[string]any{"hi": 1}}, nil)
	for _, cl := range []*client.Client{onA, onC} {
		if m := recv(t, cl); !jsonEqual(t, m.Data, map[string]any{"hi": 1}) {
			t.Fatalf("user broadcast: %+v %s", m, m.Data)
		}
	}
	res := subscribe(t, onA, "news", "")
	first := b.broadcast(t, "news", map[string]any{"n": 1})
	if m := recvMessage(t, onA, "news", map[string]any{"n": 1}); m.Offset == nil || first.Offset == nil || *m.Offset != *first.Offset || *m.Offset != res.Offset+1 {
		t.Fatalf("message on A at %v, published at %v, subscribed at %d", m.Offset, first.Offset, res.Offset)
	}
	// Two more while nobody listens on A; then ann resumes on C.
	b.broadcast(t, "news", map[string]any{"n": 2})
	b.broadcast(t, "news", map[string]any{"n": 3})
	rec, err := onC.SubscribeFrom(ctxFor(t, waitTimeout), "news", "", client.Position{Offset: *first.Offset, Epoch: first.Epoch})
	if err != nil || !rec.Recovered {
		t.Fatalf("resume on C: %+v %v", rec, err)
	}
	recvMessage(t, onC, "news", map[string]any{"n": 2})
	recvMessage(t, onC, "news", map[string]any{"n": 3})
}

// TestClusterDisconnectAcrossNodes: the admin API of one node disconnects
// a user's connections on every node.
func TestClusterDisconnectAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	cl := a.dialUser(t, "bob")
	b.adminOK(t, http.MethodPost, "/api/ws/disconnect", map[string]any{"user_id": "bob"}, nil)
	err := waitDone(t, cl)
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != client.CloseKicked {
		t.Fatalf("bob's connection on A ended with %v, want close %d", err, client.CloseKicked)
	}
}

// TestClusterAdminViews: /api/ws/stats has the totals of every node and a
// row per node; presence and online sessions are the cluster's, whichever
// node answers.
func TestClusterAdminViews(t *testing.T) {
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	onA := a.dialUser(t, "carl", "lobby")
	b.dialUser(t, "dana", "lobby")
	subscribe(t, onA, "lobby", "")
	if err := onA.Presence(ctxFor(t, waitTimeout), "lobby", "", map[string]any{"here": true}); err != nil {
		t.Fatal(err)
	}
	var pres struct {
		Presence []struct {
			ConnectionID string `json:"connection_id"`
			Node         string `json:"node_id"`
		} `json:"presence"`
	}
	b.adminOK(t, http.MethodGet, "/api/ws/presence?channel=lobby", nil, &pres)
	if len(pres.Presence) != 1 || pres.Presence[0].ConnectionID != onA.Info().ConnectionID || pres.Presence[0].Node != "node-A" {
		t.Fatalf("presence asked of B: %+v", pres)
	}
	var online struct {
		Online   bool `json:"online"`
		Sessions []struct {
			Node string `json:"node_id"`
		} `json:"sessions"`
	}
	// Sessions are recorded in the cluster off the greeting's path.
	waitUntil(t, 5*time.Second, "carl's session on node-A seen from B", func() bool {
		b.adminOK(t, http.MethodGet, "/api/ws/online?user_id=carl", nil, &online)
		return online.Online && len(online.Sessions) == 1 && online.Sessions[0].Node == "node-A"
	})
	// Statistics travel with the heartbeats (every second).
	waitUntil(t, 5*time.Second, "both nodes in /api/ws/stats", func() bool {
		var st struct {
			Connections int64 `json:"connections"`
			NodeID      string
			Nodes       []struct {
				NodeID      string `json:"node_id"`
				Connections int64  `json:"connections"`
			} `json:"nodes"`
		}
		status, body := a.admin(t, http.MethodGet, "/api/ws/stats", nil)
		if status != http.StatusOK || json.Unmarshal(body, &st) != nil {
			return false
		}
		return len(st.Nodes) == 2 && st.Nodes[0].NodeID == "node-A" && st.Nodes[1].NodeID == "node-B" &&
			st.Connections == st.Nodes[0].Connections+st.Nodes[1].Connections && st.Connections >= 2
	})
}

// TestClusterSubmitsConverge: OT clients on two nodes edit one record at
// once, while REST writes through the second node change another cell.
// Each node keeps the record in memory (hot documents) and the other
// node's writes make it stale; every op still lands once, transformed,
// and every client's copy ends equal to the stored document.
func TestClusterSubmitsConverge(t *testing.T) {
	nodes := startCluster(t, 2)
	editConcurrently(t, nodes, nodes[1], 7)
}
