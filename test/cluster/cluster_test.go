// Package cluster runs tablecast as several real processes on loopback
// ports, with the running PostgreSQL and a Redis (the shared one under a
// fresh key prefix, or one the suite starts and stops), for what needs a
// process to die: SIGKILL of a node, Redis going away and coming back.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
	"github.com/tablecast/tablecast/internal/testsupport/redistest"
	"github.com/tablecast/tablecast/pkg/client"
)

const (
	secret = "cluster-test-secret-0123456789abcdef"
	apiKey = "cluster-test-api-key"
	wait   = 15 * time.Second
)

var binary string // the tablecast binary, built once

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tablecast-cluster")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tablecast")
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/tablecast").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building tablecast: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// need skips the test (fails under CI=true) when a variable is not set.
func need(t *testing.T, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set (CI=true)", env)
		}
		t.Skipf("set %s to run the multi-process cluster tests", env)
	}
	return v
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a process the test started; it is killed when the test ends.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
	done chan error
}

func start(t *testing.T, name string, args []string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{t: t, cmd: cmd, out: new(bytes.Buffer), done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(syscall.SIGKILL) })
	return p
}

// stop signals the process and waits for it (SIGKILL after 10 s).
func (p *proc) stop(sig syscall.Signal) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.done <- nil // for a later stop
}

// node is one tablecast serve process.
type node struct {
	*proc
	id   string
	http string
	ws   string
}

func startNode(t *testing.T, id, db, redisURL, prefix string) *node {
	t.Helper()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := start(t, binary, []string{"serve", "--listen", addr, "--connect-rate", "off", "--log-level", "warn"},
		"TABLECAST_JWT_SECRET="+secret, "TABLECAST_API_KEY="+apiKey, "TABLECAST_DATABASE_URL="+db,
		"TABLECAST_REDIS_URL="+redisURL, "TABLECAST_REDIS_PREFIX="+prefix, "TABLECAST_NODE_ID="+id)
	n := &node{proc: p, id: id, http: "http://" + addr, ws: "ws://" + addr + "/api/ws/socket"}
	deadline := time.Now().Add(wait)
	for {
		if st, _ := n.get("/readyz"); st == http.StatusOK {
			return n
		}
		select {
		case err := <-p.done:
			t.Fatalf("node %s exited: %v\n%s", id, err, p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not ready after %v\n%s", id, wait, p.out)
		}
		time.Sleep(50 * time.Millisecond) // polling a process's readiness
	}
}

func (n *node) get(path string) (int, []byte) {
	resp, err := http.Get(n.http + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// do calls the HTTP API as user (or with the API key when user is "").
func (n *node) do(t *testing.T, user, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.http+path, r)
	tok := apiKey
	if user != "" {
		tok = token(t, user, "lobby")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, n.id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s on %s: %d %s", method, path, n.id, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
}

// try is do for goroutines other than the test's: it returns the error.
func (n *node) try(user, method, path string, body any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, n.http+path, bytes.NewReader(b))
	now := time.Now()
	tok, err := auth.Sign([]byte(secret), auth.Claims{Subject: user, ExpiresAt: now.Add(time.Hour)}, now)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s on %s: %d %s", method, path, n.id, resp.StatusCode, msg)
	}
	return nil
}

func token(t *testing.T, user string, channels ...string) string {
	t.Helper()
	now := time.Now()
	tok, err := auth.Sign([]byte(secret), auth.Claims{Subject: user, Channels: channels, ExpiresAt: now.Add(time.Hour)}, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (n *node) dial(t *testing.T, user string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: n.ws, Token: token(t, user, "lobby")})
	if err != nil {
		t.Fatalf("dial %s: %v", n.id, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

// next returns c's next message of type typ, skipping others.
func next(t *testing.T, c *client.Client, typ string) client.Message {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				t.Fatalf("client ended: %v", c.Err())
			}
			if m.Type == typ {
				return m
			}
		case <-timer.C:
			t.Fatalf("no %s message within %v", typ, wait)
		}
	}
}

// table makes a workspace and a table through n, and returns the table
// and its primary field.
func table(t *testing.T, n *node) (int64, string) {
	t.Helper()
	var ws, tb struct{ ID int64 }
	n.do(t, "owner", "POST", "/api/workspaces", map[string]any{"name": "w"}, &ws)
	n.do(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/tables", ws.ID), map[string]any{"name": "t"}, &tb)
	var fields struct {
		Results []struct {
			ID      int64
			Primary bool
		}
	}
	n.do(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/fields", tb.ID), nil, &fields)
	for _, f := range fields.Results {
		if f.Primary {
			return tb.ID, strconv.FormatInt(f.ID, 10)
		}
	}
	t.Fatal("no primary field")
	return 0, ""
}

func addRow(t *testing.T, n *node, tbl int64, field, v string) {
	t.Helper()
	n.do(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", tbl), map[string]any{"fields": map[string]any{field: v}}, nil)
}

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

// waitEnd waits for c to end and returns why.
func waitEnd(t *testing.T, c *client.Client) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(wait):
		t.Fatalf("client still connected after %v", wait)
		return nil
	}
}

func waitRedis(t *testing.T, port string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis on %s: %v", port, errors.Unwrap(err))
		}
		time.Sleep(20 * time.Millisecond) // polling a process's port
	}
}

// ownRedis starts a Redis of the test's own, which it may stop, restart or
// disconnect clients from.
func ownRedis(t *testing.T) (url string, args []string, p *proc) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (CI=true)")
		}
		t.Skip("redis-server is not installed")
	}
	port := strconv.Itoa(freePort(t))
	args = []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	p = start(t, "redis-server", args)
	waitRedis(t, port)
	return "redis://127.0.0.1:" + port + "/0", args, p
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

// next2 returns c's next message or op.
func next2(t *testing.T, c *client.Client) client.Message {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				t.Fatalf("client ended: %v", c.Err())
			}
			if m.Type == "message" || m.Type == "op" {
				return m
			}
		case <-timer.C:
			t.Fatalf("nothing within %v", wait)
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
