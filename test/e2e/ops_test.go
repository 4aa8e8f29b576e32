package e2e

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/pkg/client"
)

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withoutAPIKey()) // operations do not depend on the admin API
	status, b, h := tn.adminRaw(t, http.MethodGet, "/healthz", "", nil)
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("/healthz: %d %q %s", status, h.Get("Content-Type"), b)
	}
	status, b, _ = tn.adminRaw(t, http.MethodGet, "/readyz", "", nil)
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &ready) != nil || ready.Status != "ready" || ready.Checks["broker"] != "ok" {
		t.Errorf("/readyz: %d %s; want 200 ready with the broker ok", status, b)
	}
	// /readyz while draining: TestDraining.
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	c := tn.dialUser(t, "alice", "news")
	subscribe(t, c, "news", "")
	tn.broadcast(t, "news", 1)
	recvMessage(t, c, "news", 1)
	// A writer folds its latencies into the histogram once its write is
	// done, which may be after the client has the message.
	waitUntil(t, waitTimeout, "the fan-out latency of the message in /metrics", func() bool {
		_, b, _ := tn.adminRaw(t, http.MethodGet, "/metrics", "", nil)
		return metricValue(string(b), "tablecast_fanout_latency_seconds_count") >= 1
	})

	status, b, h := tn.adminRaw(t, http.MethodGet, "/metrics", "", nil)
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %q", status, h.Get("Content-Type"))
	}
	text := string(b)
	for _, tc := range []struct {
		series string
		min    float64 // -1: only present
	}{
		{"tablecast_connections", 1},
		{"tablecast_subscriptions", 1},
		{`tablecast_messages_in_total{type="ping"}`, 1},
		{`tablecast_messages_in_total{type="subscribe"}`, 1},
		{`tablecast_messages_out_total{type="message"}`, 1},
		{"tablecast_fanout_latency_seconds_count", 1},
		{`tablecast_fanout_latency_seconds_bucket{le="+Inf"}`, 1},
		{"tablecast_send_queue_bytes", 0},
		{"tablecast_slow_consumer_disconnects_total", 0},
		{"tablecast_broker_publish_errors_total", 0},
	} {
		v := metricValue(text, tc.series)
		if v < tc.min {
			t.Errorf("%s = %v; want at least %v", tc.series, v, tc.min)
		}
	}
	for _, name := range []string{"tablecast_slow_consumer_disconnects_total", "tablecast_broker_publish_errors_total"} {
		if v := metricValue(text, name); v != 0 {
			t.Errorf("%s = %v; want 0", name, v)
		}
	}
	// Counters move with traffic; gauges follow the connections.
	_, _ = c.Ping(ctxFor(t, waitTimeout))
	_ = c.Close()
	waitUntil(t, waitTimeout, "the connection gauge to drop", func() bool {
		return metricValue(tn.metricsText(t), "tablecast_connections") == 0
	})
	after := tn.metricsText(t)
	if metricValue(after, `tablecast_messages_in_total{type="ping"}`) < 2 || metricValue(after, "tablecast_subscriptions") != 0 {
		t.Errorf("after a second ping and a close: pings %v, subscriptions %v",
			metricValue(after, `tablecast_messages_in_total{type="ping"}`), metricValue(after, "tablecast_subscriptions"))
	}
}

// TestLogsNeverPrintTokens: whatever a client does with a token (query,
// header, connect message, bad or expired ones), the log never shows it.
func TestLogsNeverPrintTokens(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	tn := startNode(t, withLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))

	good := tokenFor(t, "alice", "news")
	tokens := []string{
		good,
		tokenFor(t, "bob"),
		mint(t, auth.Claims{Subject: "carol", ExpiresAt: time.Now().Add(-time.Hour)}),
		mintWith(t, "wrong-secret", auth.Claims{Subject: "dave"}),
		unsignedToken(`{"sub":"erin"}`),
		"eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.c2lnbmF0dXJl", // decodes, but not JSON
	}
	for _, tok := range tokens {
		for _, o := range []rawOpts{
			{query: url.Values{"token": {tok}}},
			{query: url.Values{"jwt_token": {tok}, "user_id": {"someone-else"}}},
			{header: http.Header{"Authorization": {"Bearer " + tok}}},
		} {
			if rc, ref := tn.rawDial(t, o); ref == nil {
				rc.expectConnected()
			}
		}
		rc := tn.mustRawDial(t, rawOpts{})
		rc.sendJSON(map[string]any{"type": "connect", "id": "c", "data": map[string]any{"token": tok}})
		if m := rc.next(); m.Type == "connected" {
			rc.ping()
		} else {
			rc.expectClose(waitTimeout)
		}
	}
	// A token in a non-upgrade request to the socket endpoint, and in
	// admin calls.
	_, _, _ = tn.adminRaw(t, http.MethodGet, "/api/ws/socket?token="+good, "", nil)
	_, _, _ = tn.adminRaw(t, http.MethodGet, "/api/ws/stats", "Bearer "+good, nil)
	c := tn.dialClient(t, client.Config{Token: good, TokenMode: client.TokenInConnect})
	subscribe(t, c, "news", "")
	_ = c.Close()
	// Server-side failures and closes get logged too.
	tn.adminOK(t, http.MethodPost, "/api/ws/disconnect", map[string]any{"user_id": "bob"}, nil)
	ctx := ctxFor(t, waitTimeout)
	if err := tn.shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	if !strings.Contains(out, "tablecast listening") {
		t.Fatalf("the logger was not used: %q", out)
	}
	for _, tok := range tokens {
		// The payload (claims) and the signature; the header is the same
		// in every HS256 token.
		parts := strings.Split(tok, ".")
		for i, p := range parts[1:] {
			if len(p) >= 8 && strings.Contains(out, p) {
				t.Errorf("the log contains part %d of token %.20s...", i+1, tok)
			}
		}
	}
	if strings.Contains(out, testSecret) || strings.Contains(out, testAPIKey) {
		t.Error("the log contains the JWT secret or the API key")
	}
}

// TestHotMetrics: submits worked out on a record kept in memory show in
// the hot documents' series, on either store.
func TestHotMetrics(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		_, tbl, name := tableFixture(t, tn)
		col := fmt.Sprintf("record_%d", tbl)
		fid := strconv.FormatInt(name, 10)
		row := strconv.FormatInt(tn.newRow(t, tbl, map[string]any{fid: "a"}), 10)
		c := tn.dialUser(t, "owner")
		for v := range 2 {
			op := `[{"p":["fields","` + fid + `",0],"si":"x"}]`
			if _, err := c.Submit(ctxFor(t, waitTimeout), col, row, client.Submission{V: int64(v + 1), Op: json.RawMessage(op)}); err != nil {
				t.Fatal(err)
			}
		}
		text := tn.metricsText(t)
		for _, tc := range []struct {
			series   string
			min, max float64
		}{
			{"tablecast_hot_submits_total", 2, 2},
			{"tablecast_hot_document_loads_total", 1, 1},
			{"tablecast_hot_fallbacks_total", 0, 0},
			{"tablecast_hot_documents", 1, 1},
			{"tablecast_hot_document_bytes", 1, 1 << 20},
			{"tablecast_hot_records_resting", 0, 0},
		} {
			if v := metricValue(text, tc.series); v < tc.min || v > tc.max {
				t.Errorf("%s = %v, want %v to %v", tc.series, v, tc.min, tc.max)
			}
		}
	})
}
