package e2e

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/pkg/client"
)

// withInternalListener gives the node an internal listener (as
// TABLECAST_INTERNAL_LISTEN does) on ln.
func withInternalListener(ln net.Listener) nodeOption {
	return func(s *nodeSetup) { s.opts.InternalListener = ln }
}

// get answers the status and body of GET base+path with an optional
// Authorization header.
func get(t *testing.T, hc *http.Client, base, path, authz string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t, waitTimeout), "GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", base, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestInternalListener: with TABLECAST_INTERNAL_LISTEN, /metrics, /readyz,
// the admin API and /admin answer only on the internal listener; the
// sockets, the REST API and the app stay on the public one, and an admin
// broadcast on the internal listener reaches a socket of the public one.
func TestInternalListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, withInternalListener(ln))
	internal := "http://" + tn.node.InternalAddr().String()
	if internal == tn.httpURL {
		t.Fatal("the internal listener is the public one")
	}
	key := "Bearer " + testAPIKey
	for _, tt := range []struct {
		base, path, authz string
		status            int
		contains          string
	}{
		{tn.httpURL, "/metrics", "", 404, ""},
		{tn.httpURL, "/readyz", "", 404, ""},
		{tn.httpURL, "/api/ws/stats", key, 404, `"not_found"`},
		{tn.httpURL, "/api/ws/online?user_id=alice", key, 404, `"not_found"`},
		{tn.httpURL, "/admin", "", 404, ""},
		{tn.httpURL, "/healthz", "", 200, `"ok"`},
		{tn.httpURL, "/api/openapi.json", "", 200, `"openapi"`},
		{tn.httpURL, "/", "", 200, "<html"},
		{tn.httpURL, "/api/workspaces", "", 401, `"unauthorized"`},
		{internal, "/metrics", "", 200, "tablecast_"},
		{internal, "/readyz", "", 200, `"ready"`},
		{internal, "/healthz", "", 200, `"ok"`},
		{internal, "/api/ws/stats", key, 200, `"connections"`},
		{internal, "/admin", "", 200, "<html"},
		{internal, "/static/admin.js", "", 200, ""},
		{internal, "/api/workspaces", "", 404, ""},
		{internal, "/api/ws/socket", key, 404, `"not_found"`},
	} {
		if status, body := get(t, tn.hc, tt.base, tt.path, tt.authz); status != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("GET %s%s: %d %.120q; want %d with %q", tt.base, tt.path, status, body, tt.status, tt.contains)
		}
	}
	c := tn.dialUser(t, "alice", "news")
	subscribe(t, c, "news", "")
	req, _ := http.NewRequestWithContext(ctxFor(t, waitTimeout), "POST", internal+"/api/ws/broadcast/channel",
		strings.NewReader(`{"channel":"news","message":{"via":"internal"}}`))
	req.Header.Set("Authorization", key)
	resp, err := tn.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"delivered":1`) {
		t.Fatalf("broadcast on the internal listener: %d %s", resp.StatusCode, b)
	}
	recvMessage(t, c, "news", map[string]any{"via": "internal"})
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDebugLogsCarryNoToken: at debug level the server logs a line per
// request and per connection, and no token appears in them, whether it
// came in a query parameter (native, Baserow, ShareDB sockets) or a header
// (REST, a socket).
func TestDebugLogsCarryNoToken(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tn := startNode(t, withLogger(log))
	for _, mode := range []client.TokenMode{client.TokenInQuery, client.TokenInHeader, client.TokenInConnect} {
		c := tn.dialClient(t, client.Config{Token: tokenFor(t, "alice", "news"), TokenMode: mode})
		subscribe(t, c, "news", "")
		_ = c.Close()
	}
	var ws1 struct {
		ID int64 `json:"id"`
	}
	tn.restAs(t, "alice", "POST", "/api/workspaces", map[string]any{"name": "Logs"}, "", &ws1)
	tok := tokenFor(t, "alice")
	for _, path := range []string{"/ws/core/?jwt_token=" + url.QueryEscape(tok), "/sharedb?token=" + url.QueryEscape(tok)} {
		conn, _, _, err := ws.Dial(ctxFor(t, waitTimeout), "ws"+strings.TrimPrefix(tn.httpURL, "http")+path)
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		_ = conn.Close()
	}
	status, _ := get(t, tn.hc, tn.httpURL, "/api/workspaces?token="+tok, "Bearer "+tok)
	if status != 200 {
		t.Fatalf("GET /api/workspaces: %d", status)
	}
	out := logs.String()
	for _, want := range []string{`msg="http request" method=POST path=/api/workspaces status=200`,
		`path="/api/workspaces?token=REDACTED"`, "status=101", `msg="connection opened"`,
		`msg="connection authenticated"`, `user=alice`, `msg="connection closed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the debug log", want)
		}
	}
	// Every JWT starts with the base64 of `{"`: eyJ.
	if strings.Contains(out, "eyJ") || strings.Contains(out, tok) {
		t.Fatalf("a token is in the debug log:\n%s", out)
	}
	var lines int
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "http request") {
			lines++
		}
	}
	if lines < 6 {
		t.Fatalf("%d request lines:\n%s", lines, out)
	}
}
