// Package hub holds the live side of tablecast: connections, channels and their
// subscribers, the user index, presence, and the fan-out of publications to
// sockets. It knows nothing of HTTP, SQL or JSON dialects: dialects create
// connections, call Subscribe and Publish, and render publications through the
// Renderer they register.
//
// Fan-out: a publication is rendered once per dialect and the same bytes are
// queued on every subscriber; each connection's writer coalesces its queue into
// one vectored write. Channels live in shards keyed by collection; a delivery
// takes one shard's read lock and each subscriber's queue lock, never a global
// lock. The lock order is in conn.go.
package hub

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/internal/stream"
)

// Config configures a Hub. Zero values mean the defaults.
type Config struct {
	NodeID            string
	Broker            Broker          // required
	Streams           ExternalStreams // streams with offsets from elsewhere (the table store); optional
	Renderers         [MaxDialects]Renderer
	PingFrame         []byte        // written every HeartbeatInterval
	HeartbeatInterval time.Duration // default 30s
	ConnectionTimeout time.Duration // default 60s
	AuthTimeout       time.Duration // time to authenticate after the upgrade; default 10s
	SendQueue         int64         // bytes per connection; default 4 MiB
	WriteTimeout      time.Duration // a write the client takes nothing of for this long fails; default 10s
	MaxSubscriptions  int           // per connection; default 256
	ReplayLimit       int           // default 1000
	Shards            int           // default 64
	Writers           int           // flushing goroutines; default GOMAXPROCS
	Logger            *slog.Logger
	Observer          Observer
	Now               func() time.Time
}

// Observer receives measurements from the hot path (the metrics package
// implements it). Methods must be cheap and safe for concurrent use. What the
// writers measure (frames, bytes, fanout latency) is not told: the hub counts
// it per writer, and Stats and FanoutLatency sum it when asked.
type Observer interface {
	// MessageIn counts one client message of a type.
	MessageIn(typ string)
	// Delivered counts the local deliveries of one publication.
	Delivered(kind Kind, n int)
}

// ErrClosed is returned once the hub is shutting down.
var ErrClosed = errors.New("hub: shutting down")

// Hub is one node's set of live connections.
type Hub struct {
	cfg    Config
	log    *slog.Logger
	seed   maphash.Seed
	start  time.Time
	shards []channelShard
	conns  []connShard

	draining atomic.Bool
	stats    counters
	writers  []writer
	slowOut  writeStats // what the slow drains (Conn.drainSlow) wrote
	connSeq  atomic.Uint64
	seq      *stream.Sequencer // orders external streams; nil without Streams
	sessions *sessionLog       // sessions to record in the cluster; nil without one
	// eventHooks see every external stream event after its delivery, in
	// the order OnEvent added them; fixed by Start.
	eventHooks []func(p *Publication)
	started    bool // set by Start: registration is closed

	wg       sync.WaitGroup // writers, sweeper, closers
	stopOnce sync.Once
	stop     chan struct{}
}

type counters struct {
	connections   atomic.Int64
	users         atomic.Int64
	channels      atomic.Int64
	subscriptions atomic.Int64
	messagesIn    atomic.Int64
	droppedSlow   atomic.Int64
	publishErrors atomic.Int64
}

type connShard struct {
	mu    sync.RWMutex
	byID  map[string]*Conn
	users map[string]userConns
}

// userConns is one user's connections on this node. Most users have one, kept
// inline; a set is made for the second.
type userConns struct {
	one  *Conn
	more map[*Conn]struct{}
}

func (u userConns) len() int {
	if u.one == nil {
		return len(u.more)
	}
	return 1 + len(u.more)
}

func (u userConns) each(f func(*Conn)) {
	if u.one != nil {
		f(u.one)
	}
	for c := range u.more {
		f(c)
	}
}

func (u userConns) add(c *Conn) userConns {
	if u.one == nil {
		u.one = c
		return u
	}
	if u.more == nil {
		u.more = make(map[*Conn]struct{}, 1)
	}
	u.more[c] = struct{}{}
	return u
}

func (u userConns) remove(c *Conn) userConns {
	if u.one == c {
		u.one = nil
		for m := range u.more { // promote one, so a lone connection stays inline
			u.one = m
			delete(u.more, m)
			break
		}
		return u
	}
	delete(u.more, c)
	return u
}

// New returns a hub; Start makes it run.
func New(cfg Config) (*Hub, error) {
	if cfg.Broker == nil {
		return nil, errors.New("hub: a Broker is required")
	}
	setDefaults(&cfg)
	h := &Hub{
		cfg:     cfg,
		log:     cfg.Logger,
		seed:    maphash.MakeSeed(),
		shards:  make([]channelShard, cfg.Shards),
		conns:   make([]connShard, cfg.Shards),
		stop:    make(chan struct{}),
		writers: make([]writer, cfg.Writers),
	}
	for i := range h.writers {
		h.writers[i].wake = make(chan struct{}, 1)
		h.writers[i].siblings = h.writers
	}
	if cfg.Streams != nil {
		h.seq = h.newSequencer()
	}
	for i := range h.shards {
		h.shards[i].collections = make(map[string]*collection)
		h.conns[i].byID = make(map[string]*Conn)
		h.conns[i].users = make(map[string]userConns)
	}
	return h, nil
}

func setDefaults(cfg *Config) {
	setDefault(&cfg.HeartbeatInterval, 30*time.Second)
	setDefault(&cfg.ConnectionTimeout, 60*time.Second)
	setDefault(&cfg.AuthTimeout, 10*time.Second)
	setDefault(&cfg.WriteTimeout, 10*time.Second)
	setDefault(&cfg.SendQueue, 4<<20)
	setDefault(&cfg.MaxSubscriptions, 256)
	setDefault(&cfg.ReplayLimit, 1000)
	setDefault(&cfg.Shards, 64)
	setDefault(&cfg.Writers, runtime.GOMAXPROCS(0))
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// setDefault sets *p to v unless it is positive.
func setDefault[T ~int | ~int64](p *T, v T) {
	if *p <= 0 {
		*p = v
	}
}

func (h *Hub) now() time.Time { return h.cfg.Now() }

// Config returns the hub's configuration with defaults applied.
func (h *Hub) Config() Config { return h.cfg }

// ErrStarted is returned by a registration made after Start.
var ErrStarted = errors.New("hub: already started")

// RegisterDialect installs dialect d's renderer (replacing any given in
// Config.Renderers). It must be called before Start, from the goroutine
// that calls Start.
func (h *Hub) RegisterDialect(d Dialect, r Renderer) error {
	if h.started {
		return ErrStarted
	}
	if int(d) >= MaxDialects {
		return fmt.Errorf("hub: dialect %d out of range (max %d)", d, MaxDialects)
	}
	h.cfg.Renderers[d] = r
	return nil
}

// OnEvent adds a hook that sees every external stream event on this node,
// in order, after its delivery: the place to act on permission changes.
// Hooks run in the order they were added. It must
// be called before Start, from the goroutine that calls Start.
func (h *Hub) OnEvent(f func(p *Publication)) error {
	if h.started {
		return ErrStarted
	}
	h.eventHooks = append(h.eventHooks, f)
	return nil
}

// Start connects the hub to its broker and starts the sweeper. Dialects
// and event hooks are registered before it.
func (h *Hub) Start(ctx context.Context) error {
	h.started = true
	h.start = h.now()
	if err := h.cfg.Broker.Start(ctx, (*brokerEvents)(h)); err != nil {
		return fmt.Errorf("hub: start broker: %w", err)
	}
	if cl := h.cluster(); cl != nil {
		h.sessions = newSessionLog()
		h.wg.Add(1)
		go h.runSessions(cl)
	}
	h.wg.Add(1)
	go h.sweep()
	for i := range h.writers {
		h.wg.Add(1)
		go h.writers[i].run(h.stop, h.wg.Done)
	}
	return nil
}

// goTracked runs f on a goroutine the hub waits for at shutdown.
func (h *Hub) goTracked(f func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
}

// Draining reports whether the hub refuses new connections.
func (h *Hub) Draining() bool { return h.draining.Load() }

// Shutdown refuses new connections, tells every connection to go (4000) and
// waits for them to close, until ctx is done; what is left is closed hard.
// Every goroutine the hub started has ended when it returns.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.draining.Store(true)
	all := h.allConns()
	for _, c := range all {
		c.Disconnect(DisconnectShutdown)
	}
	var err error
	for _, c := range all {
		select {
		case <-c.Done():
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	for _, c := range h.allConns() {
		c.Abort()
	}
	h.stopOnce.Do(func() { close(h.stop) })
	if h.seq != nil {
		h.seq.Close()
	}
	h.wg.Wait()
	return err
}

func (h *Hub) connShardFor(key string) *connShard {
	return &h.conns[maphash.String(h.seed, key)%uint64(len(h.conns))]
}

// NewConn registers a connection that has not authenticated yet.
func (h *Hub) NewConn(info ConnInfo) (*Conn, error) {
	if h.draining.Load() {
		return nil, ErrClosed
	}
	if info.ID == "" {
		info.ID = newConnID()
	}
	now := h.now().UnixNano()
	c := &Conn{
		hub:       h,
		id:        info.ID,
		dialect:   info.Dialect,
		transport: info.Transport,
		session:   info.Session,
		remote:    info.Remote,
		created:   now,
	}
	c.writer = &h.writers[h.connSeq.Add(1)%uint64(len(h.writers))]
	c.lastSeen.Store(now)
	c.lastPing = now
	s := h.connShardFor(c.id)
	s.mu.Lock()
	if _, dup := s.byID[c.id]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("hub: duplicate connection id %q", c.id)
	}
	s.byID[c.id] = c
	s.mu.Unlock()
	h.stats.connections.Add(1)
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.Debug("connection opened", "conn", c.id, "dialect", int(c.dialect), "remote", c.remote)
	}
	return c, nil
}

// Authenticate gives c its identity and enters it in the user index.
func (h *Hub) Authenticate(c *Conn, userID, sessionID string, expires time.Time) {
	if c.authed.Load() {
		return
	}
	c.userID, c.sessionID = userID, sessionID
	c.SetExpiry(expires)
	s := h.connShardFor(userID)
	s.mu.Lock()
	set := s.users[userID]
	if set.len() == 0 {
		h.stats.users.Add(1)
	}
	s.users[userID] = set.add(c)
	s.mu.Unlock()
	c.authed.Store(true)
	h.putSession(c, true)
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.Debug("connection authenticated", "conn", c.id, "user", userID)
	}
}

// forget removes a closed connection from every index and ends its presence.
func (h *Hub) forget(c *Conn) {
	h.unsubscribeAll(c)
	s := h.connShardFor(c.id)
	s.mu.Lock()
	delete(s.byID, c.id)
	s.mu.Unlock()
	h.stats.connections.Add(-1)
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		user := "" // the identity is set before authed, and read only after it
		if c.authed.Load() {
			user = c.userID
		}
		h.log.Debug("connection closed", "conn", c.id, "user", user,
			"lifetime", time.Duration(h.now().UnixNano()-c.created).Round(time.Millisecond))
	}
	if !c.authed.Load() {
		return
	}
	h.putSession(c, false)
	u := h.connShardFor(c.userID)
	u.mu.Lock()
	if set, ok := u.users[c.userID]; ok {
		set = set.remove(c)
		if set.len() == 0 {
			delete(u.users, c.userID)
			h.stats.users.Add(-1)
		} else {
			u.users[c.userID] = set
		}
	}
	u.mu.Unlock()
}

// Conn finds a local connection by id.
func (h *Hub) Conn(id string) *Conn {
	s := h.connShardFor(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[id]
}

// UserConns returns the local connections of a user.
func (h *Hub) UserConns(userID string) []*Conn {
	s := h.connShardFor(userID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	set := s.users[userID]
	out := make([]*Conn, 0, set.len())
	set.each(func(c *Conn) { out = append(out, c) })
	return out
}

func (h *Hub) allConns() []*Conn {
	var out []*Conn
	for i := range h.conns {
		s := &h.conns[i]
		s.mu.RLock()
		for _, c := range s.byID {
			out = append(out, c)
		}
		s.mu.RUnlock()
	}
	return out
}

// CountIn counts a message received from a client, by type.
func (h *Hub) CountIn(typ string) {
	h.stats.messagesIn.Add(1)
	if h.cfg.Observer != nil {
		h.cfg.Observer.MessageIn(typ)
	}
}

// PublishErrors counts publications the broker refused.
func (h *Hub) PublishErrors() int64 { return h.stats.publishErrors.Load() }

// QueuedBytes sums every connection's send queue. It visits every
// connection: for scrapes, not for the hot path.
func (h *Hub) QueuedBytes() int64 {
	var n int64
	for _, c := range h.allConns() {
		n += c.QueuedBytes()
	}
	return n
}

// Stats is a snapshot of the node's counters.
type Stats struct {
	NodeID        string  `json:"node_id"`
	Connections   int64   `json:"connections"`
	Users         int64   `json:"users"`
	Channels      int64   `json:"channels"`
	Subscriptions int64   `json:"subscriptions"`
	MessagesIn    int64   `json:"messages_in"`
	MessagesOut   int64   `json:"messages_out"`
	BytesOut      int64   `json:"bytes_out"`
	DroppedSlow   int64   `json:"dropped_slow"`
	UptimeSeconds float64 `json:"uptime_s"`
}

// Stats returns the node's counters now.
func (h *Hub) Stats() Stats {
	framesOut, bytesOut := h.writtenOut()
	return Stats{
		NodeID:        h.cfg.NodeID,
		Connections:   h.stats.connections.Load(),
		Users:         h.stats.users.Load(),
		Channels:      h.stats.channels.Load(),
		Subscriptions: h.stats.subscriptions.Load(),
		MessagesIn:    h.stats.messagesIn.Load(),
		MessagesOut:   framesOut,
		BytesOut:      bytesOut,
		DroppedSlow:   h.stats.droppedSlow.Load(),
		UptimeSeconds: h.now().Sub(h.start).Seconds(),
	}
}
