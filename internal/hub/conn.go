package hub

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Transport is what the hub writes to: a WebSocket connection in production.
type Transport interface {
	// TryWriteBuffers writes what the socket accepts now without waiting and
	// removes it from bufs.
	TryWriteBuffers(bufs *net.Buffers) (int64, error)
	// WriteBuffers writes every buffer, removing what it wrote; when the
	// client takes nothing for timeout its error is os.ErrDeadlineExceeded
	// (a large backlog may take longer, as long as the client reads).
	WriteBuffers(bufs *net.Buffers, timeout time.Duration) (int64, error)
	// CloseAfter closes after a goodbye: it stops writing and discards what
	// the client still sends for up to linger, so the goodbye is not lost to
	// a connection reset.
	CloseAfter(linger time.Duration) error
	// Close closes at once.
	Close() error
}

// Session is the dialect's side of a connection: what the hub cannot render.
type Session interface {
	// DisconnectFrames returns the bytes to write before closing: the
	// dialect's disconnect message and the close frame.
	DisconnectFrames(d Disconnect) []byte
	// RevokedFrame tells the client it lost a subscription because it may no
	// longer see the channel (native: unsubscribe with reason "forbidden").
	RevokedFrame(collection, document string) []byte
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

// closeLinger bounds how long a closing connection waits for the client to
// read its goodbye and go.
const closeLinger = time.Second

type connState uint8

const (
	stateOpen    connState = iota
	stateClosing           // final frames queued; closes once they are written
	stateClosed
)

// ConnInfo describes a new connection.
type ConnInfo struct {
	// ID names the connection; empty: the hub gives it "c_" and 16 random
	// characters (the native and ShareDB dialects' ids).
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
// Conn.qmu is a leaf: nothing else is locked while holding it. writer.mu
// (a writer's taken list) is taken alone, one writer's at a time.
type Conn struct {
	// What a delivery and a flush both touch comes first, together: a
	// connection handed from the publishing CPU to a writer's then moves
	// three cache lines rather than four.
	hub       *Hub
	transport Transport
	dialect   Dialect

	// write side, guarded by qmu
	scheduled bool // on a writer's list, being flushed, or draining slowly
	state     connState
	qmu       sync.Mutex
	qbytes    int64
	queue     [][]byte
	stamps    []int64 // publication time per queued frame, 0 for replies

	// owned by whoever flushes (one at a time, see scheduled)
	writer    *writer // where it is pushed; a sibling may flush it (writer.steal)
	nextFlush *Conn   // link in a writer's list (guarded by that list's owner)

	// guarded by qmu, like the write side above
	spare   [][]byte
	spareTs []int64
	final   []byte

	id      string
	session Session
	remote  string

	// identity, set once by Authenticate
	authed    atomic.Bool
	userID    string
	sessionID string
	expiresAt atomic.Int64 // unix nanos; 0: never
	created   int64        // unix nanos

	lastSeen atomic.Int64 // unix nanos of the last sign of life
	lastPing int64        // sweeper only

	// subscriptions and presence, guarded by smu
	smu  sync.Mutex
	subs []*subscription // a few per connection: a slice costs less than a map
	// presence lists the channel keys where this connection has presence;
	// behind a pointer because most connections never set any.
	presence *[]string

	finishOnce sync.Once
	finished   atomic.Bool
	done       chan struct{} // made on demand by Done, guarded by smu
}

// ID is the connection id (native `connection_id`).
func (c *Conn) ID() string { return c.id }

// UserID is the authenticated user ("" before authentication).
func (c *Conn) UserID() string { return c.userID }

// SessionID is the client-chosen session id.
func (c *Conn) SessionID() string { return c.sessionID }

// Authenticated reports whether Authenticate has been called.
func (c *Conn) Authenticated() bool { return c.authed.Load() }

// Done is closed once the connection is closed and forgotten by the hub. The
// channel is made on first use: most connections are never waited for.
func (c *Conn) Done() <-chan struct{} {
	c.smu.Lock()
	defer c.smu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.finished.Load() {
			close(c.done)
		}
	}
	return c.done
}

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
	c.unlockAndSchedule()
	return true
}

// unlockAndSchedule releases c.qmu, which the caller holds, and hands c to
// its writer unless it is scheduled already.
func (c *Conn) unlockAndSchedule() {
	schedule := !c.scheduled
	c.scheduled = true
	c.qmu.Unlock()
	if schedule {
		c.writer.push(c)
	}
}

// Disconnect sends the dialect's disconnect message and closes the connection
// once what is queued before it has been written. It reports false when the
// connection was already closing.
func (c *Conn) Disconnect(d Disconnect) bool { return c.disconnect(d, false) }

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
	c.unlockAndSchedule()
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

// flush runs on writer w (the connection's, or a sibling that took it from
// that one's list): it takes everything queued into w's batch and writes
// what the socket accepts without waiting. It never blocks: a socket that
// cannot take it all, and a connection to close, continue on a goroutine of
// their own. w's batch is empty again when it returns.
func (c *Conn) flush(w *writer) {
	f := &w.batch
	switch c.nextBatch(f) {
	case stepIdle:
		return
	case stepClose:
		c.hub.goTracked(c.closeOut)
		return
	}
	_, err := c.transport.TryWriteBuffers(&f.bufs)
	if err != nil {
		*f = flushing{}
		c.writeFailed()
		c.hub.goTracked(c.closeOut)
		return
	}
	if len(f.bufs) > 0 {
		rest := f.handOver()
		c.hub.goTracked(func() { c.drainSlow(rest) })
		return
	}
	if w.local.record(len(f.batch), f.bytes, f.stamps, c.hub.cfg.Now) {
		w.local.addTo(&w.out)
	}
	if c.recycle(f, true) {
		c.writer.push(c) // again, behind the others: one write per turn
	}
}

// flushStep is what a flusher does next.
type flushStep uint8

const (
	stepWrite flushStep = iota // a batch was taken
	stepIdle                   // nothing queued: the connection is unscheduled
	stepClose                  // nothing queued and the connection is closing
)

// nextBatch takes the queue into f (which must be empty) for writing, or
// says why there is nothing to write.
func (c *Conn) nextBatch(f *flushing) flushStep {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	switch {
	case len(c.queue) > 0:
		f.batch, f.stamps, f.bytes = c.queue, c.stamps, c.qbytes
		f.bufs = f.batch
		c.queue, c.stamps, c.qbytes = c.spare[:0], c.spareTs[:0], 0
		c.spare, c.spareTs = nil, nil
		return stepWrite
	case c.state == stateOpen:
		c.scheduled = false
		return stepIdle
	default:
		return stepClose
	}
}

// recycle empties f, a written batch, and hands its backing arrays back to
// the queue side, so that a busy connection does not allocate a queue per
// write. It reports whether the connection has more to do (frames queued,
// or a close); with unschedule, a connection with nothing more is taken off
// its writer in the same critical section (one lock per write rather than
// two).
func (c *Conn) recycle(f *flushing, unschedule bool) (more bool) {
	clear(f.batch)
	batch, stamps := f.batch[:0], f.stamps[:0]
	*f = flushing{}
	c.qmu.Lock()
	if c.spare == nil {
		c.spare, c.spareTs = batch, stamps
	}
	more = len(c.queue) > 0 || c.state != stateOpen
	if !more && unschedule {
		c.scheduled = false
	}
	c.qmu.Unlock()
	return more
}

// drainSlow writes f and then whatever is queued, waiting up to
// WriteTimeout for each write, until the queue is empty; then the
// connection goes back to its writer.
func (c *Conn) drainSlow(f *flushing) {
	for {
		if _, err := c.transport.WriteBuffers(&f.bufs, c.hub.cfg.WriteTimeout); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// The client read nothing for WriteTimeout: a slow
				// consumer too, though its queue never overflowed.
				c.hub.stats.droppedSlow.Add(1)
			}
			*f = flushing{}
			c.writeFailed()
			c.closeOut()
			return
		}
		c.hub.slowOut.record(len(f.batch), f.bytes, f.stamps, c.hub.cfg.Now)
		c.recycle(f, false)
		switch c.nextBatch(f) {
		case stepIdle:
			return
		case stepClose:
			c.closeOut()
			return
		}
	}
}

// writeFailed drops everything: the socket is gone.
func (c *Conn) writeFailed() {
	c.qmu.Lock()
	c.state = stateClosed
	clear(c.queue)
	c.queue, c.stamps, c.qbytes, c.final = nil, nil, 0, nil
	c.qmu.Unlock()
}

// closeOut writes the goodbye frames (if the socket still works), closes it
// and forgets the connection. It runs once the queue is empty.
func (c *Conn) closeOut() {
	c.qmu.Lock()
	final := c.final
	c.final = nil
	wasClosed := c.state == stateClosed
	c.state = stateClosed
	c.qmu.Unlock()
	if !wasClosed && len(final) > 0 {
		bufs := net.Buffers{final}
		if _, err := c.transport.WriteBuffers(&bufs, c.hub.cfg.WriteTimeout); err == nil {
			c.finish() // gone for the hub now, while the socket lingers
			_ = c.transport.CloseAfter(closeLinger)
			return
		}
	}
	_ = c.transport.Close()
	c.finish()
}

// finish forgets the connection everywhere, once.
func (c *Conn) finish() {
	c.finishOnce.Do(func() {
		c.hub.forget(c)
		if cl, ok := c.session.(SessionCloser); ok {
			cl.Closed()
		}
		c.smu.Lock()
		c.finished.Store(true)
		if c.done != nil {
			close(c.done)
		}
		c.smu.Unlock()
	})
}

// QueuedBytes is the size of the send queue now.
func (c *Conn) QueuedBytes() int64 {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.qbytes
}

// Follows reports whether c holds a subscription (live or being made) that
// delivers what the stream sends to a document: to its collection, or to
// the document itself.
func (c *Conn) Follows(collection, document string) bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.findSubLocked(collection, "") >= 0 || (document != "" && c.findSubLocked(collection, document) >= 0)
}

// findSubLocked returns the index of c's subscription to a channel, or -1.
// smu must be held.
func (c *Conn) findSubLocked(collection, document string) int {
	for i, s := range c.subs {
		if s.collection == collection && s.document == document {
			return i
		}
	}
	return -1
}

// takeSubLocked removes and returns c's subscription to a channel. smu must be held.
func (c *Conn) takeSubLocked(collection, document string) *subscription {
	i := c.findSubLocked(collection, document)
	if i < 0 {
		return nil
	}
	sub := c.subs[i]
	last := len(c.subs) - 1
	c.subs[i], c.subs[last] = c.subs[last], nil
	c.subs = c.subs[:last]
	return sub
}

// flushing is a batch on its way to the socket. Each writer has one, which
// it fills from one connection after another, so an idle connection carries
// none; a connection that drains slowly takes its own (handOver).
type flushing struct {
	batch  [][]byte    // as taken from the queue
	bufs   net.Buffers // what of it is not written yet
	stamps []int64
	bytes  int64 // the batch's size
}

// handOver moves the batch to a flushing of its own, for the goroutine that
// finishes writing it, and leaves f empty.
func (f *flushing) handOver() *flushing {
	g := new(flushing)
	*g, *f = *f, flushing{}
	return g
}

var connIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newConnID returns "c_" and 16 random characters.
func newConnID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "c_" + connIDEncoding.EncodeToString(b[:])
}
