// Package e2e holds tablecast's black-box tests: a real node started in
// process on a loopback port, driven through its WebSocket endpoint (with
// pkg/client for normal flows and a raw gobwas/ws connection for junk) and
// its HTTP API. Nothing here reaches into the server's internals except to
// build a node the way the CLI does.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/server"
	"github.com/tablecast/tablecast/pkg/client"
)

const (
	testSecret = "e2e-jwt-secret-do-not-use"
	testAPIKey = "e2e-admin-key"
	testNodeID = "e2e-node"

	// waitTimeout bounds every wait for something that should happen at once.
	waitTimeout = 5 * time.Second
)

// TestMain checks that every node, client and connection the tests start
// is gone once they are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// nodeSetup is what startNode builds a node from.
type nodeSetup struct {
	args     []string
	opts     server.Options
	dev      bool
	noAPIKey bool
}

// nodeOption changes a node's setup.
type nodeOption func(*nodeSetup)

// withArgs adds `serve` flags, e.g. withArgs("--max-connections", "2").
func withArgs(args ...string) nodeOption {
	return func(s *nodeSetup) { s.args = append(s.args, args...) }
}

// withDev starts the node in dev mode (still with the test secret, so
// tokens can be minted).
func withDev() nodeOption { return func(s *nodeSetup) { s.dev = true } }

// withoutAPIKey turns the admin API off.
func withoutAPIKey() nodeOption { return func(s *nodeSetup) { s.noAPIKey = true } }

func withAbuseWindow(d time.Duration) nodeOption {
	return func(s *nodeSetup) { s.opts.AbuseWindow = d }
}

func withAuthTimeout(d time.Duration) nodeOption {
	return func(s *nodeSetup) { s.opts.AuthTimeout = d }
}

func withLogger(l *slog.Logger) nodeOption {
	return func(s *nodeSetup) { s.opts.Logger = l }
}

// testNode is a running node and what the tests need to reach it.
type testNode struct {
	node    *server.Node
	cfg     config.Config
	wsURL   string // ws://127.0.0.1:port/api/ws/socket
	httpURL string // http://127.0.0.1:port
	hc      *http.Client

	stopOnce sync.Once
	stopErr  error
}

// startNode starts a node on 127.0.0.1:0 with the test secret and API key
// and shuts it down when the test ends (after the test's clients, which
// register their cleanups later).
func startNode(t *testing.T, opts ...nodeOption) *testNode {
	t.Helper()
	var s nodeSetup
	for _, o := range opts {
		o(&s)
	}
	args := []string{"--jwt-secret", testSecret, "--node-id", testNodeID, "--database-url", "sqlite://:memory:"}
	if !s.noAPIKey {
		args = append(args, "--api-key", testAPIKey)
	}
	if s.dev {
		args = append(args, "--dev")
	}
	args = append(args, s.args...)
	cfg, err := config.Load(args, func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.Load(%q): %v", args, err)
	}
	if s.dev {
		if _, err := cfg.ApplyDevDefaults(nil); err != nil {
			t.Fatalf("ApplyDevDefaults: %v", err)
		}
		if s.noAPIKey {
			cfg.APIKey = ""
		}
	}
	if s.opts.PasswordIterations == 0 {
		// View passwords are hashed with a small work factor here: the
		// default's 600,000 rounds take seconds under -race on two cores,
		// and what these tests check does not depend on it.
		s.opts.PasswordIterations = 1000
	}
	node, err := server.New(context.Background(), cfg, s.opts)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if err := node.Start(context.Background(), ln); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := ln.Addr().String()
	tn := &testNode{
		node:    node,
		cfg:     cfg,
		wsURL:   "ws://" + addr + "/api/ws/socket",
		httpURL: "http://" + addr,
		hc:      &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout},
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tn.shutdown(ctx); err != nil {
			t.Errorf("node shutdown: %v", err)
		}
		tn.hc.CloseIdleConnections()
	})
	return tn
}

// shutdown stops the node once; later calls return the first result.
func (tn *testNode) shutdown(ctx context.Context) error {
	tn.stopOnce.Do(func() { tn.stopErr = tn.node.Shutdown(ctx) })
	return tn.stopErr
}

// ---- tokens ----

// mint signs claims with the test secret.
func mint(t *testing.T, c auth.Claims) string {
	t.Helper()
	return mintWith(t, testSecret, c)
}

func mintWith(t *testing.T, secret string, c auth.Claims) string {
	t.Helper()
	tok, err := auth.Sign([]byte(secret), c, time.Time{})
	if err != nil {
		t.Fatalf("auth.Sign: %v", err)
	}
	return tok
}

// tokenFor is a token for sub, valid for an hour, allowing channels.
func tokenFor(t *testing.T, sub string, channels ...string) string {
	t.Helper()
	return mint(t, auth.Claims{Subject: sub, Name: "Name of " + sub, Channels: channels, ExpiresAt: time.Now().Add(time.Hour)})
}

// ---- pkg/client ----

// dialClient connects with pkg/client (URL filled in) and closes the client
// when the test ends.
func (tn *testNode) dialClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if cfg.URL == "" {
		cfg.URL = tn.wsURL
	}
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("client.Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// Works around the server's data race (see expectConnected).
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("first ping: %v", err)
	}
	return c
}

// dialUser connects sub (token in the query) allowed on channels.
func (tn *testNode) dialUser(t *testing.T, sub string, channels ...string) *client.Client {
	t.Helper()
	return tn.dialClient(t, client.Config{Token: tokenFor(t, sub, channels...)})
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// subscribe subscribes c, fails the test on error, and returns once the
// subscription is live on the server.
//
// The server sends the subscribe reply before it has finished subscribing:
// until then a publication is held and sent after the reply (correctly),
// but it is not counted in the admin API's "delivered" nor in
// tablecast_messages_out_total, and presence changes in that window can
// arrive twice (from the held publications and from the snapshot of who is
// present). One ping round trip afterwards closes the window: the server
// handles a connection's messages in order.
func subscribe(t *testing.T, c *client.Client, collection, document string) client.SubscribeResult {
	t.Helper()
	res, err := c.Subscribe(ctxFor(t, waitTimeout), collection, document)
	if err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", collection, document, err)
	}
	if _, err := c.Ping(ctxFor(t, waitTimeout)); err != nil {
		t.Fatalf("ping after subscribe: %v", err)
	}
	return res
}

// recv returns c's next message, checking its timestamp.
func recv(t *testing.T, c *client.Client) client.Message {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case m, ok := <-c.Messages():
		if !ok {
			t.Fatalf("client ended while a message was expected: %v", c.Err())
		}
		checkTimestamp(t, m.Type, m.Timestamp)
		return m
	case <-timer.C:
		t.Fatalf("no message within %v", waitTimeout)
	}
	return client.Message{}
}

// recvMessage expects c's next message to be an app-channel message whose
// data is want (compared as JSON).
func recvMessage(t *testing.T, c *client.Client, collection string, want any) client.Message {
	t.Helper()
	m := recv(t, c)
	if m.Type != client.TypeMessage || m.Collection != collection || !jsonEqual(t, m.Data, want) {
		t.Fatalf("got %s %q data %s; want message on %q with data %s", m.Type, m.Collection, m.Data, collection, mustJSON(t, want))
	}
	return m
}

// waitDone waits for c to end and returns its Err.
func waitDone(t *testing.T, c *client.Client) error {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-c.Messages():
			if ok {
				continue
			}
			<-c.Done()
			return c.Err()
		case <-timer.C:
			t.Fatalf("client did not end within %v", waitTimeout)
			return nil
		}
	}
}

// ---- admin API ----

// adminRaw sends a request with an explicit Authorization header (none
// when auth is empty) and returns the status and body.
func (tn *testNode) adminRaw(t *testing.T, method, path, authz string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctxFor(t, waitTimeout), method, tn.httpURL+path, r)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := tn.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, b, resp.Header
}

// admin calls the admin API with the test key. body is sent as is when it
// is a string or []byte, else encoded as JSON; nil sends no body.
func (tn *testNode) admin(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		b = mustJSON(t, v)
	}
	status, out, _ := tn.adminRaw(t, method, path, "Bearer "+testAPIKey, b)
	return status, out
}

// adminOK calls the admin API, expects 200 and decodes the answer into out.
func (tn *testNode) adminOK(t *testing.T, method, path string, body, out any) {
	t.Helper()
	status, b := tn.admin(t, method, path, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: status %d, body %s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
}

// publishResult is the answer of the admin publishing endpoints.
type publishResult struct {
	Delivered int64   `json:"delivered"`
	Offset    *uint64 `json:"offset"`
	Epoch     string  `json:"epoch"`
}

// broadcast publishes message on channel through the admin API.
func (tn *testNode) broadcast(t *testing.T, channel string, message any, exclude ...string) publishResult {
	t.Helper()
	body := map[string]any{"channel": channel, "message": message}
	if len(exclude) > 0 {
		body["exclude"] = exclude
	}
	var res publishResult
	tn.adminOK(t, http.MethodPost, "/api/ws/broadcast/channel", body, &res)
	return res
}

// tryBroadcast is broadcast for goroutines other than the test's: it
// reports failures instead of ending the test.
func (tn *testNode) tryBroadcast(ctx context.Context, channel string, message any) error {
	body, err := json.Marshal(map[string]any{"channel": channel, "message": message})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tn.httpURL+"/api/ws/broadcast/channel", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	resp, err := tn.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("broadcast: status %d: %s", resp.StatusCode, b)
	}
	return nil
}

// nodeStats is GET /api/ws/stats.
type nodeStats struct {
	NodeID        string  `json:"node_id"`
	Connections   int64   `json:"connections"`
	Users         int64   `json:"users"`
	Channels      int64   `json:"channels"`
	Subscriptions int64   `json:"subscriptions"`
	MessagesIn    int64   `json:"messages_in"`
	MessagesOut   int64   `json:"messages_out"`
	BytesOut      int64   `json:"bytes_out"`
	DroppedSlow   int64   `json:"dropped_slow"`
	UptimeSeconds float64 `json:"uptime_s"`
}

func (tn *testNode) stats(t *testing.T) nodeStats {
	t.Helper()
	var s nodeStats
	tn.adminOK(t, http.MethodGet, "/api/ws/stats", nil, &s)
	return s
}

// apiErrorBody is the HTTP API's error shape.
type apiErrorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Details map[string]string `json:"details"`
	} `json:"error"`
}

func decodeAPIError(t *testing.T, b []byte) apiErrorBody {
	t.Helper()
	var e apiErrorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not an error body {\"error\":{\"code\",\"message\"}}: %s (%v)", b, err)
	}
	return e
}

// ---- waiting and comparing ----

// waitUntil polls cond (a state only observable by asking: stats, metrics)
// until it holds, failing after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

var timestampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// checkTimestamp asserts an envelope timestamp: RFC 3339, UTC, milliseconds,
// and close to now.
func checkTimestamp(t *testing.T, typ, ts string) {
	t.Helper()
	if !timestampRE.MatchString(ts) {
		t.Errorf("%s message: timestamp %q is not RFC 3339 UTC with milliseconds", typ, ts)
		return
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Errorf("%s message: timestamp %q: %v", typ, ts, err)
		return
	}
	if d := time.Since(at); d > time.Minute || d < -time.Minute {
		t.Errorf("%s message: timestamp %q is %v away from now", typ, ts, d)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

// jsonEqual compares raw JSON with want (any value, or raw JSON) by meaning.
func jsonEqual(t *testing.T, raw json.RawMessage, want any) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil {
		return false
	}
	if err := json.Unmarshal(mustJSON(t, want), &b); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	return reflect.DeepEqual(a, b)
}

// dataField decodes one field of a message's data.
func dataField(t *testing.T, data json.RawMessage, field string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("data %s is not an object: %v", data, err)
	}
	return m[field]
}

// logBuffer is an io.Writer safe for a logger used by many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// metricsText fetches /metrics.
func (tn *testNode) metricsText(t *testing.T) string {
	t.Helper()
	status, b, _ := tn.adminRaw(t, http.MethodGet, "/metrics", "", nil)
	if status != http.StatusOK {
		t.Fatalf("/metrics: status %d", status)
	}
	return string(b)
}

// metricValue returns the value of the first sample line of /metrics that
// starts with series (a name, optionally with labels), or -1.
func metricValue(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}
