package cluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
	"github.com/tablecast/tablecast/internal/testsupport/redistest"
	"github.com/tablecast/tablecast/pkg/client"
)

// TestSoak spreads TABLECAST_TEST_SOAK_CONNS connections (default 10,000)
// over three nodes, writes and broadcasts for TABLECAST_TEST_SOAK (a
// duration, e.g. 3m; the test runs only when it is set, since it takes
// minutes and most of the machine), closes them, and checks that every
// node comes back to its goroutine count from before the load and that
// its live heap does not keep what the load used.
func TestSoak(t *testing.T) {
	d := os.Getenv("TABLECAST_TEST_SOAK")
	if d == "" {
		t.Skip("set TABLECAST_TEST_SOAK=3m (and TABLECAST_TEST_SOAK_CONNS) to run the soak")
	}
	dur, err := time.ParseDuration(d)
	if err != nil {
		t.Fatalf("TABLECAST_TEST_SOAK: %v", err)
	}
	conns := 10000
	if v := os.Getenv("TABLECAST_TEST_SOAK_CONNS"); v != "" {
		if conns, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	redisURL, prefix := redistest.Prefix(t)
	db := pgtest.FreshDatabase(t)
	nodes := []*node{startNode(t, "A", db, redisURL, prefix), startNode(t, "B", db, redisURL, prefix), startNode(t, "C", db, redisURL, prefix)}
	tbl, field := table(t, nodes[0])
	col := fmt.Sprintf("record_%d", tbl)

	before := make([]nodeMetrics, len(nodes))
	for i, n := range nodes {
		before[i] = n.metrics(t)
	}
	t.Logf("before: %+v", before)

	// Connect, spread over the nodes and over source addresses (ports run
	// out past ~28,000 per address).
	clients := make([]*client.Client, conns)
	var failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	tok := token(t, "owner", "lobby") // the table's owner: table subscriptions need membership
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n := nodes[i%len(nodes)]
			c, err := client.Dial(ctx, client.Config{URL: n.ws, Token: tok, LocalAddr: "127.0.0." + strconv.Itoa(2+i%8), MessageBuffer: 64})
			if err != nil {
				failed.Add(1)
				return
			}
			if i%2 == 0 {
				_, err = c.Subscribe(ctx, col, "")
			} else {
				_, err = c.Subscribe(ctx, "lobby", "")
			}
			if err != nil {
				failed.Add(1)
			}
			clients[i] = c
			go func() { // drain
				for range c.Messages() {
				}
			}()
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d connections failed", f, conns)
	}
	t.Logf("%d connections open", conns)

	// The load: table writes and channel broadcasts through every node.
	stop := time.Now().Add(dur)
	for i := 0; time.Now().Before(stop); i++ {
		n := nodes[i%len(nodes)]
		addRow(t, n, tbl, field, "soak "+strconv.Itoa(i))
		n.do(t, "", "POST", "/api/ws/broadcast/channel", map[string]any{"channel": "lobby", "message": map[string]any{"i": i}}, nil)
		time.Sleep(100 * time.Millisecond) // the pace of the load
	}
	during := make([]nodeMetrics, len(nodes))
	for i, n := range nodes {
		during[i] = n.metrics(t)
	}
	t.Logf("during: %+v", during)

	for _, c := range clients {
		_ = c.Close()
	}
	// Every node back to its goroutines from before; the heap freed.
	deadline := time.Now().Add(2 * time.Minute)
	for i, n := range nodes {
		for {
			m := n.metrics(t)
			if m.connections == 0 && m.goroutines <= before[i].goroutines+5 && m.heapAlloc < before[i].heapAlloc+32<<20 {
				t.Logf("node %s after: %+v", n.id, m)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s after the load: %+v, before: %+v", n.id, m, before[i])
			}
			time.Sleep(time.Second) // the runtime frees memory on its own schedule
		}
	}
}

type nodeMetrics struct {
	connections float64
	goroutines  float64
	heapAlloc   float64
	rss         float64
}

func (n *node) metrics(t *testing.T) nodeMetrics {
	t.Helper()
	st, body := n.get("/metrics")
	if st != 200 {
		t.Fatalf("/metrics on %s: %d", n.id, st)
	}
	var m nodeMetrics
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "tablecast_connections":
			m.connections = v
		case "go_goroutines":
			m.goroutines = v
		case "go_memstats_alloc_bytes":
			m.heapAlloc = v
		case "process_resident_memory_bytes":
			m.rss = v
		}
	}
	return m
}
