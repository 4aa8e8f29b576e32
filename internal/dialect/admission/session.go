package admission

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/ratelimit"
	"github.com/tablecast/tablecast/internal/transport"
)

// DefaultStoreTimeout bounds each Store call a socket's message makes,
// unless the endpoint's StoreTimeout says otherwise.
const DefaultStoreTimeout = 10 * time.Second

// Base is what the three dialects' sessions share: a context that ends
// with the socket, a deadline for each Store call, and one admission step
// for each inbound frame (control frames, binary frames, the rate limit
// and its abuse). Each dialect embeds it and keeps its own decoding and
// dispatch. Admit and Allow are the reader's (one goroutine at a time);
// Context, StoreContext and End may be called from any goroutine.
//
// An idle socket holds no context: the socket's own is made on the first
// Context call, and a Store call's context is not derived from it (a
// derived context leaves its parent a map of children for good, about
// 500 bytes a socket); End cancels the calls in flight itself, from a
// slice whose one-element array a socket keeps once it made a call.
type Base struct {
	storeTimeout time.Duration
	limits       *Limits
	now          func() time.Time
	guard        ratelimit.Guard
	closing      bool

	mu     sync.Mutex
	ended  bool
	ctx    context.Context    // made by Context
	cancel context.CancelFunc // ctx's
	calls  []storeCall        // Store calls in flight (usually one); the array is reused
	callID uint64
}

// storeCall is a Store call in flight: End cancels it.
type storeCall struct {
	id     uint64
	cancel context.CancelFunc
}

// NewBase returns a session base for a socket of endpoint e (after Init),
// its Store calls bounded by e.StoreTimeout.
func (e *Endpoint) NewBase() Base {
	storeTimeout := e.StoreTimeout
	if storeTimeout <= 0 {
		storeTimeout = DefaultStoreTimeout
	}
	return Base{storeTimeout: storeTimeout, limits: &e.Limits, now: e.Now,
		guard: ratelimit.NewGuard(e.RatePerSecond, e.RateBurst, e.Now())}
}

// Context ends when the socket does (End).
func (b *Base) Context() context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithCancel(context.Background())
		if b.ended {
			b.cancel()
		}
	}
	return b.ctx
}

// StoreContext bounds one Store call: it ends at the store deadline, or
// when the socket does (End), whichever comes first. The caller calls
// the CancelFunc when the call is over.
func (b *Base) StoreContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), b.storeTimeout)
	b.mu.Lock()
	if b.ended {
		b.mu.Unlock()
		cancel()
		return ctx, cancel
	}
	b.callID++
	id := b.callID
	b.calls = append(b.calls, storeCall{id, cancel})
	b.mu.Unlock()
	return ctx, func() {
		b.mu.Lock()
		b.calls = slices.DeleteFunc(b.calls, func(c storeCall) bool { return c.id == id })
		b.mu.Unlock()
		cancel()
	}
}

// End cancels the socket's context and the Store calls in flight; the
// dialect calls it when the hub closes the session (hub.SessionCloser).
func (b *Base) End() {
	b.mu.Lock()
	b.ended = true
	calls, cancel := b.calls, b.cancel
	b.calls = nil
	b.mu.Unlock()
	for _, c := range calls {
		c.cancel()
	}
	if cancel != nil {
		cancel()
	}
}

// Verdict is the admission step's answer for one frame.
type Verdict int

const (
	// Pass: a data frame to decode and dispatch.
	Pass Verdict = iota
	// Handled: a control frame answered, or a frame of a socket being
	// closed for abuse; the reader returns Admit's error.
	Handled
	// Binary: a binary frame, which no dialect accepts; the dialect
	// refuses it in its own words.
	Binary
)

// Admit is the first step for each inbound frame: control frames are
// answered (ping, close) through send; binary frames are the dialect's to
// refuse; frames after abuse are dropped.
func (b *Base) Admit(m transport.Message, send func([]byte) bool) (Verdict, error) {
	if handled, err := transport.Control(m, send); handled {
		return Handled, err
	}
	if m.Op == ws.OpBinary {
		return Binary, nil
	}
	if b.closing {
		return Handled, nil
	}
	return Pass, nil
}

// Allow applies the rate limit to a decoded message. A refused message
// gets the dialect's rate-limit reply, unless err is ErrAbuse: the socket
// sent more than AbuseFactor times its limit for AbuseWindow, and the
// reader returns err so that ReadClosed closes it (4004).
func (b *Base) Allow() (ok bool, err error) {
	ok, abusive := b.guard.Allow(b.now(), b.limits.AbuseThreshold(), b.limits.AbuseWindow)
	if abusive {
		b.closing = true
	}
	if !ok && b.closing {
		return false, ErrAbuse
	}
	return ok, nil
}

// Drop makes Admit drop every later frame: the dialect is closing the
// socket (a refused connect, say). Reader only.
func (b *Base) Drop() { b.closing = true }

// Dropping reports whether later frames are dropped (Drop, or abuse).
// Reader only.
func (b *Base) Dropping() bool { return b.closing }
