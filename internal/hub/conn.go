package hub

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Transport is what the hub writes to: a WebSocket connection in production.
type Transport interface {
	// WriteBuffers writes every buffer (vectored where possible) within timeout.
	WriteBuffers(bufs *net.Buffers, timeout time.Duration) (int64, error)
	Close() error
}

// Session is the dialect's side of a connection: what the hub cannot render.
type Session interface {
	// DisconnectFrames returns the bytes to write before closing: the
	// dialect's disconnect message and the close frame.
	DisconnectFrames(d Disconnect) []byte
}

// Disconnect says why the server ends a connection.
type Disconnect struct {
	Code      int
	Reason    string
	Reconnect bool
}

// The disconnects the hub itself decides (native-protocol.md, close codes).
var (
	DisconnectShutdown   = Disconnect{Code: 4000, Reason: "server shutdown", Reconnect: true}
	DisconnectExpired    = Disconnect{Code: 4001, Reason: "token expired", Reconnect: true}
	DisconnectSlow       = Disconnect{Code: 4002, Reason: "slow consumer: resync", Reconnect: true}
	DisconnectKicked     = Disconnect{Code: 4003, Reason: "disconnected by admin", Reconnect: false}
	DisconnectRateAbuse  = Disconnect{Code: 4004, Reason: "rate limit abused", Reconnect: true}
	DisconnectTimeout    = Disconnect{Code: 4005, Reason: "heartbeat timeout", Reconnect: true}
	DisconnectAuthExpiry = Disconnect{Code: 4001, Reason: "no connect message in time", Reconnect: true}
)

type connState uint8

const (
	stateOpen    connState = iota
	stateClosing           // final frames queued; closes once they are written
	stateClosed
)

// ConnInfo describes a new connection.
type ConnInfo struct {
	ID        string
	Dialect   Dialect
	Transport Transport
	Session   Session
	Remote    string
}

// Conn is one client connection as the hub sees it: an identity, its
// subscriptions, and a writer. The writer is a goroutine that exists only while
// there is something to write: an idle connection holds none.
//
// Lock order: shard.mu (channels) -> subscription.mu -> Conn.smu -> Conn.qmu.
// Conn.qmu is a leaf: nothing else is locked while holding it.
type Conn struct {
	hub       *Hub
	id        string
	dialect   Dialect
	transport Transport
	session   Session
	remote    string

	// identity, set once by Authenticate
	authed    atomic.Bool
	userID    string
	sessionID string
	expiresAt atomic.Int64 // unix nanos; 0: never
	created   int64        // unix nanos

	lastSeen atomic.Int64 // unix nanos of the last sign of life
	lastPing int64        // sweeper only

	// write side, guarded by qmu
	qmu     sync.Mutex
	queue   [][]byte
	stamps  []int64 // publication time per queued frame, 0 for replies
	spare   [][]byte
	spareTs []int64
	qbytes  int64
	writing bool
	state   connState
	final   []byte
	wbufs   net.Buffers // the writer's own; kept here so a write does not allocate
	// writeFn is writeLoop bound once: `go c.writeFn()` starts the writer
	// without allocating, where `go c.writeLoop()` allocates a wrapper each time.
	writeFn func()

	// subscriptions and presence, guarded by smu
	smu      sync.Mutex
	subs     map[string]*subscription // by channel key
	presence map[string]struct{}      // channel keys where this connection has presence

	finishOnce sync.Once
	done       chan struct{}
}

// ID is the connection id (native `connection_id`).
func (c *Conn) ID() string { return c.id }

// UserID is the authenticated user ("" before authentication).
func (c *Conn) UserID() string { return c.userID }

// SessionID is the client-chosen session id.
func (c *Conn) SessionID() string { return c.sessionID }

// Authenticated reports whether Authenticate has been called.
func (c *Conn) Authenticated() bool { return c.authed.Load() }

// Done is closed once the connection is closed and forgotten by the hub.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Touch records a sign of life (any frame from the client).
func (c *Conn) Touch() { c.lastSeen.Store(c.hub.now().UnixNano()) }

// SetExpiry sets when the connection's credentials expire (zero: never).
func (c *Conn) SetExpiry(t time.Time) {
	if t.IsZero() {
		c.expiresAt.Store(0)
		return
	}
	c.expiresAt.Store(t.UnixNano())
}

// Send queues frame for the client. It never blocks on the network: when the
// queue would exceed the hub's SendQueue bytes the connection is closed as a
// slow consumer (4002) and Send reports false.
func (c *Conn) Send(frame []byte) bool { return c.enqueue(frame, 0) }

func (c *Conn) enqueue(frame []byte, stamp int64) bool {
	c.qmu.Lock()
	if c.state != stateOpen {
		c.qmu.Unlock()
		return false
	}
	if c.qbytes+int64(len(frame)) > c.hub.cfg.SendQueue {
		c.qmu.Unlock()
		if c.disconnect(DisconnectSlow, true) {
			c.hub.stats.droppedSlow.Add(1)
		}
		return false
	}
	c.queue = append(c.queue, frame)
	c.stamps = append(c.stamps, stamp)
	c.qbytes += int64(len(frame))
	start := c.startWriterLocked()
	c.qmu.Unlock()
	if start {
		go c.writeFn()
	}
	return true
}

// startWriterLocked reports whether the caller must start the writer. qmu must be held.
func (c *Conn) startWriterLocked() bool {
	if c.writing {
		return false
	}
	c.writing = true
	c.hub.wg.Add(1)
	return true
}

// Disconnect sends the dialect's disconnect message and closes the connection
// once what is queued before it has been written.
func (c *Conn) Disconnect(d Disconnect) { c.disconnect(d, false) }

// disconnect reports whether it started closing the connection (false: it
// was already closing).
func (c *Conn) disconnect(d Disconnect, dropQueued bool) bool {
	final := c.session.DisconnectFrames(d)
	c.qmu.Lock()
	if c.state != stateOpen {
		c.qmu.Unlock()
		return false
	}
	c.state = stateClosing
	if dropQueued {
		// The client will resync; what it has not read yet is worthless.
		clear(c.queue)
		c.queue, c.stamps, c.qbytes = c.queue[:0], c.stamps[:0], 0
	}
	c.final = final
	start := c.startWriterLocked()
	c.qmu.Unlock()
	if start {
		go c.writeFn()
	}
	return true
}

// Abort closes the connection at once, without a goodbye: the client went away
// or broke the protocol.
func (c *Conn) Abort() {
	c.qmu.Lock()
	c.state = stateClosed
	c.qmu.Unlock()
	_ = c.transport.Close()
	c.finish()
}

// writeLoop drains the queue: every frame queued since the last write goes out
// in one vectored write. It ends when the queue is empty, so that an idle
// connection has no goroutine.
func (c *Conn) writeLoop() {
	defer c.hub.wg.Done()
	for {
		c.qmu.Lock()
		if len(c.queue) == 0 {
			if c.state == stateOpen {
				c.writing = false
				c.qmu.Unlock()
				return
			}
			final := c.final
			c.final = nil
			closed := c.state == stateClosed
			c.state = stateClosed
			c.writing = false
			c.qmu.Unlock()
			if !closed && len(final) > 0 {
				bufs := net.Buffers{final}
				_, _ = c.transport.WriteBuffers(&bufs, c.hub.cfg.WriteTimeout)
			}
			_ = c.transport.Close()
			c.finish()
			return
		}
		batch, stamps, n := c.queue, c.stamps, c.qbytes
		c.queue, c.stamps, c.qbytes = c.spare[:0], c.spareTs[:0], 0
		c.qmu.Unlock()

		c.wbufs = batch
		_, err := c.transport.WriteBuffers(&c.wbufs, c.hub.cfg.WriteTimeout)
		c.wbufs = nil
		c.hub.observeWrite(len(batch), n, stamps)
		clear(batch)

		c.qmu.Lock()
		c.spare, c.spareTs = batch[:0], stamps[:0]
		if err != nil {
			c.state = stateClosed
			clear(c.queue)
			c.queue, c.stamps, c.qbytes, c.final = c.queue[:0], c.stamps[:0], 0, nil
		}
		c.qmu.Unlock()
	}
}

// finish forgets the connection everywhere, once.
func (c *Conn) finish() {
	c.finishOnce.Do(func() {
		c.hub.forget(c)
		close(c.done)
	})
}

// QueuedBytes is the size of the send queue now.
func (c *Conn) QueuedBytes() int64 {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.qbytes
}
