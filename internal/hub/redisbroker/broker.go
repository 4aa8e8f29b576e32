// Package redisbroker is the hub's Broker for a cluster of nodes sharing
// one Redis: pub/sub between the nodes, app channels' streams (offsets,
// epochs, history) in Redis, and the cluster's state (hub.Cluster:
// presence, sessions, the nodes' statistics). The hub owns the interfaces;
// this package implements them through their exported surface only.
package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/stream"
)

var _ hub.Broker = (*Broker)(nil)

// Broker is the hub.Broker of a cluster: nodes share publications through
// Redis pub/sub, and app channels' streams (offsets, epochs, history) live
// in Redis.
//
//   - A streamed publication (hub.KindMessage, hub.KindOp) takes its
//     offset, goes into its stream's history and is published to the
//     stream's channel in one Lua script, so offsets, history and delivery
//     order agree on every node.
//   - A node subscribes in Redis only to the streams it has subscribers for
//     (Subscribe and Unsubscribe, from the hub), so a message reaches only the
//     nodes that need it, and Redis work per message does not grow with the
//     number of subscribers.
//   - Table events (hub.KindEvent) already have their offsets (from the
//     outbox): they are delivered to this node at once and published for the others,
//     which order them with their sequencers. When Redis is away they still
//     reach this node's subscribers; the other nodes fill the gap from the
//     outbox when the next event arrives.
//   - Presence changes and user-targeted publications (hub.KindUser,
//     hub.KindDisconnect) are delivered here at once and published for the
//     others, who skip their own node's messages.
//
// Keys and channels start with the prefix, so deployments and test runs can
// share one Redis: <prefix>s:{<stream>}:top (a hash: offset and epoch),
// <prefix>s:{<stream>}:hist (a list of entries), channels <prefix>c:<stream>
// and <prefix>all (user-targeted publications).
type Broker struct {
	rdb    redis.UniversalClient
	prefix string
	node   string
	hist   *History
	log    *slog.Logger

	mu      sync.Mutex
	handler hub.BrokerEventHandler
	stats   func() hub.Stats
	ps      *redis.PubSub
	subs    map[string]*redisSub // the streams this node receives
	// resync are the streams to check once the subscription is back after
	// a break.
	resync   map[string]bool
	cancel   context.CancelFunc
	done     chan struct{} // the receiving goroutine's
	beatDone chan struct{} // the heartbeat's

	healthy atomic.Bool

	// last is the position of the last streamed publication received per
	// subscribed stream: the receiving goroutine updates it, Unsubscribe
	// forgets.
	lastMu sync.Mutex
	last   map[string]stream.Position
}

// Config configures a Broker.
type Config struct {
	Client redis.UniversalClient // required
	Prefix string                // default "tablecast:"
	NodeID string                // required: tells this node's messages from the others'
	// HistorySize and HistoryTTL bound each app channel's history.
	HistorySize int
	HistoryTTL  time.Duration
	Logger      *slog.Logger
}

// New returns a broker over the client.
func New(cfg Config) (*Broker, error) {
	if cfg.Client == nil || cfg.NodeID == "" {
		return nil, errors.New("redisbroker: Client and NodeID are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tablecast:"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Broker{
		rdb: cfg.Client, prefix: cfg.Prefix, node: cfg.NodeID, log: cfg.Logger,
		hist: NewHistory(cfg.Client, cfg.Prefix, cfg.HistorySize, cfg.HistoryTTL),
		subs: map[string]*redisSub{},
		last: map[string]stream.Position{}, resync: map[string]bool{},
	}
	b.healthy.Store(true)
	return b, nil
}

// redisSub is one stream this node subscribed to: ready is closed once
// Redis confirmed the subscription (made again after every break).
type redisSub struct {
	ready     chan struct{}
	confirmed bool
}

// subscribeConfirmTimeout bounds the wait for Redis to confirm a
// subscription; past it the subscription is pending (hub.ErrSubscribePending).
const subscribeConfirmTimeout = time.Second

func (b *Broker) channel(name string) string { return b.prefix + "c:" + name }
func (b *Broker) allChannel() string         { return b.prefix + "all" }

// Start implements hub.Broker: it subscribes to the node-wide channel and starts
// the goroutine that hands the cluster's publications to h; Close stops it.
func (b *Broker) Start(ctx context.Context, h hub.BrokerEventHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ps != nil {
		return errors.New("redisbroker: started twice")
	}
	b.handler = h
	b.ps = b.rdb.Subscribe(ctx, b.allChannel())
	// The first reply confirms the subscription; it fails when Redis is
	// away, which the caller should know at start.
	if _, err := b.ps.Receive(ctx); err != nil {
		_ = b.ps.Close()
		b.ps = nil
		return fmt.Errorf("redisbroker: subscribe: %w", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done, b.beatDone = cancel, make(chan struct{}), make(chan struct{})
	go b.receive(rctx, b.ps, b.done)
	go b.heartbeat(rctx, b.beatDone)
	return nil
}

// receive reads the subscription until ctx ends. The client reconnects by
// itself and subscribes again to every channel.
func (b *Broker) receive(ctx context.Context, ps *redis.PubSub, done chan struct{}) {
	defer close(done)
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if b.healthy.Swap(false) {
				b.log.Warn("redis broker: subscription lost; reconnecting", "err", err)
			}
			b.markResync()
			select { // the client's reconnection has its own backoff; do not spin
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if !b.healthy.Swap(true) {
				b.log.Info("redis broker: subscribed again", "channel", m.Channel)
			}
			if m.Kind == "subscribe" {
				b.confirm(m.Channel)
				b.resyncChannel(ctx, m.Channel)
			}
		case *redis.Message:
			b.healthy.Store(true)
			b.dispatch(m.Payload)
		}
	}
}

func (b *Broker) dispatch(payload string) {
	env, err := decodeEnvelope([]byte(payload))
	if err != nil {
		b.log.Error("redis broker: undecodable message", "err", err)
		return
	}
	if env.Node == b.node {
		return // delivered here when it was published
	}
	p := env.publication()
	if env.Offset != 0 {
		b.lastMu.Lock()
		last, seen := b.last[p.Collection]
		b.last[p.Collection] = stream.Position{Offset: p.Offset, Epoch: p.Epoch}
		if seen && last.Epoch == p.Epoch && p.Offset <= last.Offset {
			b.last[p.Collection] = last
			b.lastMu.Unlock()
			return // already delivered (by a resync)
		}
		b.lastMu.Unlock()
		if seen && last.Epoch != p.Epoch {
			// The stream started again (Redis lost it): its subscribers
			// hold positions of the old epoch.
			b.reset(p.Collection)
		}
	}
	b.deliver(p)
}

// markResync notes, when the subscription breaks, every stream to check
// once it is back.
func (b *Broker) markResync() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, sub := range b.subs {
		b.resync[name] = true
		if sub.confirmed {
			sub.confirmed, sub.ready = false, make(chan struct{})
		}
	}
}

// confirm marks a stream's subscription as made, when Redis says so.
func (b *Broker) confirm(channel string) {
	name, ok := strings.CutPrefix(channel, b.prefix+"c:")
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if sub := b.subs[name]; sub != nil && !sub.confirmed {
		sub.confirmed = true
		close(sub.ready)
	}
}

// resyncChannel makes up, once a channel's subscription is back after a
// break, for what may have been published meanwhile: an app channel's
// publications are read from its history and delivered in order (or its
// subscribers reset when the history cannot give them); a table stream is
// caught up from its store by the hub.
func (b *Broker) resyncChannel(ctx context.Context, channel string) {
	name, ok := strings.CutPrefix(channel, b.prefix+"c:")
	if !ok {
		return
	}
	b.mu.Lock()
	pending := b.resync[name]
	delete(b.resync, name)
	b.mu.Unlock()
	if !pending {
		return
	}
	b.lastMu.Lock()
	last, streamed := b.last[name]
	b.lastMu.Unlock()
	if !streamed {
		if h := b.eventHandler(); h != nil {
			h.HandleResync(name)
		}
		return
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pubs, _, err := b.History(hctx, name, last, 1000)
	if err != nil {
		b.lastMu.Lock()
		delete(b.last, name)
		b.lastMu.Unlock()
		b.reset(name)
		return
	}
	for _, p := range pubs {
		b.lastMu.Lock()
		b.last[name] = stream.Position{Offset: p.Offset, Epoch: p.Epoch}
		b.lastMu.Unlock()
		b.deliver(p)
	}
}

func (b *Broker) eventHandler() hub.BrokerEventHandler {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.handler
}

func (b *Broker) deliver(p *hub.Publication) {
	if h := b.eventHandler(); h != nil {
		h.HandlePublication(p)
	}
}

// reset tells the node that an app channel lost publications.
func (b *Broker) reset(collection string) {
	if h := b.eventHandler(); h != nil {
		h.HandleReset(collection)
	}
}

// Publish implements hub.Broker. The publication is encoded once, whatever
// the number of nodes.
func (b *Broker) Publish(ctx context.Context, p *hub.Publication) (stream.Position, error) {
	if p.Kind.OffsetFromBroker() {
		payload, err := encodePublication(p)
		if err != nil {
			return stream.Position{}, err
		}
		pos, err := b.hist.appendPublish(ctx, p.Collection, payload, b.channel(p.Collection))
		if err != nil {
			return stream.Position{}, fmt.Errorf("redisbroker: publish to %s: %w", p.Collection, err)
		}
		p.Offset, p.Epoch = pos.Offset, pos.Epoch
		return pos, nil
	}
	// Delivered here first: this node's subscribers do not depend on Redis.
	b.deliver(p)
	var ch string
	switch p.Kind {
	case hub.KindUser, hub.KindDisconnect:
		ch = b.allChannel()
	case hub.KindEvent:
		ch = b.channel(p.Stream)
	default:
		ch = b.channel(p.Collection)
	}
	env, err := encodeEnvelope(b.node, p)
	if err != nil {
		return stream.Position{}, err
	}
	if err := b.rdb.Publish(ctx, ch, env).Err(); err != nil {
		return stream.Position{Offset: p.Offset, Epoch: p.Epoch}, fmt.Errorf("redisbroker: publish to other nodes: %w", err)
	}
	return stream.Position{Offset: p.Offset, Epoch: p.Epoch}, nil
}

// History implements hub.Broker.
func (b *Broker) History(ctx context.Context, collection string, since stream.Position, limit int) ([]*hub.Publication, stream.Position, error) {
	entries, pos, err := b.hist.Since(ctx, collection, since, limit)
	if err != nil {
		return nil, pos, err
	}
	b.noteTop(collection, pos)
	pubs, err := hub.PublicationsOf(entries, pos, decodePublication)
	return pubs, pos, err
}

// Top implements hub.Broker.
func (b *Broker) Top(ctx context.Context, collection string) (stream.Position, error) {
	pos, err := b.hist.Top(ctx, collection)
	if err == nil {
		b.noteTop(collection, pos)
	}
	return pos, err
}

// Subscribe implements hub.Broker: this node starts receiving the stream. It
// returns once Redis confirmed the subscription, so that whatever is
// published after a subscriber's reply reaches this node. When Redis
// cannot be reached (or does not confirm in time) the interest is kept:
// the client subscribes again on its next connection, and the stream is
// checked (resync) once that subscription is made (hub.ErrSubscribePending).
func (b *Broker) Subscribe(ctx context.Context, name string) error {
	b.mu.Lock()
	if b.ps == nil {
		b.mu.Unlock()
		return errors.New("redisbroker: not started")
	}
	sub := b.subs[name]
	if sub == nil {
		sub = &redisSub{ready: make(chan struct{})}
		b.subs[name] = sub
		if err := b.ps.Subscribe(ctx, b.channel(name)); err != nil {
			b.resync[name] = true
			b.mu.Unlock()
			b.healthy.Store(false)
			return fmt.Errorf("%w: redis broker: subscribe %s: %w", hub.ErrSubscribePending, name, err)
		}
	}
	ready, confirmed := sub.ready, sub.confirmed
	b.mu.Unlock()
	if confirmed {
		return nil
	}
	if !b.healthy.Load() {
		return fmt.Errorf("%w: redis broker: subscribe %s: the subscription is being restored", hub.ErrSubscribePending, name)
	}
	wctx, cancel := context.WithTimeout(ctx, subscribeConfirmTimeout)
	defer cancel()
	select {
	case <-ready:
		return nil
	case <-wctx.Done():
		b.mu.Lock()
		if b.subs[name] == sub {
			b.resync[name] = true
		}
		b.mu.Unlock()
		return fmt.Errorf("%w: redis broker: subscribe %s: not confirmed: %w", hub.ErrSubscribePending, name, wctx.Err())
	}
}

// noteTop records a subscribed stream's position read for a subscriber,
// when nothing of the stream has arrived yet: a break after it is then made
// up for from the history, from there.
func (b *Broker) noteTop(name string, pos stream.Position) {
	b.mu.Lock()
	subscribed := b.subs[name] != nil
	b.mu.Unlock()
	if !subscribed || pos.Epoch == "" {
		return
	}
	b.lastMu.Lock()
	if _, seen := b.last[name]; !seen {
		b.last[name] = pos
	}
	b.lastMu.Unlock()
}

// Unsubscribe implements hub.Broker.
func (b *Broker) Unsubscribe(ctx context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ps == nil || b.subs[name] == nil {
		return nil
	}
	delete(b.subs, name)
	delete(b.resync, name)
	b.lastMu.Lock()
	delete(b.last, name)
	b.lastMu.Unlock()
	if err := b.ps.Unsubscribe(ctx, b.channel(name)); err != nil {
		return fmt.Errorf("redisbroker: unsubscribe %s: %w", name, err)
	}
	return nil
}

// Ping reports whether Redis answers, for readiness checks.
func (b *Broker) Ping(ctx context.Context) error {
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisbroker: %w", err)
	}
	return nil
}

// Close implements hub.Broker: it stops receiving and the heartbeat, waits for
// their goroutines, and takes this node out of the cluster's list. The
// client is the caller's to close.
func (b *Broker) Close() error {
	b.mu.Lock()
	ps, cancel, done, beatDone := b.ps, b.cancel, b.done, b.beatDone
	b.ps, b.handler = nil, nil
	b.mu.Unlock()
	if ps == nil {
		return nil
	}
	cancel()
	err := ps.Close()
	<-done
	<-beatDone
	b.leave(context.Background())
	return err
}
