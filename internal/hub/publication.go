package hub

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// Kind says what a publication is and how the hub routes it.
type Kind uint8

const (
	// KindMessage is an app-channel message (admin broadcast/publish). Streamed.
	KindMessage Kind = iota + 1
	// KindOp is a document operation. Streamed.
	KindOp
	// KindPresence is a presence change in a channel. Not streamed.
	KindPresence
	// KindUser is a message to every connection of one user. Not streamed.
	KindUser
	// KindDisconnect asks every node to close matching connections. Not streamed.
	KindDisconnect
	// KindEvent is an event of an external stream (a table's outbox): its
	// offset was given at commit, and each dialect renders it (EventRenderer).
	KindEvent
)

// Targeted reports whether publications of this kind are addressed to
// connections (Publication.Target) rather than to a channel.
func (k Kind) Targeted() bool { return k == KindUser || k == KindDisconnect }

// Author is who caused a publication. For an event, UserID is the actor
// and ConnID the connection whose request made it ("" if none, a REST
// call without X-WebSocket-Id); for a presence change, the connection
// whose presence it is.
type Author struct {
	UserID    string
	SessionID string
	ConnID    string
}

// Target is whom a KindUser or KindDisconnect is for: every connection of
// UserID, or, with ConnID, that one connection (a KindDisconnect; with
// UserID too, only if it is that user's).
type Target struct {
	UserID string
	ConnID string
}

// Streamed reports whether publications of this kind have an offset and can
// be recovered.
func (k Kind) Streamed() bool { return k == KindMessage || k == KindOp || k == KindEvent }

// OffsetFromBroker reports whether the broker gives publications of this kind
// their offset (app channels); events come with theirs.
func (k Kind) OffsetFromBroker() bool { return k == KindMessage || k == KindOp }

// Publication is one thing to deliver. It is created by whoever publishes,
// given its offset by the Broker, and rendered by each dialect once: every
// subscriber of a dialect receives the same bytes. A Publication is immutable
// once published.
//
// It is the node's value, not a wire format: each broker encodes what
// travels or is kept in its own terms (the memory broker's history entries,
// the Redis broker's envelope), and what the node learns while delivering it
// (how many connections it reached, what the dialects derived from it) stays
// here, unexported, and never leaves the node.
type Publication struct {
	Kind Kind
	// Stream names the offsets' stream: the collection for app channels,
	// "table:T" or "workspace:W" for events.
	Stream     string
	Collection string
	Document   string
	Offset     uint64
	Epoch      string
	Data       json.RawMessage
	// Event is the type of a KindEvent publication (rows_created, ...); Data
	// is its payload.
	Event string
	// Author is who caused a KindOp, KindEvent or KindPresence.
	Author Author
	// Target is whom a KindUser or KindDisconnect is for.
	Target Target
	// Exclude lists connection ids left out of the delivery; ExcludeUsers user ids.
	Exclude      []string
	ExcludeUsers []string
	// Reconnect is carried by KindDisconnect.
	Reconnect bool
	// Time is when the change entered the server: the start of the latency
	// the metrics report, and the timestamp clients see.
	Time time.Time

	// Node-local state, never encoded.
	delivered atomic.Int64 // local deliveries, for the admin API's answer
	memoMu    sync.Mutex
	// memo, then memoMore: what Memo kept (an entry of memo with no key is
	// free). An event has two derivations (its changes and its submit):
	// in place, they cost no allocation, where a map cost one or two per
	// event.
	memo     [2]memoEntry
	memoMore []memoEntry
}

type memoEntry struct {
	key any
	v   any
	err error
}

// forgetMemo drops what Memo kept.
func (p *Publication) forgetMemo() {
	p.memoMu.Lock()
	p.memo, p.memoMore = [2]memoEntry{}, nil
	p.memoMu.Unlock()
}

// Memo returns what derive makes of p, made once per key whatever the
// number of callers: the dialects that derive the same thing from an event
// (its document changes) share one derivation while the event is rendered.
// It is local to this node; nothing of it travels with the publication.
// key must not be nil.
func (p *Publication) Memo(key any, derive func() (any, error)) (any, error) {
	p.memoMu.Lock()
	defer p.memoMu.Unlock()
	free := -1
	for i, e := range p.memo {
		switch {
		case e.key == key:
			return e.v, e.err
		case e.key == nil && free < 0:
			free = i
		}
	}
	for _, e := range p.memoMore {
		if e.key == key {
			return e.v, e.err
		}
	}
	v, err := derive()
	e := memoEntry{key: key, v: v, err: err}
	if free >= 0 {
		p.memo[free] = e
	} else {
		p.memoMore = append(p.memoMore, e)
	}
	return v, err
}

// Delivered reports how many local connections this publication was written
// to (queued for) on this node.
func (p *Publication) Delivered() int64 { return p.delivered.Load() }

// Channel is the subscription key a publication is addressed to.
func (p *Publication) Channel() string {
	if p.Document == "" {
		return p.Collection
	}
	return p.Collection + "." + p.Document
}

func (p *Publication) excludes(c *Conn) bool {
	for _, id := range p.Exclude {
		if id == c.id {
			return true
		}
	}
	for _, u := range p.ExcludeUsers {
		if u == c.userID {
			return true
		}
	}
	return false
}

// Dialect indexes the renderers: each connection speaks one.
type Dialect uint8

// MaxDialects bounds the Dialect values a hub accepts.
const MaxDialects = 4

// Renderer turns a publication into the bytes one dialect writes to a socket
// (a complete WebSocket frame). It is called once per publication per dialect
// on the fan-out path, and once per connection when replaying history.
type Renderer interface {
	Render(p *Publication) ([]byte, error)
}

// String names a kind for logs and metrics.
func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindOp:
		return "op"
	case KindPresence:
		return "presence"
	case KindUser:
		return "user"
	case KindDisconnect:
		return "disconnect"
	case KindEvent:
		return "event"
	}
	return "unknown"
}
