package admission

import (
	"context"
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
type Base struct {
	ctx          context.Context
	cancel       context.CancelFunc
	storeTimeout time.Duration
	limits       *Limits
	now          func() time.Time
	guard        ratelimit.Guard
	closing      bool
}

// NewBase returns a session base for a socket of endpoint e (after Init),
// its Store calls bounded by e.StoreTimeout.
func (e *Endpoint) NewBase() Base {
	storeTimeout := e.StoreTimeout
	if storeTimeout <= 0 {
		storeTimeout = DefaultStoreTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return Base{ctx: ctx, cancel: cancel, storeTimeout: storeTimeout, limits: &e.Limits, now: e.Now,
		guard: ratelimit.NewGuard(e.RatePerSecond, e.RateBurst, e.Now())}
}

// Context ends when the socket does (End).
func (b *Base) Context() context.Context { return b.ctx }

// StoreContext bounds one Store call: the socket's context with the
// store deadline.
func (b *Base) StoreContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, b.storeTimeout)
}

// End cancels the socket's context; the dialect calls it when the hub
// closes the session (hub.SessionCloser).
func (b *Base) End() { b.cancel() }

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
