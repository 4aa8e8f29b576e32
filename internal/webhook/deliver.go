package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/store"
)

const (
	// maxResponseRead bounds what is read of a receiver's answer;
	// responseKept is what an attempt keeps of it.
	maxResponseRead = 64 << 10
	responseKept    = 512
	// maxRetryWait caps the backoff and a Retry-After.
	maxRetryWait = 10 * time.Minute
	// maxKeptAttempts bounds the attempts a dead letter keeps (the first
	// and the last ones).
	maxKeptAttempts = 50
)

// newClient returns the HTTP client of the webhooks: no proxy (it would
// reach what the address check refuses), no redirects followed, the
// address checked as it is dialled. It keeps up to conns idle connections
// to a host, the dispatcher's concurrency: many webhooks often call one
// receiver, and fewer would make most calls open a new connection.
func newClient(timeout time.Duration, allowPrivate bool, conns int) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = safeControl
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConns:          max(conns, 256),
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// result is one call's outcome.
type result struct {
	Attempt
	ok         bool
	retryable  bool
	retryAfter time.Duration // from Retry-After, 0 if none
}

// caller is what a worker's calls share while its webhook's settings stay
// the same: its headers and the HMAC under its secret's key, made once
// rather than at every call. A worker's calls are made one at a time, by
// its goroutine: a caller is not shared.
type caller struct {
	secret  string
	headers json.RawMessage // as the webhook has them, to tell a change
	header  http.Header     // the webhook's headers and the fixed ones
	mac     hash.Hash       // nil when the secret is not valid
}

// caller returns the worker's caller for the webhook's settings w.
func (wk *worker) caller(w store.Webhook) *caller {
	if c := wk.c; c != nil && c.secret == w.Secret && bytes.Equal(c.headers, w.Headers) {
		return c
	}
	c := &caller{secret: w.Secret, headers: bytes.Clone(w.Headers), header: http.Header{}}
	var headers map[string]string
	_ = json.Unmarshal(w.Headers, &headers)
	for k, v := range headers {
		c.header.Set(k, v)
	}
	c.header.Set("Content-Type", "application/json")
	c.header.Set("User-Agent", "tablecast-webhook")
	if key, err := secretKey(w.Secret); err == nil {
		c.mac = hmac.New(sha256.New, key)
	}
	wk.c = c
	return c
}

// Canonical forms of the signing headers, set without Header.Set's work.
var (
	canonicalID        = http.CanonicalHeaderKey(HeaderID)
	canonicalTimestamp = http.CanonicalHeaderKey(HeaderTimestamp)
	canonicalSignature = http.CanonicalHeaderKey(HeaderSignature)
)

// call makes one signed POST of body to the webhook.
func (d *Dispatcher) call(ctx context.Context, w store.Webhook, c *caller, id string, body []byte) result {
	start := d.cfg.Now()
	r := result{Attempt: Attempt{At: start.UTC()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		r.Error = "the URL cannot be called: " + err.Error()
		return r
	}
	// A header of its own for each request (the transport may still hold
	// the last one's after an error); the values are shared, read-only.
	req.Header = make(http.Header, len(c.header)+3)
	for k, v := range c.header {
		req.Header[k] = v
	}
	ts, sig := signWith(c.mac, id, start, body)
	req.Header[canonicalID] = []string{id}
	req.Header[canonicalTimestamp] = []string{ts}
	req.Header[canonicalSignature] = []string{sig}
	resp, err := d.client.Do(req)
	r.DurationMS = d.cfg.Now().Sub(start).Milliseconds()
	if err != nil {
		r.Error = callError(err)
		// A refused address stays refused; the rest may pass next time.
		r.retryable = !errors.Is(err, ErrAddressRefused)
		return r
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	if len(got) > responseKept {
		got = got[:responseKept]
	}
	r.Status, r.Response = resp.StatusCode, strings.ToValidUTF8(string(got), "\uFFFD")
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		r.ok = true
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		r.retryable = true
		r.retryAfter = retryAfter(resp.Header.Get("Retry-After"), d.cfg.Now())
	}
	return r
}

// callError says what went wrong in words safe to show the table's
// admins: no internal detail beyond the address involved.
func callError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrAddressRefused):
		return "address refused: it is not a public address (TABLECAST_WEBHOOK_ALLOW_PRIVATE)"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	return err.Error()
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, maxRetryWait)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryWait)
	}
	return 0
}

// backoff is the wait after the n-th failed attempt: the base doubled each
// attempt, up to maxRetryWait, between half and all of it (jitter); a
// longer Retry-After wins.
func (d *Dispatcher) backoff(n int, after time.Duration) time.Duration {
	w := d.cfg.RetryBase
	for i := 1; i < n && w < maxRetryWait; i++ {
		w *= 2
	}
	w = min(w, maxRetryWait)
	w = w/2 + rand.N(w/2+1)
	return max(w, after)
}

// errStop ends a delivery without a verdict: the node is stopping or has
// lost the webhook's lease.
var errStop = errors.New("webhook: delivery stopped")

// deliver calls until the receiver takes the body or the retry budget
// (attempts and age) is spent. ok is false with the attempts made when it
// failed; err is errStop when it was interrupted.
func (d *Dispatcher) deliver(ctx context.Context, wk *worker, id string, body []byte) (ok bool, attempts []Attempt, err error) {
	first := d.cfg.Now()
	for n := 1; ; n++ {
		select { // a slot of the node's concurrency
		case d.slots <- struct{}{}:
		case <-ctx.Done():
			return false, attempts, errStop
		}
		// Then the node's writes first (yield.go), and the lease checked:
		// waiting may have taken the lease's margin.
		if !d.giveWay(ctx) || !wk.leased() {
			<-d.slots
			return false, attempts, errStop
		}
		w := wk.hook()
		c := wk.caller(w)
		if c.mac == nil {
			<-d.slots
			return false, append(attempts, Attempt{At: d.cfg.Now().UTC(), Error: "the webhook's secret is not valid"}), nil
		}
		r := d.call(ctx, w, c, id, body)
		<-d.slots
		if ctx.Err() != nil {
			return false, attempts, errStop
		}
		attempts = append(attempts, r.Attempt)
		if len(attempts) > maxKeptAttempts {
			attempts = append(attempts[:1], attempts[2:]...)
		}
		if r.ok {
			return true, attempts, nil
		}
		d.obs.Failed(w.ID, r.Status)
		if !r.retryable || n >= d.cfg.MaxAttempts {
			return false, attempts, nil
		}
		wait := d.backoff(n, r.retryAfter)
		if d.cfg.Now().Add(wait).Sub(first) > d.cfg.MaxAge {
			return false, attempts, nil
		}
		d.obs.Retried(w.ID)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, attempts, errStop
		case <-t.C:
		}
	}
}

// failure words why a delivery failed, for paused_reason.
func failure(first, last uint64, tableID int64, attempts []Attempt) string {
	what := "event " + EventID(tableID, first)
	if last != first {
		what = fmt.Sprintf("events %s to %d", EventID(tableID, first), last)
	}
	if len(attempts) == 0 {
		return what + " could not be delivered"
	}
	a := attempts[len(attempts)-1]
	why := a.Error
	if a.Status != 0 {
		why = "the receiver answered " + strconv.Itoa(a.Status)
	}
	return fmt.Sprintf("%s failed after %d attempts: %s", what, len(attempts), why)
}
