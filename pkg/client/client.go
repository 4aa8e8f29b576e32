package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Client is a connection to a tablecast server speaking the native
// protocol. Its methods are safe for concurrent use.
type Client struct {
	cfg     Config
	url     *url.URL
	log     *slog.Logger
	netDial func(ctx context.Context, network, addr string) (net.Conn, error)

	msgs   chan Message  // written only by the run goroutine, closed when it ends
	done   chan struct{} // closed when the run goroutine ends
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nextID atomic.Uint64

	closeOnce sync.Once

	expiry chan expiry // to the refresh goroutine: the latest token's exp

	// mu guards the fields below. It is never held during I/O, while
	// calling OnEvent, or together with conn.wmu.
	mu      sync.Mutex
	conn    *conn // nil while reconnecting and after the end
	info    Connected
	pending map[string]*pending
	subs    map[subKey]struct{}
	streams map[string]*stream // by collection
	closing bool               // Close was called
	err     error              // why the client ended; set when done is closed
}

// pending is a request waiting for its reply.
type pending struct {
	ch chan result // capacity 1; nil for the client's own requests
	// hook, when set, runs in the reader goroutine before ch is signalled,
	// so that state changes happen in order with the messages that follow.
	hook func(Message, error)
}

type result struct {
	msg Message
	err error
}

func (p *pending) resolve(m Message, err error) {
	if err == nil && m.Type == TypeError {
		err = serverError(m)
	}
	if p.hook != nil {
		p.hook(m, err)
	}
	if p.ch != nil {
		p.ch <- result{msg: m, err: err}
	}
}

type subKey struct {
	collection, document string
}

// stream is the resume state of one collection: the position of the last
// message delivered, shared by the collection's subscriptions.
type stream struct {
	pos  Position
	refs int // subscriptions in this collection
}

// Dial connects, waits for the server's connected message and starts the
// client. An HTTP refusal is a *HandshakeError; an error message in reply to
// a connect message (TokenInConnect) is a *ServerError. Dial does not retry:
// Config.Reconnect applies once a first connection has been made.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	cn, info, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.conn, c.info = cn, info
	c.emit(Event{Type: EventConnected, Info: info})
	c.wg.Add(1)
	go c.run(cn)
	if c.cfg.PingInterval > 0 {
		c.wg.Add(1)
		go c.pingLoop()
	}
	if c.autoRefresh() {
		c.noteExpiry(info)
		c.wg.Add(1)
		go c.refreshLoop()
	}
	return c, nil
}

// connect makes one connection attempt, up to the connected message.
func (c *Client) connect(ctx context.Context) (*conn, Connected, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	token := c.cfg.Token
	if c.cfg.TokenFunc != nil {
		var err error
		token, err = c.cfg.TokenFunc(ctx)
		if err != nil {
			return nil, Connected{}, fmt.Errorf("tablecast: token: %w", err)
		}
	}
	u := *c.url
	q := u.Query()
	header := c.cfg.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	switch c.cfg.TokenMode {
	case TokenInQuery:
		if token != "" {
			q.Set("token", token)
		}
	case TokenInHeader:
		if token != "" {
			header.Set("Authorization", "Bearer "+token)
		}
	}
	if c.cfg.SessionID != "" && c.cfg.TokenMode != TokenInConnect {
		q.Set("session_id", c.cfg.SessionID)
	}
	u.RawQuery = q.Encode()

	var refused *HandshakeError
	d := ws.Dialer{
		ReadBufferSize: c.cfg.ReadBufferSize,
		Header:         ws.HandshakeHeaderHTTP(header),
		NetDial:        c.netDial,
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			refused = refusal(status, resp)
		},
	}
	nc, br, _, err := d.Dial(ctx, u.String())
	if err != nil {
		if refused != nil {
			return nil, Connected{}, refused
		}
		return nil, Connected{}, fmt.Errorf("tablecast: dial %s: %w", c.url.Redacted(), err)
	}
	cn := newConn(nc, br, c.cfg.ReadBufferSize, c.cfg.WriteTimeout)
	if c.cfg.TokenMode == TokenInConnect {
		data, _ := json.Marshal(struct {
			Token     string `json:"token"`
			SessionID string `json:"session_id,omitempty"`
		}{token, c.cfg.SessionID})
		err = cn.writeJSON(Message{Type: TypeConnect, Data: data})
		if err != nil {
			_ = nc.Close()
			return nil, Connected{}, err
		}
	}
	info, err := cn.awaitConnected(ctx)
	if err != nil {
		_ = nc.Close()
		return nil, Connected{}, err
	}
	cn.connectedAt = time.Now()
	return cn, info, nil
}

// Info returns the connected data of the current (or last) connection.
func (c *Client) Info() Connected {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// Messages returns the channel of every server message that is not the
// reply to a request made with Request (or Subscribe, Ping...): op,
// message, presence, unsubscribe with a reason, disconnect, error without a
// request id, and replies to messages sent with Send. op and message
// messages replayed after a reconnect are delivered here too, in order,
// and duplicates (an offset already delivered for the collection) are
// dropped.
//
// The channel is buffered (Config.MessageBuffer). When the consumer falls
// behind, the reader blocks: replies are not read either, and the server's
// send queue fills until the server disconnects the client as a slow
// consumer (4002). The channel is closed when the client is done; it is not
// closed across reconnects.
func (c *Client) Messages() <-chan Message { return c.msgs }

// Done is closed when the client has stopped for good: after Close, or
// when the connection ended and no reconnect follows.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client stopped: ErrClosed after Close, a *CloseError
// when the server closed the connection, a *HandshakeError when a reconnect
// was refused, or the I/O error. It is nil until Done is closed.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Position returns the resume position of a collection the client is
// subscribed to: the offset of the last op or message delivered for it.
func (c *Client) Position(collection string) (Position, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.streams[collection]
	if !ok {
		return Position{}, false
	}
	return s.pos, true
}

// Request sends m with a fresh id (any id in m is replaced) and waits for
// the reply with that id. An error reply is returned as a *ServerError. If
// the connection ends first the error wraps ErrConnectionLost; while
// reconnecting it is ErrNotConnected.
func (c *Client) Request(ctx context.Context, m Message) (Message, error) {
	return c.request(ctx, m, nil)
}

func (c *Client) request(ctx context.Context, m Message, hook func(Message, error)) (Message, error) {
	p := &pending{ch: make(chan result, 1), hook: hook}
	c.mu.Lock()
	cn, err := c.connLocked()
	if err != nil {
		c.mu.Unlock()
		return Message{}, err
	}
	m.ID = c.newID()
	c.pending[m.ID] = p
	c.mu.Unlock()

	err = cn.writeJSON(m)
	if err != nil {
		c.mu.Lock()
		delete(c.pending, m.ID)
		c.mu.Unlock()
		return Message{}, err
	}
	// A request abandoned through ctx stays pending until its reply or the
	// end of the connection, so that a late reply is not mistaken for a
	// message and its hook still runs.
	select {
	case r := <-p.ch:
		return r.msg, r.err
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// connLocked returns the current connection. c.mu must be held.
func (c *Client) connLocked() (*conn, error) {
	switch {
	case c.closing:
		return nil, ErrClosed
	case c.err != nil:
		return nil, fmt.Errorf("%w: %w", ErrClosed, c.err)
	case c.conn == nil:
		return nil, ErrNotConnected
	}
	return c.conn, nil
}

func (c *Client) newID() string {
	return strconv.FormatUint(c.nextID.Add(1), 10)
}

// Subscribe subscribes to a collection, or to one document of it when
// document is not empty. The client then keeps the subscription's position
// and restores it after a reconnect.
func (c *Client) Subscribe(ctx context.Context, collection, document string) (SubscribeResult, error) {
	return c.subscribe(ctx, collection, document, nil)
}

// SubscribeFrom is Subscribe with data.since: the server first replays
// every message after since, then replies with Recovered true; or replays
// nothing and replies with Recovered false, and the caller must refetch.
func (c *Client) SubscribeFrom(ctx context.Context, collection, document string, since Position) (SubscribeResult, error) {
	return c.subscribe(ctx, collection, document, &since)
}

// subscribe sends the subscription, and again, after a backoff (at least
// the server's retry_after), as long as the server refuses it for now (503).
func (c *Client) subscribe(ctx context.Context, collection, document string, since *Position) (SubscribeResult, error) {
	for attempt := 1; ; attempt++ {
		res, err := c.subscribeOnce(ctx, collection, document, since)
		var se *ServerError
		if !errors.As(err, &se) || !se.Temporary() {
			return res, err
		}
		wait := max(se.RetryAfter, backoff(attempt, c.cfg.ReconnectMin, c.cfg.ReconnectMax))
		c.log.Debug("tablecast: subscription refused for now; retrying", "collection", collection, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return SubscribeResult{}, err
		case <-c.ctx.Done():
			t.Stop()
			return SubscribeResult{}, err
		}
	}
}

func (c *Client) subscribeOnce(ctx context.Context, collection, document string, since *Position) (SubscribeResult, error) {
	m := Message{Type: TypeSubscribe, Collection: collection, Document: document}
	if since != nil {
		m.Data = sinceData(*since)
	}
	key := subKey{collection, document}
	var res SubscribeResult
	var decodeErr error
	_, err := c.request(ctx, m, func(reply Message, err error) {
		if err != nil {
			return
		}
		decodeErr = json.Unmarshal(reply.Data, &res)
		if decodeErr != nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.subs[key]; !ok {
			c.subs[key] = struct{}{}
			s := c.streams[collection]
			if s == nil {
				s = &stream{}
				c.streams[collection] = s
			}
			s.refs++
		}
		c.advanceLocked(collection, res)
	})
	if err != nil {
		return SubscribeResult{}, err
	}
	if decodeErr != nil {
		return SubscribeResult{}, fmt.Errorf("tablecast: bad subscribe reply: %w", decodeErr)
	}
	return res, nil
}

func sinceData(p Position) json.RawMessage {
	b, _ := json.Marshal(struct {
		Since Position `json:"since"`
	}{p})
	return b
}

// advanceLocked moves a collection's position to a subscribe reply's: to
// the reply's if the epoch changed, else to the greater offset.
// c.mu must be held.
func (c *Client) advanceLocked(collection string, res SubscribeResult) {
	s := c.streams[collection]
	if s == nil {
		return
	}
	if s.pos.Epoch != res.Epoch {
		s.pos = res.Position()
	} else if res.Offset > s.pos.Offset {
		s.pos.Offset = res.Offset
	}
}

// forgetLocked drops a subscription. c.mu must be held.
func (c *Client) forgetLocked(key subKey) {
	if _, ok := c.subs[key]; !ok {
		return
	}
	delete(c.subs, key)
	if s := c.streams[key.collection]; s != nil {
		s.refs--
		if s.refs <= 0 {
			delete(c.streams, key.collection)
		}
	}
}

// Unsubscribe ends a subscription. The client forgets it at once, so it is
// not restored by a reconnect; while reconnecting, that is all it does.
func (c *Client) Unsubscribe(ctx context.Context, collection, document string) error {
	key := subKey{collection, document}
	c.mu.Lock()
	c.forgetLocked(key)
	disconnected := c.conn == nil && !c.closing && c.err == nil
	c.mu.Unlock()
	if disconnected {
		return nil
	}
	_, err := c.request(ctx, Message{Type: TypeUnsubscribe, Collection: collection, Document: document},
		func(_ Message, err error) {
			if err != nil {
				return
			}
			// A subscribe reply that arrived while the request was in
			// flight may have added it back.
			c.mu.Lock()
			c.forgetLocked(key)
			c.mu.Unlock()
		})
	return err
}

// Ping sends a ping message and returns the round-trip time to its pong.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := c.Request(ctx, Message{Type: TypePing})
	return time.Since(start), err
}

// Presence sets the client's presence state (a JSON object of at most
// 1 KiB) in a channel; state nil leaves. Presence is not restored after a
// reconnect.
func (c *Client) Presence(ctx context.Context, collection, document string, state any) error {
	data := json.RawMessage("null")
	if state != nil {
		var err error
		data, err = json.Marshal(state)
		if err != nil {
			return fmt.Errorf("tablecast: encode presence: %w", err)
		}
	}
	_, err := c.Request(ctx, Message{Type: TypePresence, Collection: collection, Document: document, Data: data})
	return err
}

// Send sends m as it is, without waiting for anything. A reply, if the
// server sends one, arrives on Messages.
func (c *Client) Send(m Message) error {
	cn, err := c.current()
	if err != nil {
		return err
	}
	return cn.writeJSON(m)
}

// SendRaw sends p as one text frame, unchecked: for tests that send junk.
func (c *Client) SendRaw(p []byte) error {
	cn, err := c.current()
	if err != nil {
		return err
	}
	return cn.writeFrame(ws.OpText, p)
}

// SendBinary sends p as one binary frame, which the protocol does not use.
func (c *Client) SendBinary(p []byte) error {
	cn, err := c.current()
	if err != nil {
		return err
	}
	return cn.writeFrame(ws.OpBinary, p)
}

func (c *Client) current() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connLocked()
}

// Close sends a close frame (1000), waits briefly for the server's, stops
// reconnecting and waits for the client's goroutines. Messages is closed
// and Err returns ErrClosed (unless the client had already ended). Close
// must not be called from OnEvent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing = true
		cn := c.conn
		c.mu.Unlock()
		c.cancel()
		if cn == nil {
			return
		}
		err := cn.writeClose(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
		if err != nil {
			cn.fail(ErrClosed)
			return
		}
		_ = cn.nc.SetReadDeadline(time.Now().Add(closeTimeout))
	})
	c.wg.Wait()
	return nil
}

func (c *Client) emit(e Event) {
	c.log.Debug("tablecast client event", "event", e.Type.String(), "code", e.Code, "err", e.Err)
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(e)
	}
}
