package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/pkg/client"
)

// TestWebhookDeliversEveryEventInOrder: a receiver that answers 500, 429
// (once with Retry-After: 1), hangs past the timeout and drops connections
// still gets every event of 2,000 concurrent REST writes, in offset order,
// each signed as Standard Webhooks says (checked with its Go library).
func TestWebhookDeliversEveryEventInOrder(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		writes := 2000
		if strings.Contains(t.Name(), "postgres") {
			writes = 500 // the same path; PostgreSQL's writes are slower under -race
		}
		tn := startNode(t, db, webhookArgs("--webhook-timeout", "250ms", "--webhook-max-attempts", "50"))
		_, tbl, field := tableFixture(t, tn)
		rcv := newReceiver(t, func(n int, _ []byte) reply {
			switch {
			case n == 3:
				return reply{status: http.StatusTooManyRequests, retryAfter: "1"}
			case n%97 == 0:
				return reply{hang: true}
			case n%17 == 0:
				return reply{drop: true}
			case n%11 == 0:
				return reply{status: http.StatusTooManyRequests, retryAfter: "0"}
			case n%7 == 0:
				return reply{status: http.StatusInternalServerError, body: "busy"}
			}
			return reply{}
		})
		hook := tn.createWebhook(t, "owner", tbl, map[string]any{"url": rcv.url(), "events": []string{"*"}})
		if !strings.HasPrefix(hook.Secret, "whsec_") || hook.Status != "active" {
			t.Fatalf("created %+v", hook)
		}
		start := hook.DeliveredOffset

		var wg sync.WaitGroup
		const writers = 4
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < writes; i += writers {
					tn.addRow(t, tbl, field, fmt.Sprintf("r%d", i))
				}
			}()
		}
		wg.Wait()

		calls := rcv.waitCalls(t, 3*time.Minute, "every event", func(cs []hookCall) bool {
			return len(accepted(t, cs)) >= writes
		})
		got := accepted(t, calls)
		names := map[string]bool{}
		for i, p := range got {
			if p.Offset != start+uint64(i)+1 {
				t.Fatalf("event %d taken has offset %d, want %d (in order, none missing)", i, p.Offset, start+uint64(i)+1)
			}
			if p.EventType != "rows.created" || p.EventID != fmt.Sprintf("%d:%d", tbl, p.Offset) ||
				p.WebhookID != hook.ID || p.TableID != tbl || len(p.Items) != 1 {
				t.Fatalf("payload %+v", p)
			}
			names[rowName(t, p.Items[0], field)] = true
		}
		if len(got) != writes || len(names) != writes {
			t.Fatalf("%d events taken, %d distinct rows, want %d", len(got), len(names), writes)
		}
		// Every call is signed (and a retry repeats the id), and offsets never
		// go back: a call is either a retry of the last or the next event.
		// A call the node had given up on before the receiver read it is
		// left out of the order (see hookCall.Abandoned).
		var last uint64
		started := false
		for _, c := range calls {
			if err := verify(hook.Secret, c); err != nil {
				t.Fatalf("call %d: signature: %v", c.N, err)
			}
			if c.Abandoned {
				continue
			}
			off := decodePayloads(t, c.Body)[0].Offset
			if started && (off < last || off > last+1) {
				t.Fatalf("call %d has offset %d after %d", c.N, off, last)
			}
			last, started = off, true
		}
		// Retry-After: 1 on the third call was honoured.
		if gap := calls[3].At.Sub(calls[2].At); gap < 900*time.Millisecond {
			t.Fatalf("the call after a Retry-After: 1 came %v later", gap)
		}
		waitUntil(t, waitTimeout, "lag 0", func() bool {
			v := tn.getWebhook(t, hook.ID)
			return v.Lag == 0 && v.DeliveredOffset == start+uint64(writes)
		})
		m := tn.metricsText(t)
		if v := metricValue(m, fmt.Sprintf(`tablecast_webhook_events_delivered_total{webhook="%d"}`, hook.ID)); v < float64(writes) {
			t.Fatalf("delivered metric %v", v)
		}
		if v := metricValue(m, fmt.Sprintf(`tablecast_webhook_retries_total{webhook="%d"}`, hook.ID)); v < 10 {
			t.Fatalf("retries metric %v", v)
		}
	})
}

// TestWebhookDeadLettersRedeliveryAndDiscard: with on_failure "skip", an
// event whose budget is spent goes to the dead letters with its attempts
// and delivery goes on; a 4xx is not retried; a dead letter redelivered
// reaches the receiver once it heals and leaves the list; one discarded
// is gone.
func TestWebhookDeadLettersRedeliveryAndDiscard(t *testing.T) {
	tn := startNode(t, webhookArgs("--webhook-max-attempts", "3"))
	_, tbl, field := tableFixture(t, tn)
	var mu sync.Mutex
	heal := false
	rcv := newReceiver(t, func(_ int, body []byte) reply {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case heal:
			return reply{}
		case strings.Contains(string(body), `"bad5`):
			return reply{status: 503, body: "down for " + strings.Repeat("x", 1000)}
		case strings.Contains(string(body), `"bad4`):
			return reply{status: 422, body: "no"}
		}
		return reply{}
	})
	hook := tn.createWebhook(t, "owner", tbl, map[string]any{"url": rcv.url(), "on_failure": "skip",
		"events": []string{"rows.created"}})
	for _, n := range []string{"ok1", "bad5-a", "bad4-b", "ok2"} {
		tn.addRow(t, tbl, field, n)
	}
	calls := rcv.waitCalls(t, waitTimeout, "ok2", func(cs []hookCall) bool {
		ps := accepted(t, cs)
		return len(ps) > 0 && rowName(t, ps[len(ps)-1].Items[0], field) == "ok2"
	})
	if ps := accepted(t, calls); len(ps) != 2 {
		t.Fatalf("accepted %d events, want ok1 and ok2", len(ps))
	}
	if len(calls) != 2+3+1 {
		t.Fatalf("%d calls, want 6: ok1, three of the 503, one of the 422, ok2", len(calls))
	}
	dls := tn.deadLetters(t, hook.ID)
	if len(dls) != 2 || len(dls[0].Attempts) != 3 || len(dls[1].Attempts) != 1 {
		t.Fatalf("dead letters %+v", dls)
	}
	if a := dls[0].Attempts[0]; a.Status != 503 || !strings.HasPrefix(a.Response, "down for x") || len(a.Response) > 600 {
		t.Fatalf("attempt %+v", a)
	}
	if dls[0].EventType != "rows.created" || dls[0].EventID != fmt.Sprintf("%d:%d", tbl, dls[0].Offset) || dls[1].Offset != dls[0].Offset+1 {
		t.Fatalf("dead letters %+v", dls)
	}

	// Discard the 422's, redeliver the 503's once the receiver heals.
	if code := tn.rest(t, "owner", "DELETE", fmt.Sprintf("/api/webhooks/%d/dead-letters/%d", hook.ID, dls[1].ID), nil, "", nil); code != 204 {
		t.Fatalf("delete dead letter: %d", code)
	}
	mu.Lock()
	heal = true
	mu.Unlock()
	var ans struct{ Redelivering int64 }
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/webhooks/%d/dead-letters/%d/redeliver", hook.ID, dls[0].ID), nil, "", &ans)
	if ans.Redelivering != 1 {
		t.Fatalf("redelivering %d", ans.Redelivering)
	}
	calls = rcv.waitCalls(t, waitTimeout, "the redelivery", func(cs []hookCall) bool {
		return cs[len(cs)-1].Accepted && strings.Contains(string(cs[len(cs)-1].Body), "bad5-a")
	})
	if err := verify(hook.Secret, calls[len(calls)-1]); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, waitTimeout, "no dead letters", func() bool { return len(tn.deadLetters(t, hook.ID)) == 0 })
	if code := tn.rest(t, "owner", "POST", fmt.Sprintf("/api/webhooks/%d/dead-letters/%d/redeliver", hook.ID, dls[0].ID), nil, "", nil); code != 404 {
		t.Fatalf("redeliver a delivered dead letter: %d, want 404", code)
	}
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/webhooks/%d/dead-letters/redeliver", hook.ID), nil, "", &ans)
	if ans.Redelivering != 0 {
		t.Fatalf("redeliver all with none: %d", ans.Redelivering)
	}
}

// TestWebhookPauseResumeSkip: with the default on_failure, a 410 pauses
// the webhook at once (not retried) with its reason, announced to the
// table's native subscribers as webhook_paused; writes meanwhile add to its
// lag; resume delivers them in order once the receiver heals; skip moves
// the event it stopped at to the dead letters and goes on.
func TestWebhookPauseResumeSkip(t *testing.T) {
	tn := startNode(t, webhookArgs())
	_, tbl, field := tableFixture(t, tn)
	var mu sync.Mutex
	gone := true
	rcv := newReceiver(t, func(int, []byte) reply {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			return reply{status: http.StatusGone, body: "gone"}
		}
		return reply{}
	})
	hook := tn.createWebhook(t, "owner", tbl, map[string]any{"url": rcv.url()})
	if hook.OnFailure != "pause" || hook.Batch != 1 || len(hook.Events) != 1 || hook.Events[0] != "*" {
		t.Fatalf("defaults %+v", hook)
	}
	c := tn.dialUser(t, "owner")
	subscribe(t, c, fmt.Sprintf("record_%d", tbl), "")

	tn.addRow(t, tbl, field, "a")
	var paused webhookView
	waitUntil(t, waitTimeout, "paused", func() bool {
		paused = tn.getWebhook(t, hook.ID)
		return paused.Status == "paused"
	})
	if paused.PausedReason == nil || !strings.Contains(*paused.PausedReason, "410") || len(rcv.snapshot()) != 1 {
		t.Fatalf("paused %+v after %d calls", paused, len(rcv.snapshot()))
	}
	// The socket hears the row, then the pause.
	if m := recv(t, c); m.Type != "op" {
		t.Fatalf("got %s, want the row's op", m.Type)
	}
	m := recv(t, c)
	if m.Type != client.TypeMessage || !strings.Contains(string(m.Data), `"event":"webhook_paused"`) ||
		!strings.Contains(string(m.Data), fmt.Sprintf(`"webhook_id":%d`, hook.ID)) || m.Offset == nil {
		t.Fatalf("got %s %s, want the webhook_paused message", m.Type, m.Data)
	}

	tn.addRow(t, tbl, field, "b")
	tn.addRow(t, tbl, field, "c")
	if v := tn.getWebhook(t, hook.ID); v.Lag < 3 {
		t.Fatalf("lag while paused %d", v.Lag)
	}
	mu.Lock()
	gone = false
	mu.Unlock()
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/webhooks/%d/resume", hook.ID), nil, "", &struct{}{})
	calls := rcv.waitCalls(t, waitTimeout, "a, b, c", func(cs []hookCall) bool { return len(accepted(t, cs)) >= 3 })
	var names []string
	for _, p := range accepted(t, calls) {
		if p.EventType == "rows.created" {
			names = append(names, rowName(t, p.Items[0], field))
		}
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Fatalf("after resume got %v", names)
	}
	if code := tn.rest(t, "owner", "POST", fmt.Sprintf("/api/webhooks/%d/resume", hook.ID), nil, "", nil); code != 409 {
		t.Fatalf("resume an active webhook: %d", code)
	}

	// Skip: pause on d, skip it, e arrives.
	mu.Lock()
	gone = true
	mu.Unlock()
	tn.addRow(t, tbl, field, "d")
	waitUntil(t, waitTimeout, "paused again", func() bool { return tn.getWebhook(t, hook.ID).Status == "paused" })
	mu.Lock()
	gone = false
	mu.Unlock()
	var v webhookView
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/webhooks/%d/skip", hook.ID), nil, "", &v)
	if v.Status != "active" {
		t.Fatalf("after skip %+v", v)
	}
	tn.addRow(t, tbl, field, "e")
	rcv.waitCalls(t, waitTimeout, "e", func(cs []hookCall) bool {
		ps := accepted(t, cs)
		return rowName(t, ps[len(ps)-1].Items[0], field) == "e"
	})
	dls := tn.deadLetters(t, hook.ID)
	if len(dls) != 1 || len(dls[0].Attempts) != 1 || dls[0].Attempts[0].Status != 410 {
		t.Fatalf("dead letters after skip %+v", dls)
	}
}

// TestWebhookRotatedSecret: the secret is shown at creation and rotation
// only; calls after a rotation verify with the new secret, not the old.
func TestWebhookRotatedSecret(t *testing.T) {
	tn := startNode(t, webhookArgs())
	_, tbl, field := tableFixture(t, tn)
	rcv := newReceiver(t, nil)
	hook := tn.createWebhook(t, "owner", tbl, map[string]any{"url": rcv.url(), "headers": map[string]string{"X-Token": "t1"}})
	if got := tn.getWebhook(t, hook.ID); got.Secret != "" {
		t.Fatalf("GET shows the secret")
	}
	tn.addRow(t, tbl, field, "one")
	calls := rcv.waitCalls(t, waitTimeout, "one", func(cs []hookCall) bool { return len(cs) == 1 })
	if verify(hook.Secret, calls[0]) != nil || calls[0].Header.Get("X-Token") != "t1" {
		t.Fatalf("first call: %v, header %q", verify(hook.Secret, calls[0]), calls[0].Header.Get("X-Token"))
	}
	var rotated webhookView
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/webhooks/%d/rotate-secret", hook.ID), nil, "", &rotated)
	if !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == hook.Secret {
		t.Fatalf("rotated secret %q", rotated.Secret)
	}
	tn.addRow(t, tbl, field, "two")
	calls = rcv.waitCalls(t, waitTimeout, "two", func(cs []hookCall) bool { return len(cs) == 2 })
	if err := verify(rotated.Secret, calls[1]); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if verify(hook.Secret, calls[1]) == nil {
		t.Fatal("the old secret still verifies")
	}
}

// TestWebhookAddressesRefused: without TABLECAST_WEBHOOK_ALLOW_PRIVATE a
// literal loopback, private or metadata address is refused at creation, and
// a name that resolves to 127.0.0.1 (localhost) is refused when dialled:
// the receiver is never called and the webhook pauses saying why. A
// redirect is not followed.
func TestWebhookAddressesRefused(t *testing.T) {
	tn := startNode(t, withArgs("--webhook-retry-base", "5ms"))
	_, tbl, field := tableFixture(t, tn)
	rcv := newReceiver(t, nil)
	port := rcv.srv.Listener.Addr().(*net.TCPAddr).Port
	for _, u := range []string{rcv.url(), "http://10.0.0.8/x", "http://169.254.169.254/latest/meta-data",
		"http://[::1]:8080/", "http://[::ffff:127.0.0.1]/", "ftp://example.com/", "http://user:pw@example.com/"} {
		code := tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/webhooks", tbl), map[string]any{"url": u}, "", nil)
		if code != 400 {
			t.Errorf("creating a webhook to %s: %d, want 400", u, code)
		}
	}
	hook := tn.createWebhook(t, "owner", tbl, map[string]any{"url": fmt.Sprintf("http://localhost:%d/hook", port)})
	tn.addRow(t, tbl, field, "x")
	var v webhookView
	waitUntil(t, waitTimeout, "paused", func() bool {
		v = tn.getWebhook(t, hook.ID)
		return v.Status == "paused"
	})
	if v.PausedReason == nil || !strings.Contains(*v.PausedReason, "address refused") {
		t.Fatalf("paused %+v", v)
	}
	if n := len(rcv.snapshot()); n != 0 {
		t.Fatalf("the receiver was called %d times", n)
	}

	// A redirect is an answer, not followed (private addresses allowed here).
	tp := startNode(t, webhookArgs())
	_, tbl2, field2 := tableFixture(t, tp)
	target := newReceiver(t, nil)
	redirect := newReceiver(t, func(int, []byte) reply { return reply{status: 307, location: target.url()} })
	h2 := tp.createWebhook(t, "owner", tbl2, map[string]any{"url": redirect.url()})
	tp.addRow(t, tbl2, field2, "y")
	waitUntil(t, waitTimeout, "paused on the redirect", func() bool { return tp.getWebhook(t, h2.ID).Status == "paused" })
	if len(target.snapshot()) != 0 || len(redirect.snapshot()) != 1 {
		t.Fatalf("redirect followed: target %d calls, redirect %d", len(target.snapshot()), len(redirect.snapshot()))
	}
}

// TestWebhookAccess: only table admins manage webhooks (an editor 403, a
// stranger 404); removing the creator from the workspace does not stop the
// webhook; deleting the table deletes it.
func TestWebhookAccess(t *testing.T) {
	tn := startNode(t, webhookArgs())
	ws, tbl, field := tableFixture(t, tn)
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/members", ws), map[string]any{"user_id": "ed", "role": "editor"}, "", &struct{}{})
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/members", ws), map[string]any{"user_id": "ad", "role": "admin"}, "", &struct{}{})
	rcv := newReceiver(t, nil)
	body := map[string]any{"url": rcv.url()}
	if code := tn.rest(t, "ed", "POST", fmt.Sprintf("/api/tables/%d/webhooks", tbl), body, "", nil); code != 403 {
		t.Fatalf("editor creates: %d", code)
	}
	if code := tn.rest(t, "stranger", "GET", fmt.Sprintf("/api/tables/%d/webhooks", tbl), nil, "", nil); code != 404 {
		t.Fatalf("stranger lists: %d", code)
	}
	hook := tn.createWebhook(t, "ad", tbl, body)
	for _, c := range []struct {
		user, method, path string
		want               int
	}{
		{"ed", "GET", fmt.Sprintf("/api/webhooks/%d", hook.ID), 403},
		{"stranger", "GET", fmt.Sprintf("/api/webhooks/%d", hook.ID), 404},
		{"stranger", "POST", fmt.Sprintf("/api/webhooks/%d/rotate-secret", hook.ID), 404},
		{"ed", "GET", fmt.Sprintf("/api/webhooks/%d/dead-letters", hook.ID), 403},
		{"owner", "GET", "/api/webhooks/999999", 404},
		{"owner", "PUT", fmt.Sprintf("/api/webhooks/%d", hook.ID), 405},
	} {
		if code := tn.rest(t, c.user, c.method, c.path, nil, "", nil); code != c.want {
			t.Errorf("%s %s %s: %d, want %d", c.user, c.method, c.path, code, c.want)
		}
	}
	if code := tn.rest(t, "owner", "PATCH", fmt.Sprintf("/api/webhooks/%d", hook.ID), map[string]any{"batch": 101}, "", nil); code != 400 {
		t.Fatalf("batch 101: %d", code)
	}
	if code := tn.rest(t, "owner", "PATCH", fmt.Sprintf("/api/webhooks/%d", hook.ID), map[string]any{"events": []string{"row.created"}}, "", nil); code != 400 {
		t.Fatalf("unknown event: %d", code)
	}
	var list struct{ Results []webhookView }
	tn.rest(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/webhooks", tbl), nil, "", &list)
	if len(list.Results) != 1 || list.Results[0].ID != hook.ID || list.Results[0].Secret != "" {
		t.Fatalf("list %+v", list)
	}

	// The creator leaves: the webhook goes on.
	if code := tn.rest(t, "owner", "DELETE", fmt.Sprintf("/api/workspaces/%d/members/ad", ws), nil, "", nil); code != 204 {
		t.Fatalf("remove member: %d", code)
	}
	tn.addRow(t, tbl, field, "after")
	rcv.waitCalls(t, waitTimeout, "a call after the creator left", func(cs []hookCall) bool { return len(accepted(t, cs)) == 1 })

	if code := tn.rest(t, "owner", "DELETE", fmt.Sprintf("/api/tables/%d", tbl), nil, "", nil); code != 204 {
		t.Fatalf("delete table: %d", code)
	}
	if code := tn.rest(t, "owner", "GET", fmt.Sprintf("/api/webhooks/%d", hook.ID), nil, "", nil); code != 404 {
		t.Fatalf("webhook of a deleted table: %d", code)
	}
}

// TestWebhookPausedOnBaserowTablePage: the pause reaches a Baserow table
// page too, after the row's event, with its own _event_id.
func TestWebhookPausedOnBaserowTablePage(t *testing.T) {
	tn := startNode(t, webhookArgs())
	_, tbl, field := tableFixture(t, tn)
	rcv := newReceiver(t, func(int, []byte) reply { return reply{status: http.StatusNotFound} })
	hook := tn.createWebhook(t, "owner", tbl, map[string]any{"url": rcv.url()})
	c := tn.brUser(t, "owner")
	c.tablePage(tbl)
	tn.addRow(t, tbl, field, "a")
	row := c.expect("rows_created")
	m := c.expect("webhook_paused")
	if m.num(t, "webhook_id") != hook.ID || m.num(t, "table_id") != tbl || m.eventID(t) != row.eventID(t)+1 ||
		!strings.Contains(m.String(), "404") {
		t.Fatalf("got %s after %s", m, row)
	}
}
