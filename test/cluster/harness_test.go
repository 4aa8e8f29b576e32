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

	"github.com/tablecast/tablecast/internal/auth"
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

func startNode(t *testing.T, id, db, redisURL, prefix string, env ...string) *node {
	t.Helper()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := start(t, binary, []string{"serve", "--listen", addr, "--connect-rate", "off", "--log-level", "warn"},
		append([]string{"TABLECAST_JWT_SECRET=" + secret, "TABLECAST_API_KEY=" + apiKey, "TABLECAST_DATABASE_URL=" + db,
			"TABLECAST_REDIS_URL=" + redisURL, "TABLECAST_REDIS_PREFIX=" + prefix, "TABLECAST_NODE_ID=" + id}, env...)...)
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
