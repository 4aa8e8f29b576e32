package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookCall is one call a receiver got.
type hookCall struct {
	N      int // 1, 2, 3... in arrival order
	At     time.Time
	Header http.Header
	Body   []byte
	// Accepted: the receiver answered 2xx.
	Accepted bool
	// Abandoned: the sender had given up on the call (its timeout, a
	// closed connection) by the time the receiver read it. Under load a
	// handler can run after the sender's retry and the calls after it, so
	// such a call says nothing of the order the sender kept.
	Abandoned bool
}

// hookPayload is one event of a webhook body.
type hookPayload struct {
	WebhookID int64             `json:"webhook_id"`
	EventID   string            `json:"event_id"`
	EventType string            `json:"event_type"`
	TableID   int64             `json:"table_id"`
	Offset    uint64            `json:"offset"`
	Timestamp time.Time         `json:"timestamp"`
	Items     []json.RawMessage `json:"items"`
	OldItems  []json.RawMessage `json:"old_items"`
}

// reply is what a receiver does with one call.
type reply struct {
	status     int    // 0: 200
	retryAfter string // a Retry-After header
	location   string // a Location header
	hang       bool   // answer nothing until the caller gives up
	drop       bool   // close the connection without an answer
	body       string
}

// receiver is a webhook endpoint that fails as its behave function says.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []hookCall
	behave func(n int, body []byte) reply
	signal chan struct{}
}

func newReceiver(t *testing.T, behave func(n int, body []byte) reply) *receiver {
	t.Helper()
	r := &receiver{behave: behave, signal: make(chan struct{}, 1)}
	if r.behave == nil {
		r.behave = func(int, []byte) reply { return reply{} }
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	n := len(r.calls) + 1
	rep := r.behave(n, body)
	c := hookCall{N: n, At: time.Now(), Header: req.Header.Clone(), Body: body,
		Accepted:  !rep.hang && !rep.drop && (rep.status == 0 || rep.status/100 == 2),
		Abandoned: req.Context().Err() != nil}
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	defer func() {
		select {
		case r.signal <- struct{}{}:
		default:
		}
	}()
	switch {
	case rep.hang:
		<-req.Context().Done()
		return
	case rep.drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	if rep.location != "" {
		w.Header().Set("Location", rep.location)
	}
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, rep.body)
}

// snapshot returns the calls so far.
func (r *receiver) snapshot() []hookCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookCall(nil), r.calls...)
}

// waitCalls waits, woken by each call, until cond holds of the calls.
func (r *receiver) waitCalls(t *testing.T, timeout time.Duration, what string, cond func([]hookCall) bool) []hookCall {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		calls := r.snapshot()
		if cond(calls) {
			return calls
		}
		select {
		case <-r.signal:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s (%d calls)", timeout, what, len(calls))
		}
	}
}

// accepted returns the payloads the receiver took, each event once (by
// webhook-id, as a receiver de-duplicates), in the order first taken.
func accepted(t *testing.T, calls []hookCall) []hookPayload {
	t.Helper()
	seen := map[string]bool{}
	var out []hookPayload
	for _, c := range calls {
		id := c.Header.Get("webhook-id")
		if !c.Accepted || c.Abandoned || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, decodePayloads(t, c.Body)...)
	}
	return out
}

func decodePayloads(t *testing.T, body []byte) []hookPayload {
	t.Helper()
	if len(body) > 0 && body[0] == '[' {
		var ps []hookPayload
		if err := json.Unmarshal(body, &ps); err != nil {
			t.Fatalf("webhook body %s: %v", body, err)
		}
		return ps
	}
	var p hookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("webhook body %s: %v", body, err)
	}
	return []hookPayload{p}
}

// verify checks a call's signature with the Standard Webhooks library.
func verify(secret string, c hookCall) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	return wh.Verify(c.Body, c.Header)
}

// webhookView is a webhook as the REST API shows it.
type webhookView struct {
	ID              int64             `json:"id"`
	TableID         int64             `json:"table_id"`
	URL             string            `json:"url"`
	Events          []string          `json:"events"`
	Headers         map[string]string `json:"headers"`
	Active          bool              `json:"active"`
	OnFailure       string            `json:"on_failure"`
	Batch           int               `json:"batch"`
	Status          string            `json:"status"`
	PausedReason    *string           `json:"paused_reason"`
	DeliveredOffset uint64            `json:"delivered_offset"`
	Lag             uint64            `json:"lag"`
	Secret          string            `json:"secret"`
}

type deadLetterView struct {
	ID        int64  `json:"id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Offset    uint64 `json:"offset"`
	Attempts  []struct {
		Status   int    `json:"status"`
		Error    string `json:"error"`
		Response string `json:"response"`
		At       time.Time
	} `json:"attempts"`
	Redeliver bool `json:"redeliver"`
}

// webhookArgs are the node settings of the webhook tests: private
// addresses allowed (the receiver is on 127.0.0.1), short waits.
func webhookArgs(extra ...string) nodeOption {
	return withArgs(append([]string{"--webhook-allow-private", "--webhook-retry-base", "5ms",
		"--webhook-timeout", "2s", "--webhook-lease", "2s"}, extra...)...)
}

func (tn *testNode) createWebhook(t *testing.T, user string, table int64, body map[string]any) webhookView {
	t.Helper()
	var v webhookView
	tn.rest(t, user, "POST", fmt.Sprintf("/api/tables/%d/webhooks", table), body, "", &v)
	return v
}

func (tn *testNode) getWebhook(t *testing.T, id int64) webhookView {
	t.Helper()
	var v webhookView
	tn.rest(t, "owner", "GET", fmt.Sprintf("/api/webhooks/%d", id), nil, "", &v)
	return v
}

func (tn *testNode) deadLetters(t *testing.T, id int64) []deadLetterView {
	t.Helper()
	var out struct{ Results []deadLetterView }
	tn.rest(t, "owner", "GET", fmt.Sprintf("/api/webhooks/%d/dead-letters", id), nil, "", &out)
	return out.Results
}

// addRow creates a row whose primary field is name.
func (tn *testNode) addRow(t *testing.T, table, field int64, name string) {
	t.Helper()
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", table),
		map[string]any{"fields": map[string]any{fmt.Sprint(field): name}}, "", &struct{}{})
}

// rowName reads the primary field of a webhook item.
func rowName(t *testing.T, item json.RawMessage, field int64) string {
	t.Helper()
	var row struct {
		Fields map[string]any `json:"fields"`
	}
	if err := json.Unmarshal(item, &row); err != nil {
		t.Fatalf("item %s: %v", item, err)
	}
	s, _ := row.Fields[fmt.Sprint(field)].(string)
	return s
}
