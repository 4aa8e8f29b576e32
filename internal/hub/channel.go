package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tablecast/tablecast/internal/stream"
)

// channelShard holds the collections whose name hashes to it. A collection and
// all of its documents live in one shard, so a document publication reaches
// the collection's and the document's subscribers under one read lock.
type channelShard struct {
	mu          sync.RWMutex
	collections map[string]*collection
}

type collection struct {
	// stream is the collection's stream (h.shardKey): events are delivered
	// only to collections of the event's own stream, even when another
	// stream's collections share the shard.
	stream string
	subs   map[*Conn]*subscription            // subscribers of the whole collection
	docs   map[string]map[*Conn]*subscription // subscribers of single documents
	// presence by channel key ("" for the collection itself, else the document)
	presence map[string]map[*Conn]presenceState
}

func (col *collection) empty() bool {
	return len(col.subs) == 0 && len(col.docs) == 0 && len(col.presence) == 0
}

// subscription is one connection's interest in a channel. Until the subscribe
// reply is queued it is pending: publications that arrive meanwhile are held
// and queued after the reply, so that nothing after the reply's offset is
// missed and nothing before it is sent twice.
type subscription struct {
	conn       *Conn
	collection string
	document   string
	live       atomic.Bool
	mu         sync.Mutex // guards pending and the switch to live
	pending    []*Publication
	// start is the position the subscribe reply announced: a streamed
	// publication at or before it was replayed or predates the subscription.
	// Written before live is set, read after live is seen.
	start stream.Position
}

// covers reports whether p is at or before the subscription's start.
func (s *subscription) covers(p *Publication) bool {
	return p.Kind.Streamed() && p.Offset <= s.start.Offset && p.Epoch == s.start.Epoch
}

func (h *Hub) newCollection(name string) *collection {
	return &collection{stream: h.shardKey(name)}
}

func channelKey(collection, document string) string {
	if document == "" {
		return collection
	}
	return collection + "." + document
}

func (h *Hub) shardFor(collection string) *channelShard {
	return h.shardForStream(h.shardKey(collection))
}

// Errors returned by Subscribe.
var (
	ErrTooManySubscriptions = errors.New("hub: too many subscriptions")
	ErrNotAuthenticated     = errors.New("hub: connection not authenticated")
)

// SubscribeRequest asks for a subscription.
type SubscribeRequest struct {
	Collection string
	Document   string
	// Since, when set, asks for every publication after it first.
	Since *stream.Position
	// Reply renders the subscribe reply; it is queued after the replayed
	// publications and before any live one.
	Reply func(SubscribeResult) []byte
}

// SubscribeResult is the stream position the subscription starts from.
type SubscribeResult struct {
	Position  stream.Position
	Recovered bool
}

// Subscribe subscribes c. It is idempotent: subscribing again to the same
// channel answers with the current position and replays what since asks for.
func (h *Hub) Subscribe(ctx context.Context, c *Conn, req SubscribeRequest) (SubscribeResult, error) {
	if !c.authed.Load() {
		return SubscribeResult{}, ErrNotAuthenticated
	}
	sub := &subscription{conn: c, collection: req.Collection, document: req.Document}

	c.smu.Lock()
	existing := c.findSubLocked(req.Collection, req.Document) >= 0
	if !existing && len(c.subs) >= h.cfg.MaxSubscriptions {
		c.smu.Unlock()
		return SubscribeResult{}, ErrTooManySubscriptions
	}
	if !existing {
		c.subs = append(c.subs, sub)
	}
	c.smu.Unlock()

	if existing {
		return h.resubscribe(ctx, c, req)
	}
	h.addSubscription(sub)
	// Every subscriber asks the broker, not only the node's first: a second
	// one is answered only once the first's subscription is made too.
	if err := h.cfg.Broker.Subscribe(ctx, h.shardKey(req.Collection)); err != nil {
		_, ext := h.external(req.Collection)
		if !ext || !errors.Is(err, ErrSubscribePending) {
			h.removeSubscription(c, req.Collection, req.Document)
			return SubscribeResult{}, fmt.Errorf("%w: broker subscribe: %w", ErrUnavailable, err)
		}
		// A table stream's history is the store: this node delivers its
		// own writes at once, and the broker catches up on the other
		// nodes' (HandleResync) once it is back.
		h.log.Warn("broker subscription pending; the stream is served from the store meanwhile",
			"stream", h.shardKey(req.Collection), "err", err)
	}
	res, replay, err := h.position(ctx, req)
	if err != nil {
		h.removeSubscription(c, req.Collection, req.Document)
		return SubscribeResult{}, err
	}
	h.queueReplay(c, req, replay)
	if req.Reply != nil {
		c.Send(req.Reply(res))
	}
	present := h.queuePresence(c, req.Collection, req.Document)
	sub.mu.Lock()
	sub.start = res.Position
	for _, p := range sub.pending {
		if sub.covers(p) || (p.Kind == KindPresence && present.has(p)) {
			continue
		}
		var sent bool
		if p.Kind == KindEvent {
			sent = h.sendEvent(c, p, sub.collection, sub.document)
		} else {
			sent = h.sendOne(c, p)
		}
		if sent {
			// A live publication, held while the reply was prepared: count it
			// as delivered like the others.
			p.delivered.Add(1)
			if h.cfg.Observer != nil {
				h.cfg.Observer.Delivered(p.Kind, 1)
			}
		}
	}
	sub.pending = nil
	sub.live.Store(true)
	sub.mu.Unlock()
	return res, nil
}

// resubscribe answers a subscribe for a channel c already has: the live
// subscription already delivers everything new, so only the replay is sent.
// Messages already delivered may be sent again: the client's since says it
// did not see them.
func (h *Hub) resubscribe(ctx context.Context, c *Conn, req SubscribeRequest) (SubscribeResult, error) {
	res, replay, err := h.position(ctx, req)
	if err != nil {
		return SubscribeResult{}, err
	}
	h.queueReplay(c, req, replay)
	if req.Reply != nil {
		c.Send(req.Reply(res))
	}
	return res, nil
}

// position reads the stream's position and, with since, what was missed.
func (h *Hub) position(ctx context.Context, req SubscribeRequest) (SubscribeResult, []*Publication, error) {
	if streamName, ok := h.external(req.Collection); ok {
		return h.externalPosition(ctx, streamName, req)
	}
	if req.Since == nil {
		top, err := h.cfg.Broker.Top(ctx, req.Collection)
		if err != nil {
			return SubscribeResult{}, nil, fmt.Errorf("%w: stream position: %w", ErrUnavailable, err)
		}
		return SubscribeResult{Position: top, Recovered: true}, nil, nil
	}
	pubs, top, err := h.cfg.Broker.History(ctx, req.Collection, *req.Since, h.cfg.ReplayLimit)
	if errors.Is(err, stream.ErrUnrecoverable) {
		if top.Epoch == "" {
			if top, err = h.cfg.Broker.Top(ctx, req.Collection); err != nil {
				return SubscribeResult{}, nil, fmt.Errorf("%w: stream position: %w", ErrUnavailable, err)
			}
		}
		return SubscribeResult{Position: top, Recovered: false}, nil, nil
	}
	if err != nil {
		return SubscribeResult{}, nil, fmt.Errorf("%w: stream history: %w", ErrUnavailable, err)
	}
	return SubscribeResult{Position: top, Recovered: true}, pubs, nil
}

func (h *Hub) queueReplay(c *Conn, req SubscribeRequest, pubs []*Publication) {
	for _, p := range pubs {
		if p.Kind == KindEvent {
			h.sendEvent(c, p, req.Collection, req.Document) // it leaves out what excludes c
			continue
		}
		if req.Document != "" && p.Document != req.Document {
			continue
		}
		if p.excludes(c) {
			continue
		}
		h.sendOne(c, p)
	}
}

// sendOne renders p for c alone (replay, pending): not the fan-out path.
// It reports whether the frame was queued.
func (h *Hub) sendOne(c *Conn, p *Publication) bool {
	r := h.cfg.Renderers[c.dialect]
	if r == nil {
		return false
	}
	frame, err := r.Render(p)
	if err != nil {
		h.log.Error("render publication", "collection", p.Collection, "err", err)
		return false
	}
	return c.enqueue(frame, p.Time.UnixNano())
}

// addSubscription enters sub in its channel.
func (h *Hub) addSubscription(sub *subscription) {
	sh := h.shardFor(sub.collection)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	col := sh.collections[sub.collection]
	if col == nil {
		col = h.newCollection(sub.collection)
		sh.collections[sub.collection] = col
	}
	var set map[*Conn]*subscription
	if sub.document == "" {
		if col.subs == nil {
			col.subs = make(map[*Conn]*subscription)
		}
		set = col.subs
	} else {
		if col.docs == nil {
			col.docs = make(map[string]map[*Conn]*subscription)
		}
		set = col.docs[sub.document]
		if set == nil {
			set = make(map[*Conn]*subscription)
			col.docs[sub.document] = set
		}
	}
	if len(set) == 0 {
		h.stats.channels.Add(1)
	}
	set[sub.conn] = sub
	h.stats.subscriptions.Add(1)
}

// Unsubscribe ends c's subscription to a channel (not subscribed is no error)
// and its presence there.
func (h *Hub) Unsubscribe(ctx context.Context, c *Conn, collectionName, document string) {
	h.removeSubscription(c, collectionName, document)
	h.leavePresence(ctx, c, collectionName, document)
}

func (h *Hub) removeSubscription(c *Conn, collectionName, document string) {
	c.smu.Lock()
	sub := c.takeSubLocked(collectionName, document)
	c.smu.Unlock()
	if sub == nil {
		return
	}
	h.dropSubscription(sub)
}

func (h *Hub) dropSubscription(sub *subscription) {
	sh := h.shardFor(sub.collection)
	sh.mu.Lock()
	col := sh.collections[sub.collection]
	last := false
	if col != nil {
		set := col.subs
		if sub.document != "" {
			set = col.docs[sub.document]
		}
		if set[sub.conn] == sub {
			delete(set, sub.conn)
			h.stats.subscriptions.Add(-1)
			if len(set) == 0 {
				h.stats.channels.Add(-1)
				if sub.document != "" {
					delete(col.docs, sub.document)
				}
			}
		}
		last = len(col.subs) == 0 && len(col.docs) == 0
		if col.empty() {
			delete(sh.collections, sub.collection)
		}
	}
	sh.mu.Unlock()
	if _, ext := h.external(sub.collection); last && !ext {
		// Several collections share an external stream; its broker interest
		// is kept for the node's life (cheap, and never wrong).
		_ = h.cfg.Broker.Unsubscribe(context.Background(), sub.collection)
	}
}

func (h *Hub) unsubscribeAll(c *Conn) {
	c.smu.Lock()
	subs := c.subs
	var presence []string
	if c.presence != nil {
		presence = *c.presence
	}
	c.subs, c.presence = nil, nil
	c.smu.Unlock()
	for _, sub := range subs {
		h.dropSubscription(sub)
	}
	for _, key := range presence {
		col, doc := splitKey(key)
		h.clearPresence(context.Background(), c, col, doc)
	}
}

// brokerEvents is the hub as its broker sees it: a type of its own keeps
// the BrokerEventHandler methods off the hub's API.
type brokerEvents Hub

var _ BrokerEventHandler = (*brokerEvents)(nil)

// HandlePublication implements BrokerEventHandler.
func (e *brokerEvents) HandlePublication(p *Publication) { (*Hub)(e).handle(p) }

// HandleResync implements BrokerEventHandler.
func (e *brokerEvents) HandleResync(streamName string) { (*Hub)(e).catchUp(streamName) }

// HandleReset implements BrokerEventHandler.
func (e *brokerEvents) HandleReset(collectionName string) { (*Hub)(e).resetChannel(collectionName) }

// handle receives the cluster's publications from the broker.
func (h *Hub) handle(p *Publication) {
	switch p.Kind {
	case KindUser:
		h.deliverUser(p)
	case KindDisconnect:
		h.disconnectLocal(p)
	case KindEvent:
		if h.seq != nil {
			h.seq.Push(p.Stream, stream.Item{Offset: p.Offset, Value: p})
		}
		return // deliverEvent reports its deliveries
	default:
		h.deliver(p)
	}
	if h.cfg.Observer != nil {
		h.cfg.Observer.Delivered(p.Kind, int(p.delivered.Load()))
	}
}

// deliver is the fan-out path: one render per dialect, one queue append per
// subscriber, no allocation per subscriber. The deliveries are counted here
// and added to p once.
func (h *Hub) deliver(p *Publication) {
	var frames [MaxDialects][]byte
	stamp := p.Time.UnixNano()
	n := int64(0)
	sh := h.shardFor(p.Collection)
	sh.mu.RLock()
	col := sh.collections[p.Collection]
	if col != nil {
		for _, sub := range col.subs {
			if h.deliverTo(sub, p, &frames, stamp) {
				n++
			}
		}
		if p.Document != "" {
			for c, sub := range col.docs[p.Document] {
				if _, both := col.subs[c]; both {
					continue // already had it through the collection
				}
				if h.deliverTo(sub, p, &frames, stamp) {
					n++
				}
			}
		}
	}
	sh.mu.RUnlock()
	p.delivered.Add(n)
}

// admit decides whether p is written to the subscription now: not when its
// connection is excluded (unless it is the origin and has a frame of its
// own: origin), not when the subscription is still pending (p is then held,
// once, for the flush after the subscribe reply), not when the reply's
// position already covers it.
func (sub *subscription) admit(p *Publication, origin bool) bool {
	if !origin && (len(p.Exclude) > 0 || len(p.ExcludeUsers) > 0) && p.excludes(sub.conn) {
		return false
	}
	if !sub.live.Load() {
		sub.mu.Lock()
		if !sub.live.Load() {
			// An event may reach one subscription through several of its
			// outputs: hold it once; the flush renders what concerns it.
			if n := len(sub.pending); n == 0 || sub.pending[n-1] != p {
				sub.pending = append(sub.pending, p)
			}
			sub.mu.Unlock()
			return false
		}
		sub.mu.Unlock()
	}
	return !sub.covers(p)
}

// deliverTo queues p on sub's connection unless sub does not admit it, and
// reports whether it did.
func (h *Hub) deliverTo(sub *subscription, p *Publication, frames *[MaxDialects][]byte, stamp int64) bool {
	if !sub.admit(p, false) {
		return false
	}
	c := sub.conn
	frame := frames[c.dialect]
	if frame == nil {
		r := h.cfg.Renderers[c.dialect]
		if r == nil {
			return false
		}
		var err error
		if frame, err = r.Render(p); err != nil {
			// Once per publication and dialect: the next subscriber of
			// this dialect finds the failure rather than rendering (and
			// logging) it again.
			h.log.Error("render publication", "collection", p.Collection, "err", err)
			frames[c.dialect] = renderFailed
			return false
		}
		frames[c.dialect] = frame
	}
	if len(frame) == 0 {
		return false // its rendering failed (renderFailed), or rendered nothing
	}
	return c.enqueue(frame, stamp)
}

// renderFailed marks a dialect whose rendering of the publication failed.
var renderFailed = []byte{}

// Publish hands p to the broker: it takes its offset (streamed kinds) and
// reaches every node. p must not be modified afterwards.
func (h *Hub) Publish(ctx context.Context, p *Publication) (stream.Position, error) {
	if h.draining.Load() {
		return stream.Position{}, ErrClosed
	}
	if p.Time.IsZero() {
		p.Time = h.now()
	}
	pos, err := h.cfg.Broker.Publish(ctx, p)
	if err != nil {
		h.stats.publishErrors.Add(1)
		return pos, fmt.Errorf("%w: publish: %w", ErrUnavailable, err)
	}
	return pos, nil
}

func (h *Hub) deliverUser(p *Publication) {
	var frames [MaxDialects][]byte
	stamp := p.Time.UnixNano()
	s := h.connShardFor(p.Target.UserID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.users[p.Target.UserID].each(func(c *Conn) {
		if p.excludes(c) {
			return
		}
		frame := frames[c.dialect]
		if frame == nil {
			r := h.cfg.Renderers[c.dialect]
			if r == nil {
				return
			}
			f, err := r.Render(p)
			if err != nil {
				h.log.Error("render user message", "err", err)
				return
			}
			frames[c.dialect], frame = f, f
		}
		if c.enqueue(frame, stamp) {
			p.delivered.Add(1)
		}
	})
}

// DisconnectRequest selects connections to close through the cluster.
type DisconnectRequest struct {
	UserID       string
	ConnectionID string
	Reconnect    bool
}

// Disconnect closes (4003) the connections of a user, or one connection, on
// every node.
func (h *Hub) Disconnect(ctx context.Context, req DisconnectRequest) (*Publication, error) {
	p := &Publication{Kind: KindDisconnect, Target: Target{UserID: req.UserID, ConnID: req.ConnectionID}, Reconnect: req.Reconnect}
	_, err := h.Publish(ctx, p)
	return p, err
}

func (h *Hub) disconnectLocal(p *Publication) {
	d := DisconnectKicked
	d.Reconnect = p.Reconnect
	var targets []*Conn
	switch {
	case p.Target.ConnID != "":
		// userID is written before authed is set: read it only after.
		if c := h.Conn(p.Target.ConnID); c != nil && (p.Target.UserID == "" || (c.authed.Load() && c.userID == p.Target.UserID)) {
			targets = append(targets, c)
		}
	case p.Target.UserID != "":
		targets = h.UserConns(p.Target.UserID)
	}
	for _, c := range targets {
		if c.Disconnect(d) {
			p.delivered.Add(1)
		}
	}
}

func splitKey(key string) (string, string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '.' {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}

// rawNull is presence's "left".
var rawNull = json.RawMessage("null")
