package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/stream"
)

var _ Broker = (*RedisBroker)(nil)

// RedisBroker is the Broker of a cluster: nodes share publications through
// Redis pub/sub, and app channels' streams (offsets, epochs, history) live
// in Redis.
//
//   - A streamed publication (KindMessage, KindOp) takes its offset, goes into
//     its stream's history and is published to the stream's channel in one
//     Lua script, so offsets, history and delivery order agree on every node.
//   - A node subscribes in Redis only to the streams it has subscribers for
//     (Subscribe and Unsubscribe, from the hub), so a message reaches only the
//     nodes that need it, and Redis work per message does not grow with the
//     number of subscribers.
//   - Table events (KindEvent) already have their offsets (from the outbox):
//     they are delivered to this node at once and published for the others,
//     which order them with their sequencers. When Redis is away they still
//     reach this node's subscribers; the other nodes fill the gap from the
//     outbox when the next event arrives.
//   - Presence changes and user-targeted publications (KindUser,
//     KindDisconnect) are delivered here at once and published for the
//     others, who skip their own node's messages.
//
// Keys and channels start with the prefix, so deployments and test runs can
// share one Redis: <prefix>s:{<stream>}:top (a hash: offset and epoch),
// <prefix>s:{<stream>}:hist (a list of entries), channels <prefix>c:<stream>
// and <prefix>all (user-targeted publications).
type RedisBroker struct {
	rdb    redis.UniversalClient
	prefix string
	node   string
	hist   *RedisHistory
	log    *slog.Logger

	mu      sync.Mutex
	handler BrokerHandler
	stats   func() Stats
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

// RedisBrokerConfig configures a RedisBroker.
type RedisBrokerConfig struct {
	Client redis.UniversalClient // required
	Prefix string                // default "tablecast:"
	NodeID string                // required: tells this node's messages from the others'
	// HistorySize and HistoryTTL bound each app channel's history.
	HistorySize int
	HistoryTTL  time.Duration
	Logger      *slog.Logger
}

// NewRedisBroker returns a broker over the client.
func NewRedisBroker(cfg RedisBrokerConfig) (*RedisBroker, error) {
	if cfg.Client == nil || cfg.NodeID == "" {
		return nil, errors.New("hub: redis broker: Client and NodeID are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tablecast:"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &RedisBroker{
		rdb: cfg.Client, prefix: cfg.Prefix, node: cfg.NodeID, log: cfg.Logger,
		hist: NewRedisHistory(cfg.Client, cfg.Prefix, cfg.HistorySize, cfg.HistoryTTL),
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
// subscription; past it the subscription is pending (ErrSubscribePending).
const subscribeConfirmTimeout = time.Second

// envelope is what goes through a Redis channel and into a history: the
// publication and, for streamed ones, the offset and epoch the script gave
// it (the publication is encoded before they are known).
type envelope struct {
	Offset uint64          `json:"o,omitempty"`
	Epoch  string          `json:"e,omitempty"`
	Node   string          `json:"n,omitempty"`
	Pub    json.RawMessage `json:"p"`
}

func (b *RedisBroker) channel(name string) string { return b.prefix + "c:" + name }
func (b *RedisBroker) allChannel() string         { return b.prefix + "all" }

// Start implements Broker: it subscribes to the node-wide channel and starts
// the goroutine that hands the cluster's publications to h; Close stops it.
func (b *RedisBroker) Start(ctx context.Context, h BrokerHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ps != nil {
		return errors.New("hub: redis broker: started twice")
	}
	b.handler = h
	b.ps = b.rdb.Subscribe(ctx, b.allChannel())
	// The first reply confirms the subscription; it fails when Redis is
	// away, which the caller should know at start.
	if _, err := b.ps.Receive(ctx); err != nil {
		_ = b.ps.Close()
		b.ps = nil
		return fmt.Errorf("hub: redis broker: subscribe: %w", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done, b.beatDone = cancel, make(chan struct{}), make(chan struct{})
	go b.receive(rctx, b.ps, b.done)
	go b.heartbeat(rctx, b.beatDone)
	return nil
}

// receive reads the subscription until ctx ends. The client reconnects by
// itself and subscribes again to every channel.
func (b *RedisBroker) receive(ctx context.Context, ps *redis.PubSub, done chan struct{}) {
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

func (b *RedisBroker) dispatch(payload string) {
	var env envelope
	if err := json.Unmarshal([]byte(payload), &env); err != nil {
		b.log.Error("redis broker: undecodable message", "err", err)
		return
	}
	if env.Node == b.node {
		return // delivered here when it was published
	}
	p, err := UnmarshalPublication(env.Pub)
	if err != nil {
		b.log.Error("redis broker: undecodable publication", "err", err)
		return
	}
	if env.Offset != 0 {
		p.Offset, p.Epoch = env.Offset, env.Epoch
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
			b.deliver(&Publication{Kind: KindReset, Collection: p.Collection})
		}
	}
	b.deliver(p)
}

// markResync notes, when the subscription breaks, every stream to check
// once it is back.
func (b *RedisBroker) markResync() {
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
func (b *RedisBroker) confirm(channel string) {
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
func (b *RedisBroker) resyncChannel(ctx context.Context, channel string) {
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
		b.deliver(&Publication{Kind: KindResync, Stream: name})
		return
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pubs, _, err := b.History(hctx, name, last, 1000)
	if err != nil {
		b.lastMu.Lock()
		delete(b.last, name)
		b.lastMu.Unlock()
		b.deliver(&Publication{Kind: KindReset, Collection: name})
		return
	}
	for _, p := range pubs {
		b.lastMu.Lock()
		b.last[name] = stream.Position{Offset: p.Offset, Epoch: p.Epoch}
		b.lastMu.Unlock()
		b.deliver(p)
	}
}

func (b *RedisBroker) deliver(p *Publication) {
	b.mu.Lock()
	h := b.handler
	b.mu.Unlock()
	if h != nil {
		h(p)
	}
}

// Publish implements Broker.
func (b *RedisBroker) Publish(ctx context.Context, p *Publication) (stream.Position, error) {
	if p.Kind.OffsetFromBroker() {
		payload, err := MarshalPublication(p)
		if err != nil {
			return stream.Position{}, err
		}
		pos, err := b.hist.appendPublish(ctx, p.Collection, payload, b.channel(p.Collection))
		if err != nil {
			return stream.Position{}, fmt.Errorf("hub: redis broker: publish to %s: %w", p.Collection, err)
		}
		p.Offset, p.Epoch = pos.Offset, pos.Epoch
		return pos, nil
	}
	// Delivered here first: this node's subscribers do not depend on Redis.
	b.deliver(p)
	var ch string
	switch p.Kind {
	case KindUser, KindDisconnect:
		ch = b.allChannel()
	case KindEvent:
		ch = b.channel(p.Stream)
	default:
		ch = b.channel(p.Collection)
	}
	payload, err := MarshalPublication(p)
	if err != nil {
		return stream.Position{}, err
	}
	env, err := json.Marshal(envelope{Node: b.node, Pub: payload})
	if err != nil {
		return stream.Position{}, err
	}
	if err := b.rdb.Publish(ctx, ch, env).Err(); err != nil {
		return stream.Position{Offset: p.Offset, Epoch: p.Epoch}, fmt.Errorf("hub: redis broker: publish to other nodes: %w", err)
	}
	return stream.Position{Offset: p.Offset, Epoch: p.Epoch}, nil
}

// History implements Broker.
func (b *RedisBroker) History(ctx context.Context, collection string, since stream.Position, limit int) ([]*Publication, stream.Position, error) {
	entries, pos, err := b.hist.Since(ctx, collection, since, limit)
	if err != nil {
		return nil, pos, err
	}
	b.noteTop(collection, pos)
	out := make([]*Publication, 0, len(entries))
	for _, e := range entries {
		p, err := UnmarshalPublication(e.Payload)
		if err != nil {
			return nil, pos, errors.Join(stream.ErrUnrecoverable, err)
		}
		p.Offset, p.Epoch = e.Offset, pos.Epoch
		out = append(out, p)
	}
	return out, pos, nil
}

// Top implements Broker.
func (b *RedisBroker) Top(ctx context.Context, collection string) (stream.Position, error) {
	pos, err := b.hist.Top(ctx, collection)
	if err == nil {
		b.noteTop(collection, pos)
	}
	return pos, err
}

// Subscribe implements Broker: this node starts receiving the stream. It
// returns once Redis confirmed the subscription, so that whatever is
// published after a subscriber's reply reaches this node. When Redis
// cannot be reached (or does not confirm in time) the interest is kept:
// the client subscribes again on its next connection, and the stream is
// checked (resync) once that subscription is made (ErrSubscribePending).
func (b *RedisBroker) Subscribe(ctx context.Context, name string) error {
	b.mu.Lock()
	if b.ps == nil {
		b.mu.Unlock()
		return errors.New("hub: redis broker: not started")
	}
	sub := b.subs[name]
	if sub == nil {
		sub = &redisSub{ready: make(chan struct{})}
		b.subs[name] = sub
		if err := b.ps.Subscribe(ctx, b.channel(name)); err != nil {
			b.resync[name] = true
			b.mu.Unlock()
			b.healthy.Store(false)
			return fmt.Errorf("%w: redis broker: subscribe %s: %w", ErrSubscribePending, name, err)
		}
	}
	ready, confirmed := sub.ready, sub.confirmed
	b.mu.Unlock()
	if confirmed {
		return nil
	}
	if !b.healthy.Load() {
		return fmt.Errorf("%w: redis broker: subscribe %s: the subscription is being restored", ErrSubscribePending, name)
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
		return fmt.Errorf("%w: redis broker: subscribe %s: not confirmed: %w", ErrSubscribePending, name, wctx.Err())
	}
}

// noteTop records a subscribed stream's position read for a subscriber,
// when nothing of the stream has arrived yet: a break after it is then made
// up for from the history, from there.
func (b *RedisBroker) noteTop(name string, pos stream.Position) {
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

// Unsubscribe implements Broker.
func (b *RedisBroker) Unsubscribe(ctx context.Context, name string) error {
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
		return fmt.Errorf("hub: redis broker: unsubscribe %s: %w", name, err)
	}
	return nil
}

// Ping reports whether Redis answers, for readiness checks.
func (b *RedisBroker) Ping(ctx context.Context) error {
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("hub: redis broker: %w", err)
	}
	return nil
}

// Close implements Broker: it stops receiving and the heartbeat, waits for
// their goroutines, and takes this node out of the cluster's list. The
// client is the caller's to close.
func (b *RedisBroker) Close() error {
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

// RedisHistory is a stream.History in Redis: per stream a hash (offset,
// epoch) and a list of the last entries, both expiring after the TTL
// without appends (a new epoch then starts: clients holding positions of
// the old one are told they cannot recover).
type RedisHistory struct {
	rdb    redis.UniversalClient
	prefix string
	size   int
	ttl    time.Duration
}

var _ stream.History = (*RedisHistory)(nil)

// NewRedisHistory returns a history keeping size entries per stream (100
// when size is 0; none when negative) for ttl (5 minutes when 0).
func NewRedisHistory(rdb redis.UniversalClient, prefix string, size int, ttl time.Duration) *RedisHistory {
	if size == 0 {
		size = 100
	}
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &RedisHistory{rdb: rdb, prefix: prefix, size: size, ttl: ttl}
}

func (h *RedisHistory) keys(name string) []string {
	base := h.prefix + "s:{" + name + "}:"
	return []string{base + "top", base + "hist"}
}

// appendScript takes the next offset (starting a new epoch for an unknown
// stream), keeps the entry, trims and refreshes the TTL, and publishes the
// entry when a channel is given: one atomic step.
var appendScript = redis.NewScript(`
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
end
local off = redis.call('HINCRBY', KEYS[1], 'o', 1)
local entry = '{"o":' .. off .. ',"e":"' .. epoch .. '","p":' .. ARGV[2] .. '}'
local size = tonumber(ARGV[3])
if size > 0 then
  redis.call('RPUSH', KEYS[2], entry)
  redis.call('LTRIM', KEYS[2], -size, -1)
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('PUBLISH', ARGV[5], entry)
end
return {off, epoch}
`)

// topScript returns the position, creating the epoch of an unknown stream.
var topScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], 'e', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('HMGET', KEYS[1], 'o', 'e')
`)

// sinceScript returns the position and the last n entries.
var sinceScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], 'e', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
local pos = redis.call('HMGET', KEYS[1], 'o', 'e')
local n = tonumber(pos[1]) - tonumber(ARGV[2])
if n <= 0 then return {pos[1], pos[2]} end
local max = tonumber(ARGV[4])
if max >= 0 and n > max then return {pos[1], pos[2], 'over'} end
local out = {pos[1], pos[2]}
for _, e in ipairs(redis.call('LRANGE', KEYS[2], -n, -1)) do table.insert(out, e) end
return out
`)

// rawPrefix wraps a payload that is not JSON (the history's entries embed
// payloads as JSON; publications always are).
var rawPrefix = []byte(`{"raw":`)

func newEpoch() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

// Append implements stream.History.
func (h *RedisHistory) Append(ctx context.Context, name string, payload []byte) (stream.Position, error) {
	return h.appendPublish(ctx, name, payload, "")
}

func (h *RedisHistory) appendPublish(ctx context.Context, name string, payload []byte, channel string) (stream.Position, error) {
	if !json.Valid(payload) {
		// The entry embeds the payload as JSON; other payloads go in as a
		// JSON string.
		q, err := json.Marshal(string(payload))
		if err != nil {
			return stream.Position{}, err
		}
		payload = append(append(append([]byte(nil), rawPrefix...), q...), '}')
	}
	res, err := appendScript.Run(ctx, h.rdb, h.keys(name), newEpoch(), payload, h.size, h.ttl.Milliseconds(), channel).Slice()
	if err != nil {
		return stream.Position{}, err
	}
	if len(res) != 2 {
		return stream.Position{}, fmt.Errorf("redis history: unexpected reply %v", res)
	}
	off, _ := res[0].(int64)
	epoch, _ := res[1].(string)
	return stream.Position{Offset: uint64(off), Epoch: epoch}, nil
}

// Top implements stream.History.
func (h *RedisHistory) Top(ctx context.Context, name string) (stream.Position, error) {
	if err := ctx.Err(); err != nil {
		return stream.Position{}, err
	}
	res, err := topScript.Run(ctx, h.rdb, h.keys(name)[:1], newEpoch(), h.ttl.Milliseconds()).Slice()
	if err != nil {
		return stream.Position{}, err
	}
	return parsePosition(res)
}

func parsePosition(res []any) (stream.Position, error) {
	if len(res) < 2 {
		return stream.Position{}, fmt.Errorf("redis history: unexpected reply %v", res)
	}
	offStr, _ := res[0].(string)
	epoch, _ := res[1].(string)
	off, err := strconv.ParseUint(offStr, 10, 64)
	if err != nil {
		return stream.Position{}, fmt.Errorf("redis history: offset %q: %w", offStr, err)
	}
	return stream.Position{Offset: off, Epoch: epoch}, nil
}

// Since implements stream.History.
func (h *RedisHistory) Since(ctx context.Context, name string, since stream.Position, limit int) ([]stream.Entry, stream.Position, error) {
	if err := ctx.Err(); err != nil {
		return nil, stream.Position{}, err
	}
	max := limit
	if h.size < 0 {
		max = 0
	}
	res, err := sinceScript.Run(ctx, h.rdb, h.keys(name), newEpoch(), strconv.FormatUint(min(since.Offset, 1<<62), 10),
		h.ttl.Milliseconds(), max).Slice()
	if err != nil {
		return nil, stream.Position{}, err
	}
	pos, err := parsePosition(res)
	if err != nil {
		return nil, stream.Position{}, err
	}
	unrecoverable := func(why string) ([]stream.Entry, stream.Position, error) {
		return nil, pos, fmt.Errorf("%w: %s %s", stream.ErrUnrecoverable, name, why)
	}
	switch {
	case since.Epoch != pos.Epoch:
		return unrecoverable("has another epoch")
	case since.Offset > pos.Offset:
		return unrecoverable("is behind the position asked for")
	case since.Offset == pos.Offset:
		return nil, pos, nil
	case len(res) == 3 && res[2] == "over":
		return unrecoverable("has more entries than the limit")
	}
	want := pos.Offset - since.Offset
	if uint64(len(res)-2) != want {
		return unrecoverable("no longer keeps them")
	}
	out := make([]stream.Entry, 0, want)
	for i, r := range res[2:] {
		s, _ := r.(string)
		var env envelope
		if err := json.Unmarshal([]byte(s), &env); err != nil {
			return nil, pos, fmt.Errorf("redis history: entry: %w", err)
		}
		if env.Offset != since.Offset+uint64(i)+1 {
			return unrecoverable("no longer keeps them")
		}
		payload := []byte(env.Pub)
		if bytes.HasPrefix(payload, rawPrefix) {
			var raw struct {
				Raw string `json:"raw"`
			}
			if err := json.Unmarshal(payload, &raw); err != nil {
				return nil, pos, fmt.Errorf("redis history: entry: %w", err)
			}
			payload = []byte(raw.Raw)
		}
		out = append(out, stream.Entry{Offset: env.Offset, Payload: payload})
	}
	return out, pos, nil
}
