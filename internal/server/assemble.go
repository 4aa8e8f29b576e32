package server

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/dialect/admission"
	"github.com/tablecast/tablecast/internal/dialect/baserow"
	"github.com/tablecast/tablecast/internal/dialect/native"
	"github.com/tablecast/tablecast/internal/dialect/sharedb"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/httpapi"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/metrics"
	"github.com/tablecast/tablecast/internal/relay"
	"github.com/tablecast/tablecast/internal/rowimage"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/stream"
	"github.com/tablecast/tablecast/internal/tablestream"
	"github.com/tablecast/tablecast/internal/transport"
	"github.com/tablecast/tablecast/internal/web"
	"github.com/tablecast/tablecast/internal/webhook"
)

// closers is what an assembly has built and must release if it fails: each
// part is pushed once built; run releases them last first.
type closers []func()

func (c *closers) push(f func()) { *c = append(*c, f) }

func (c *closers) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

// assembly is a node being built, in order: the store's side, the broker,
// the hub, the service, the dialects (each registering its renderer and
// event hook with the hub, which is not started yet), then the HTTP routes.
// Node.Start starts the hub once everything is registered.
type assembly struct {
	cfg      config.Config
	opts     Options
	log      *slog.Logger
	verifier *auth.Verifier
	st       store.Store

	metrics *metrics.Metrics
	timed   *timedStore
	rows    *rowimage.Images // whole rows for submits' compact events
	writes  *writeLoad       // the writes in flight, which webhook calls give way to
	streams *tablestream.Streams
	history *stream.MemoryHistory
	broker  nodeBroker
	hub     *hub.Hub
	relay   *relay.Relay
	svc     *service.Service
	hooks   *webhook.Dispatcher
	poller  *transport.Poller
	native  *native.Server
	baserow *baserow.Server
	sharedb *sharedb.Server
}

// assemble builds a node on an open store, step by step. Each part it
// builds that needs releasing is pushed on undo, which New runs if
// anything fails.
func assemble(cfg config.Config, opts Options, log *slog.Logger, verifier *auth.Verifier, st store.Store, undo *closers) (*Node, error) {
	a := &assembly{cfg: cfg, opts: opts, log: log, verifier: verifier, st: st}
	a.storeSide()
	steps := []func(*closers) error{a.newBroker, a.newHub, a.newService, a.newDialects}
	for _, step := range steps {
		if err := step(undo); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	return a.node(), nil
}

// storeSide builds the metrics, the timed store and the table streams
// (nothing to release).
func (a *assembly) storeSide() {
	a.metrics = metrics.New()
	a.writes = &writeLoad{}
	a.timed = newTimedStore(a.st, a.metrics.StoreTxHistogram(), a.writes)
	a.streams = tablestream.New(a.st, a.cfg.EventRetention)
	a.rows = rowimage.New(a.st)
	streams := a.streams
	a.metrics.RegisterCounterFunc("stream_store_reads_total",
		"Outbox reads made to replay table events or fill gaps (shared by clients recovering together).",
		func() float64 { return float64(streams.Reads()) })
}

// newBroker builds the node's recent history and its broker.
func (a *assembly) newBroker(undo *closers) error {
	a.history = stream.NewMemoryHistory(stream.MemoryHistoryConfig{Size: historySize(a.cfg), TTL: a.cfg.HistoryTTL})
	undo.push(a.history.Close)
	b, err := newBroker(a.cfg, a.history, a.log)
	if err != nil {
		return err
	}
	a.broker = b
	undo.push(b.close)
	return nil
}

// newHub builds the hub (not started: dialects register with it first) and
// registers the node's own event hook: the table streams remember each
// event for recovering clients. Each dialect's hook ends, as the events
// pass, the subscriptions they revoke.
func (a *assembly) newHub(*closers) error {
	cfg := a.cfg
	h, err := hub.New(hub.Config{
		Streams:           nativeViewStreams{sharedbStreams{pageStreams{a.streams}}},
		NodeID:            cfg.NodeID,
		Broker:            a.broker.Broker,
		PingFrame:         transport.PingFrame,
		HeartbeatInterval: cfg.HeartbeatInterval,
		ConnectionTimeout: cfg.ConnectionTimeout,
		AuthTimeout:       a.opts.AuthTimeout,
		SendQueue:         cfg.SendQueue,
		MaxSubscriptions:  cfg.MaxSubscriptions,
		ReplayLimit:       cfg.ReplayLimit,
		Logger:            a.log,
		Observer:          a.metrics,
	})
	if err != nil {
		return err
	}
	a.hub = h
	a.metrics.RegisterHub(h)
	a.broker.reportStats(h.Stats)        // reported to the cluster with each heartbeat
	return h.OnEvent(a.streams.Remember) // recovering clients read recent events from memory
}

// newService builds the relay (outbox to hub), the table service and the
// webhook dispatcher; none runs until Node.Start.
func (a *assembly) newService(*closers) error {
	cfg := a.cfg
	rel, err := relay.New(relay.Config{Outbox: a.st, Sink: tablestream.Sink(a.hub), Retention: cfg.EventRetention,
		WebhookHold: cfg.Webhooks.Retention, Logger: a.log})
	if err != nil {
		return err
	}
	a.relay = rel
	a.svc, err = service.New(service.Config{Store: a.timed, Publisher: rel, Logger: a.log, Secret: serviceSecret(cfg),
		PasswordIterations: a.opts.PasswordIterations})
	if err != nil {
		return err
	}
	registerHotStats(a.metrics, a.svc)
	a.hooks, err = newDispatcher(cfg, wholeRowEvents{a.st, a.rows}, a.svc, a.metrics, a.writes, a.log)
	return err
}

// registerHotStats adds the hot documents' series (service.HotStats),
// read at scrape time.
func registerHotStats(m *metrics.Metrics, svc *service.Service) {
	for _, s := range []struct {
		name, help string
		counter    bool
		value      func(service.HotStats) float64
	}{
		{"hot_documents", "Records kept in memory to work ops out before their transaction (hot documents).", false,
			func(s service.HotStats) float64 { return float64(s.Documents) }},
		{"hot_document_bytes", "About the memory the hot documents hold.", false,
			func(s service.HotStats) float64 { return float64(s.Bytes) }},
		{"hot_records_resting", "Records not kept in memory for now: other writes to them come as often as their ops (another node's editors, REST writes).", false,
			func(s service.HotStats) float64 { return float64(s.Resting) }},
		{"hot_submits_total", "Submits written as worked out on a hot document.", true,
			func(s service.HotStats) float64 { return float64(s.Prepared) }},
		{"hot_fallbacks_total", "Submits worked out on a hot document that the store found stale, written as ordinary submits.", true,
			func(s service.HotStats) float64 { return float64(s.FellBack) }},
		{"hot_document_loads_total", "Hot documents loaded from the store.", true,
			func(s service.HotStats) float64 { return float64(s.Loads) }},
	} {
		read := func() float64 { return s.value(svc.HotStats()) }
		if s.counter {
			m.RegisterCounterFunc(s.name, s.help, read)
		} else {
			m.RegisterGaugeFunc(s.name, s.help, read)
		}
	}
}

// newDialects builds the three socket endpoints. Each registers its
// renderer and its event hook with the hub; the webhooks' hook comes last.
func (a *assembly) newDialects(undo *closers) error {
	cfg := a.cfg
	poller, err := transport.NewPoller()
	if err != nil {
		return err
	}
	a.poller = poller
	undo.push(func() { _ = poller.Close() })
	// What the three socket endpoints share, limits the same for all.
	endpoint := admission.Endpoint{Hub: a.hub, Poller: poller, Verifier: a.verifier, TokenLeeway: cfg.JWTLeeway,
		Limits: admission.Limits{
			AllowedOrigins: cfg.AllowedOrigins,
			MaxConnections: cfg.MaxConnections,
			MaxMessageSize: cfg.MaxMessageSize,
			RatePerSecond:  cfg.RateLimit.PerSecond,
			RateBurst:      cfg.RateLimit.Burst,
			AbuseWindow:    a.opts.AbuseWindow,
			ConnectRate:    connectRate(cfg.ConnectRate),
			ConnectBurst:   cfg.ConnectRate.Burst,
		},
		Logger: a.log}
	brStore := &baserowStore{st: a.timed, svc: a.svc}
	if err := a.newBaserow(undo, endpoint, brStore); err != nil {
		return err
	}
	if err := a.newShareDB(undo, endpoint); err != nil {
		return err
	}
	if err := a.newNative(endpoint, brStore); err != nil {
		return err
	}
	hooks := a.hooks
	return a.hub.OnEvent(func(p *hub.Publication) {
		if t, ok := event.TableOfStream(p.Stream); ok {
			hooks.Notify(t) // its webhooks have something new
		}
	})
}

func (a *assembly) newBaserow(undo *closers, endpoint admission.Endpoint, brStore *baserowStore) error {
	render, err := baserow.NewRenderer(baserow.RendererConfig{Store: brStore, Logger: a.log, Rows: a.rows})
	if err != nil {
		return err
	}
	srv, err := baserow.NewServer(baserow.Config{
		Endpoint:   endpoint,
		Renderer:   render,
		Store:      brStore,
		EventEpoch: tablestream.Epoch,
	})
	if err != nil {
		return err
	}
	a.baserow = srv
	undo.push(srv.Close)
	a.metrics.RegisterCounterFunc("baserow_view_projections_total",
		"Public view projections computed: one per watched view per table event, whatever the number of sockets on the view.",
		func() float64 { return float64(render.Projections()) })
	a.metrics.RegisterCounterFunc("baserow_view_definition_reads_total",
		"Reads of a table's public view definitions by the Baserow renderer (a view page's first, and after field and view events).",
		func() float64 { return float64(render.DefinitionReads()) })
	return firstErr(a.hub.RegisterDialect(baserow.DialectID, render), a.hub.OnEvent(srv.HandleEvent))
}

func (a *assembly) newShareDB(undo *closers, endpoint admission.Endpoint) error {
	render := sharedb.NewRenderer(a.log)
	srv, err := sharedb.NewServer(sharedb.Config{
		Endpoint:   endpoint,
		Renderer:   render,
		Store:      sharedbStore{svc: a.svc},
		EventEpoch: tablestream.Epoch,
		Dev:        a.cfg.Dev,
	})
	if err != nil {
		return err
	}
	a.sharedb = srv
	undo.push(srv.Close)
	a.metrics.RegisterCounterFunc("sharedb_op_frames_total",
		"ShareDB op messages rendered from store events (each shared by the sockets that receive it).",
		func() float64 { return float64(render.Frames()) })
	return firstErr(a.hub.RegisterDialect(sharedb.DialectID, render), a.hub.OnEvent(srv.HandleEvent))
}

// newNative builds the native endpoint. Its publicview_<slug> collections
// read the same definitions as the Baserow view pages (publicview.Store),
// each dialect its own.
func (a *assembly) newNative(endpoint admission.Endpoint, brStore *baserowStore) error {
	views := native.NewPublicViews(brStore, a.log)
	views.SetRowImages(a.rows)
	srv, err := native.NewServer(native.Config{
		Endpoint:          endpoint,
		Store:             nativeStore{svc: a.svc},
		PublicViews:       views,
		Dev:               a.cfg.Dev,
		HeartbeatInterval: a.cfg.HeartbeatInterval,
	})
	if err != nil {
		return err
	}
	a.native = srv
	h := a.hub
	return firstErr(
		h.RegisterDialect(native.DialectID, native.RendererWith(views)),
		h.OnEvent(srv.HandleEvent),
		h.OnEvent(func(p *hub.Publication) { views.HandleEvent(h, p) }),
	)
}

// firstErr is the first of errs that is not nil.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// node registers the HTTP routes and returns the assembled node.
func (a *assembly) node() *Node {
	cfg, opts, log := a.cfg, a.opts, a.log
	// The public listener takes everything unless there is an internal one:
	// then /metrics, /readyz and the admin API (/api/ws/* but the socket,
	// and the /admin page) move there, and the public one answers 404.
	var routes []Route
	mux := routeMux{ServeMux: http.NewServeMux(), listener: "public", routes: &routes}
	internal := mux
	if cfg.InternalListen != "" || opts.InternalListener != nil {
		internal = routeMux{ServeMux: http.NewServeMux(), listener: "internal", routes: &routes}
		httpapi.RegisterElsewhere(mux)
	}
	mux.Handle("GET /api/ws/socket", a.native)
	mux.Handle("GET /ws/core/{$}", a.baserow)
	mux.Handle("GET /ws/core", a.baserow)
	mux.Handle("GET /sharedb", a.sharedb)
	// The manager reads events as the dispatcher does (skip's dead letters
	// hold whole rows too).
	hookManager := &webhook.Manager{Store: wholeRowEvents{a.st, a.rows}, AllowPrivate: cfg.Webhooks.AllowPrivate, Changed: a.hooks.Changed}
	(&httpapi.Admin{Hub: a.hub, APIKey: cfg.APIKey, MaxBody: cfg.MaxBodySize, Logger: log, Webhooks: hookManager}).Register(internal)
	(&httpapi.StoreAPI{Service: a.svc, Verifier: a.verifier, MaxBody: cfg.MaxBodySize, Logger: log,
		Webhooks: hookManager}).Register(mux)
	// POST /api/dev/token (dev mode only) and the web pages at / and /admin.
	(&httpapi.DevTokens{Enabled: cfg.Dev, Secret: []byte(cfg.JWTSecret), Verifier: a.verifier, MaxBody: cfg.MaxBodySize, Logger: log}).Register(mux)
	web.RegisterApp(mux)
	web.RegisterStatic(mux)
	web.RegisterAdmin(internal)
	ops := &httpapi.Ops{
		Checks: map[string]httpapi.Check{
			"broker": a.broker.ready,
			"store":  a.st.Ping,
		},
		Draining: a.hub.Draining,
		Metrics:  a.metrics.Handler(),
	}
	ops.RegisterHealth(mux)
	ops.RegisterInternal(internal)
	// The served OpenAPI document of the REST and admin APIs.
	httpapi.RegisterOpenAPI(mux)

	var internalSrv *http.Server
	if internal.listener != mux.listener {
		ops.RegisterHealth(internal)
		web.RegisterStatic(internal) // the admin page's files
		internalSrv = newHTTPServer(wrap(cfg, log, internal.ServeMux), log)
	}
	return &Node{
		cfg:         cfg,
		log:         log,
		verifier:    a.verifier,
		hub:         a.hub,
		store:       a.st,
		relay:       a.relay,
		hooks:       a.hooks,
		history:     a.history,
		broker:      a.broker,
		poller:      a.poller,
		sharedb:     a.sharedb,
		baserow:     a.baserow,
		metrics:     a.metrics,
		http:        newHTTPServer(a.writes.countWrites(wrap(cfg, log, mux.ServeMux)), log),
		routes:      routes,
		publicMux:   mux.ServeMux,
		internalMux: internal.ServeMux,
		internal:    internalSrv,
		internalLn:  opts.InternalListener,
		serveErr:    make(chan error, 2),
	}
}
