// Package server assembles a tablecast node from its configuration: the hub,
// the broker, the socket endpoints, the HTTP API. The CLI, the black-box tests
// and `tablecast bench` all start nodes through it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/dialect/baserow"
	"github.com/tablecast/tablecast/internal/dialect/sharedb"
	"github.com/tablecast/tablecast/internal/httpapi"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/metrics"
	"github.com/tablecast/tablecast/internal/relay"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/stream"
	"github.com/tablecast/tablecast/internal/transport"
	"github.com/tablecast/tablecast/internal/webhook"
)

// Options are what a node needs beyond config.Config.
type Options struct {
	Logger *slog.Logger
	// AbuseWindow overrides how long a flood must last before 4004 (tests).
	AbuseWindow time.Duration
	// AuthTimeout overrides the time allowed for a connect message (tests).
	AuthTimeout time.Duration
	// InternalListener, when given, is the internal listener (tests pass
	// one on a free port); it turns the internal listener on as
	// cfg.InternalListen does.
	InternalListener net.Listener
	// PasswordIterations overrides the PBKDF2 work factor of view
	// passwords (tests: the default costs about a second under -race).
	// A hash records its own count, so a lower one only affects new hashes.
	PasswordIterations int
}

// Node is one running tablecast server.
type Node struct {
	cfg config.Config
	log *slog.Logger
	// verifier checks tokens; with a JWK Set it owns the set's refresh
	// goroutine, stopped by Shutdown.
	verifier *auth.Verifier
	hub      *hub.Hub
	store    store.Store
	relay    *relay.Relay
	hooks    *webhook.Dispatcher
	history  *stream.MemoryHistory
	broker   nodeBroker
	poller   *transport.Poller
	sharedb  *sharedb.Server
	baserow  *baserow.Server
	metrics  *metrics.Metrics
	http     *http.Server
	ln       net.Listener
	// internal serves /metrics, /readyz and the admin API when
	// cfg.InternalListen is set; nil otherwise.
	internal   *http.Server
	internalLn net.Listener

	routes []Route // every route registered, for Routes
	// The listeners' routes (the same mux without an internal listener).
	publicMux, internalMux *http.ServeMux

	serveErr chan error
	serving  int // listeners served, each sending once on serveErr
	stopOnce sync.Once
}

// New builds a node; nothing listens until Start.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *Node, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var undo closers // what is built so far, released if New fails
	defer func() {
		if err != nil {
			undo.run()
		}
	}()
	pem, err := cfg.ReadJWTPublicKey()
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{
		Secret:       []byte(cfg.JWTSecret),
		PublicKeyPEM: pem,
		Issuer:       cfg.JWTIssuer,
		Audience:     cfg.JWTAudience,
		Leeway:       cfg.JWTLeeway,
		JWKSURL:      cfg.JWTJWKSURL,
		JWKS:         auth.JWKSConfig{Logger: log},
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	undo.push(verifier.Close)
	st, err := OpenStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	undo.push(func() { _ = st.Close() })
	return assemble(cfg, opts, log, verifier, st, &undo)
}

// OpenStore opens the table store and applies its migrations (`serve` and
// `tablecast migrate` both do).
func OpenStore(ctx context.Context, url string) (store.Store, error) {
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("server: open store: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("server: migrate store: %w", err)
	}
	return st, nil
}

// wrap puts the request log and CORS (TABLECAST_ALLOWED_ORIGINS, the
// sockets' list) around a listener's routes.
func wrap(cfg config.Config, log *slog.Logger, mux *http.ServeMux) http.Handler {
	return httpapi.LogRequests(log, httpapi.CORS(transport.NewOrigins(cfg.AllowedOrigins), mux))
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// Body and idle limits for the HTTP API. A socket is unaffected:
		// the upgrade clears the connection's deadlines.
		ReadTimeout:    30 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// Hub is the node's hub (tests and bench read its stats).
func (n *Node) Hub() *hub.Hub { return n.hub }

// Addr is where the node listens, once started.
func (n *Node) Addr() net.Addr { return n.ln.Addr() }

// InternalAddr is where the internal listener listens, once started; nil
// without one.
func (n *Node) InternalAddr() net.Addr {
	if n.internal == nil || n.internalLn == nil {
		return nil
	}
	return n.internalLn.Addr()
}

// Start listens on cfg.Listen (or on ln when given) and serves in the
// background.
func (n *Node) Start(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", n.cfg.Listen); err != nil {
			return fmt.Errorf("server: listen: %w", err)
		}
	}
	if n.internal != nil && n.internalLn == nil {
		iln, err := net.Listen("tcp", n.cfg.InternalListen)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("server: internal listen: %w", err)
		}
		n.internalLn = iln
	}
	n.ln = ln
	if err := n.hub.Start(ctx); err != nil {
		_ = ln.Close()
		if n.internal != nil {
			_ = n.internalLn.Close()
		}
		return err
	}
	n.relay.Start() // publishes what an earlier process committed and did not publish
	n.hooks.Start()
	n.serve(n.http, ln)
	if n.internal != nil {
		n.serve(n.internal, n.internalLn)
		n.log.Info("tablecast internal listener (metrics, readiness, admin API)", "addr", n.internalLn.Addr().String())
	}
	n.log.Info("tablecast listening", "addr", ln.Addr().String(), "node_id", n.cfg.NodeID, "dev", n.cfg.Dev)
	return nil
}

// serve runs srv on ln until Shutdown; its result goes to serveErr.
func (n *Node) serve(srv *http.Server, ln net.Listener) {
	n.serving++
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		n.serveErr <- err
	}()
}

// Shutdown stops accepting, tells every socket to go (4000), waits for them
// until ctx is done, and releases everything. It is safe to call twice.
func (n *Node) Shutdown(ctx context.Context) error {
	var err error
	n.stopOnce.Do(func() {
		// The hub first: while it drains, new sockets are refused with 503 and
		// /readyz says draining, so a load balancer moves clients elsewhere.
		hubErr := n.hub.Shutdown(ctx)
		n.sharedb.Close() // its query workers; the sockets are gone
		n.baserow.Close() // its workspace follows in flight
		httpErr := n.http.Shutdown(ctx)
		if n.internal != nil {
			httpErr = errors.Join(httpErr, n.internal.Shutdown(ctx))
		}
		n.hooks.Stop() // before the relay and the store: a pause it announces is published
		n.relay.Stop()
		pollErr := n.poller.Close()
		_ = n.broker.Close()
		n.broker.close()
		n.history.Close()
		storeErr := n.store.Close()
		n.verifier.Close()
		var serveErr error
		for range n.serving { // the listeners Start served
			serveErr = errors.Join(serveErr, <-n.serveErr)
		}
		err = errors.Join(httpErr, hubErr, pollErr, storeErr, serveErr)
	})
	return err
}

// connectRate maps the setting to the endpoint's knob: zero (off) is negative there.
func connectRate(r config.RateLimit) float64 {
	if r.PerSecond <= 0 {
		return -1
	}
	return r.PerSecond
}
