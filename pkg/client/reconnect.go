package client

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/gobwas/ws"
)

// run is the client's one long-lived goroutine: it reads the connection
// and, when the connection ends, reconnects or finishes the client. It is
// the only goroutine that sends on c.msgs.
func (c *Client) run(cn *conn) {
	defer c.wg.Done()
	attempt := 0
	var err error
	for {
		err = cn.endError(c.readLoop(cn))
		c.dropConn(cn, err)
		if !c.shouldReconnect(err) {
			break
		}
		// A connection that stayed up long enough resets the backoff; one
		// that flaps keeps growing it.
		if time.Since(cn.connectedAt) >= c.cfg.ReconnectMax {
			attempt = 0
		}
		cn, attempt, err = c.reconnect(err, attempt)
		if cn == nil {
			break
		}
	}
	c.finish(err)
}

func (c *Client) readLoop(cn *conn) error {
	for {
		op, p, err := cn.next()
		if err != nil {
			return err
		}
		if op != ws.OpText {
			c.log.Debug("tablecast: ignoring a binary message", "len", len(p))
			continue
		}
		var m Message
		err = m.UnmarshalJSON(p) // checks what it reads: no need for json.Unmarshal's pass
		if err != nil {
			c.log.Warn("tablecast: ignoring an undecodable message", "err", err)
			continue
		}
		c.dispatch(cn, m)
	}
}

// dispatch routes one server message: to the request waiting for it, or
// to Messages.
func (c *Client) dispatch(cn *conn, m Message) {
	if m.ID != "" {
		c.mu.Lock()
		p, ok := c.pending[m.ID]
		if ok {
			delete(c.pending, m.ID)
		}
		c.mu.Unlock()
		if ok {
			p.resolve(m, nil)
			return
		}
	}
	switch m.Type {
	case TypeOp, TypeMessage:
		if !c.advance(m) {
			c.log.Debug("tablecast: dropping a duplicate", "collection", m.Collection, "offset", *m.Offset)
			return
		}
	case TypeUnsubscribe:
		if m.ID == "" { // the server ended the subscription
			var d struct {
				Reconnect bool `json:"reconnect"`
			}
			_ = json.Unmarshal(m.Data, &d)
			key := subKey{m.Collection, m.Document}
			c.mu.Lock()
			if _, held := c.subs[key]; held && d.Reconnect {
				// It could not be kept for now: subscribe again from the
				// position held, as after a reconnect.
				again := c.resubscribeMsgLocked(key, 1)
				c.mu.Unlock()
				_ = cn.writeJSON(again) // a failure tears the connection down; the reconnect restores key
				return
			}
			c.forgetLocked(key) // access lost
			c.mu.Unlock()
		}
	case TypeDisconnect:
		cn.noteDisconnect(m)
	}
	select {
	case c.msgs <- m:
	case <-c.ctx.Done(): // closing: nobody is obliged to read any more
	}
}

// advance records the offset of an op or message of a subscribed
// collection, and reports false for a duplicate (an offset at or below the
// last one delivered for that collection).
func (c *Client) advance(m Message) bool {
	if m.Offset == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.streams[m.Collection]
	if s == nil {
		return true
	}
	if *m.Offset <= s.pos.Offset {
		return false
	}
	s.pos.Offset = *m.Offset
	return true
}

// dropConn forgets a connection that ended, failing its pending requests.
func (c *Client) dropConn(cn *conn, err error) {
	_ = cn.nc.Close()
	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
	}
	pend := c.pending
	c.pending = make(map[string]*pending)
	closing := c.closing
	c.mu.Unlock()

	lost := err
	if !errors.Is(lost, ErrConnectionLost) {
		lost = fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	for _, p := range pend {
		p.resolve(Message{}, lost)
	}
	if closing {
		return
	}
	ev := Event{Type: EventDisconnected, Err: err}
	var ce *CloseError
	if errors.As(err, &ce) {
		ev.Code, ev.Reason = ce.Code, ce.Reason
	}
	c.emit(ev)
}

func (c *Client) shouldReconnect(err error) bool {
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing || !c.cfg.Reconnect {
		return false
	}
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Reconnect
	}
	return true
}

// reconnect retries until a connection is made, the client is closed, or
// an attempt fails in a way retrying cannot fix. It returns the new
// connection (nil if none), the attempt count and the final error.
func (c *Client) reconnect(cause error, attempt int) (*conn, int, error) {
	var ce *CloseError
	rateLimited := errors.As(cause, &ce) && ce.Code == CloseRateLimited
	for {
		attempt++
		delay := backoff(attempt, c.cfg.ReconnectMin, c.cfg.ReconnectMax)
		if rateLimited {
			// 4004 asks for a real pause: at least half the maximum.
			half := c.cfg.ReconnectMax / 2
			delay = half + rand.N(c.cfg.ReconnectMax-half+1)
			rateLimited = false
		}
		c.emit(Event{Type: EventReconnecting, Attempt: attempt, Delay: delay, Err: cause})
		if !c.sleep(delay) {
			return nil, attempt, ErrClosed
		}
		cn, info, err := c.connect(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				return nil, attempt, ErrClosed
			}
			if c.fatal(err) {
				return nil, attempt, err
			}
			c.log.Warn("tablecast: reconnect failed", "attempt", attempt, "err", err)
			cause = err
			continue
		}
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			_ = cn.nc.Close()
			return nil, attempt, ErrClosed
		}
		c.conn, c.info = cn, info
		c.mu.Unlock()
		c.emit(Event{Type: EventConnected, Info: info})
		if c.autoRefresh() {
			c.noteExpiry(info)
		}
		c.resubscribe(cn)
		return cn, attempt, nil
	}
}

// backoff returns the delay before the given attempt (from 1): uniform in
// [0, min(hi, lo*2^(attempt-1))], "full jitter".
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	ceil := lo
	for i := 1; i < attempt && ceil < hi; i++ {
		ceil *= 2
	}
	ceil = min(ceil, hi)
	return rand.N(ceil + 1)
}

func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// fatal reports whether a failed connection attempt is not worth
// repeating: a refusal for a reason other than load (429, 5xx), a token
// refused when there is no TokenFunc to get another, or a close without
// reconnect.
func (c *Client) fatal(err error) bool {
	refreshable := c.cfg.TokenFunc != nil
	var he *HandshakeError
	if errors.As(err, &he) {
		if he.Status == http.StatusUnauthorized && refreshable {
			return false
		}
		return he.Status != http.StatusTooManyRequests && he.Status < 500
	}
	var se *ServerError
	if errors.As(err, &se) {
		return (se.Code == http.StatusUnauthorized && !refreshable) || se.Code == http.StatusForbidden
	}
	var ce *CloseError
	if errors.As(err, &ce) {
		return !ce.Reconnect
	}
	return false
}

// resubscribe restores every subscription on a new connection, each with
// data.since at its collection's position. The replies are handled by the
// reader (resubscribed), before any message that follows them.
func (c *Client) resubscribe(cn *conn) {
	c.mu.Lock()
	keys := make([]subKey, 0, len(c.subs))
	for key := range c.subs {
		keys = append(keys, key)
	}
	// Collections before their documents: a collection's replay then covers
	// its documents' and theirs is dropped as duplicate.
	slices.SortFunc(keys, func(a, b subKey) int {
		return cmp.Or(cmp.Compare(a.collection, b.collection), cmp.Compare(a.document, b.document))
	})
	msgs := make([]Message, 0, len(keys))
	for _, key := range keys {
		msgs = append(msgs, c.resubscribeMsgLocked(key, 1))
	}
	c.mu.Unlock()
	for _, m := range msgs {
		if cn.writeJSON(m) != nil {
			return // the connection is torn down; the reader will notice
		}
	}
}

// resubscribeMsgLocked is the subscribe message restoring key from its
// collection's position; its reply goes to resubscribed. c.mu is held.
func (c *Client) resubscribeMsgLocked(key subKey, attempt int) Message {
	var since Position
	if s := c.streams[key.collection]; s != nil {
		since = s.pos
	}
	id := c.newID()
	c.pending[id] = &pending{hook: func(m Message, err error) { c.resubscribed(key, attempt, m, err) }}
	return Message{Type: TypeSubscribe, ID: id, Collection: key.collection, Document: key.document, Data: sinceData(since)}
}

// retryResubscribe sends a resubscription the server refused for now (503)
// again after a backoff, on the connection of that time; a reconnect
// meanwhile restores it anyway.
func (c *Client) retryResubscribe(key subKey, attempt int, wait time.Duration) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.mu.Lock()
		cn := c.conn
		c.mu.Unlock()
		if !c.sleep(wait) {
			return
		}
		c.mu.Lock()
		if _, active := c.subs[key]; !active || c.conn != cn || cn == nil {
			c.mu.Unlock()
			return
		}
		m := c.resubscribeMsgLocked(key, attempt+1)
		c.mu.Unlock()
		_ = cn.writeJSON(m) // a failure tears the connection down; the reconnect restores key
	}()
}

// resubscribed handles the reply to a resubscription.
func (c *Client) resubscribed(key subKey, attempt int, m Message, err error) {
	if errors.Is(err, ErrConnectionLost) {
		return // another reconnect will try again
	}
	var se *ServerError
	if errors.As(err, &se) && se.Temporary() {
		wait := max(se.RetryAfter, backoff(attempt, c.cfg.ReconnectMin, c.cfg.ReconnectMax))
		c.log.Debug("tablecast: resubscription refused for now; retrying", "collection", key.collection, "in", wait)
		c.retryResubscribe(key, attempt, wait)
		return
	}
	var res SubscribeResult
	if err == nil {
		err = json.Unmarshal(m.Data, &res)
		if err != nil {
			err = fmt.Errorf("tablecast: bad subscribe reply: %w", err)
		}
	}
	c.mu.Lock()
	_, active := c.subs[key]
	if active {
		if err != nil {
			c.forgetLocked(key)
		} else {
			c.advanceLocked(key.collection, res)
		}
	}
	c.mu.Unlock()
	if !active {
		return // unsubscribed meanwhile
	}
	ev := Event{Collection: key.collection, Document: key.document, Result: res}
	switch {
	case err != nil:
		ev.Type, ev.Err = EventResubscribeFailed, err
	case res.Recovered:
		ev.Type = EventRecovered
	default:
		ev.Type = EventNotRecovered
	}
	c.emit(ev)
}

// finish ends the client: Err, Messages and Done.
func (c *Client) finish(err error) {
	c.mu.Lock()
	if c.closing || err == nil {
		err = ErrClosed
	}
	c.err = err
	c.conn = nil
	c.mu.Unlock()
	c.cancel()
	close(c.msgs)
	close(c.done)
}

// pingLoop sends protocol pings every Config.PingInterval.
func (c *Client) pingLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.autoPing()
		}
	}
}

// autoPing sends a ping, or ends the connection if the previous one is
// still unanswered.
func (c *Client) autoPing() {
	c.mu.Lock()
	cn := c.conn
	if cn == nil || c.closing {
		c.mu.Unlock()
		return
	}
	if cn.pingPending {
		c.mu.Unlock()
		c.log.Warn("tablecast: no pong, dropping the connection")
		cn.fail(ErrPingTimeout)
		return
	}
	cn.pingPending = true
	id := c.newID()
	c.pending[id] = &pending{hook: func(Message, error) {
		c.mu.Lock()
		cn.pingPending = false
		c.mu.Unlock()
	}}
	c.mu.Unlock()
	_ = cn.writeJSON(Message{Type: TypePing, ID: id})
}
