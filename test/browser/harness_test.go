// Package browser runs tablecast's JavaScript against a real server: the
// client's unit tests (clients/js/test, Node's test runner) and the browser
// suite (browser.test.mjs: Debian's chromium driven by playwright-core).
//
// The Go side owns the server. It starts a node in process, in dev mode, on
// a loopback port with a file SQLite database, and serves a small control
// API on another port so that a script can stop the node and start it again
// (the data survives, as it would across a real restart). The scripts get
// the addresses in environment variables:
//
//	TABLECAST_URL       http://127.0.0.1:port of the node
//	TABLECAST_API_KEY   the admin API key
//	TABLECAST_CONTROL   http://127.0.0.1:port of the control API:
//	                    POST /stop, POST /start, POST /start?side=1
//	TABLECAST_SCREENSHOTS  where the browser suite saves its screenshots
//
// `POST /start?side=1` starts the node on a fresh port instead (answering
// {"url"}), so that a script can write through REST while the page's own
// address is still down, and so knows the page missed those writes.
//
// Without node (or, for the browser suite, chromium and test/browser's npm
// packages) the tests skip and say why; with CI=true they fail instead.
package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/server"
)

const (
	testSecret = "browser-suite-jwt-secret"
	testAPIKey = "browser-suite-admin-key"
)

// repoRoot is the repository's root (this file is in test/browser).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// need skips the test with why, or fails it under CI=true, where a missing
// tool is a broken CI setup rather than a developer's choice.
func need(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", why)
	}
	t.Skip(why)
}

// nodeBinary returns the path of node, or skips.
func nodeBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("node")
	if err != nil {
		need(t, "node is not installed (apt-get install nodejs): the JavaScript tests need it")
	}
	return path
}

// tablecast is a node the scripts can stop and start again on the same
// address and database.
type tablecast struct {
	t    *testing.T
	cfg  config.Config
	addr string // the node's address, kept across restarts

	mu   sync.Mutex
	node *server.Node // nil while stopped
	side *server.Node // a node on another port (start?side=1)
}

func newTablecast(t *testing.T) *tablecast {
	t.Helper()
	return newTablecastWith(t, "--dev")
}

// newTablecastWith starts a node with the suite's secret, key and a file
// database, plus extra flags of serve.
func newTablecastWith(t *testing.T, extra ...string) *tablecast {
	t.Helper()
	dir := t.TempDir()
	args := []string{
		"--jwt-secret", testSecret,
		"--api-key", testAPIKey,
		"--node-id", "browser-node",
		"--database-url", "sqlite://" + filepath.Join(dir, "tablecast.db"),
		"--shutdown-timeout", "5s",
		// Short: the JS client's token renewal test waits for a short
		// token to run out.
		"--jwt-leeway", "1s",
	}
	args = append(args, extra...)
	cfg, err := config.Load(args, func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	if _, err := cfg.ApplyDevDefaults(nil); err != nil {
		t.Fatalf("ApplyDevDefaults: %v", err)
	}
	tc := &tablecast{t: t, cfg: cfg}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	tc.addr = ln.Addr().String()
	if err := tc.startOn(ln, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		tc.stopLocked(false)
		tc.stopLocked(true)
	})
	return tc
}

func (tc *tablecast) url() string { return "http://" + tc.addr }

// startOn starts a node on ln; side says which slot it takes.
func (tc *tablecast) startOn(ln net.Listener, side bool) error {
	node, err := server.New(context.Background(), tc.cfg, server.Options{})
	if err != nil {
		_ = ln.Close()
		return err
	}
	if err := node.Start(context.Background(), ln); err != nil {
		return err
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if side {
		tc.side = node
	} else {
		tc.node = node
	}
	return nil
}

// stopLocked shuts a node down (tc.mu held).
func (tc *tablecast) stopLocked(side bool) {
	n := &tc.node
	if side {
		n = &tc.side
	}
	if *n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := (*n).Shutdown(ctx); err != nil {
		tc.t.Errorf("node shutdown: %v", err)
	}
	*n = nil
}

// control serves the control API for the scripts.
func (tc *tablecast) control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		side := r.URL.Query().Get("side") == "1"
		tc.stopLocked(side)
		writeJSON(w, map[string]any{"stopped": true})
	})
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		side := r.URL.Query().Get("side") == "1"
		tc.mu.Lock()
		running := (side && tc.side != nil) || (!side && tc.node != nil)
		tc.mu.Unlock()
		if running {
			http.Error(w, "already running", http.StatusConflict)
			return
		}
		addr := tc.addr
		if side {
			addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := tc.startOn(ln, side); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, map[string]any{"url": "http://" + ln.Addr().String()})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// runNode runs node with args in dir against tc, logging its output, and
// fails the test if it exits non-zero or outlives timeout.
func runNode(t *testing.T, tc *tablecast, dir string, timeout time.Duration, env []string, args ...string) {
	t.Helper()
	nodeBin := nodeBinary(t)
	ctl := httptest.NewServer(tc.control())
	defer ctl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"TABLECAST_URL="+tc.url(),
		"TABLECAST_API_KEY="+tc.cfg.APIKey,
		"TABLECAST_CONTROL="+ctl.URL,
		"NODE_NO_WARNINGS=1",
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	var summary []string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if strings.HasPrefix(line, "# pass ") || strings.HasPrefix(line, "# fail ") || strings.HasPrefix(line, "# skipped ") {
			summary = append(summary, strings.TrimPrefix(line, "# "))
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
		t.Logf("reading node's output: %v", err)
	}
	err = cmd.Wait()
	t.Logf("node %s: %s in %s", strings.Join(args, " "), strings.Join(summary, ", "), time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("node did not finish within %s", timeout)
	}
	if err != nil {
		t.Fatalf("node %s failed: %v (its output is above)", strings.Join(args, " "), err)
	}
	if len(summary) == 0 {
		t.Fatal("node's test runner printed no summary: did any test run?")
	}
}
