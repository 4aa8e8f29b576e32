package client

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// TokenMode says how the client presents its token.
type TokenMode int

const (
	// TokenInQuery sends the token as the query parameter token (default).
	TokenInQuery TokenMode = iota
	// TokenInHeader sends the token as "Authorization: Bearer <token>".
	TokenInHeader
	// TokenInConnect opens the socket without a token and sends it in a
	// connect message, so that it never appears in a URL.
	TokenInConnect
)

// Defaults for the zero values of Config.
const (
	DefaultReconnectMin   = 100 * time.Millisecond
	DefaultReconnectMax   = 10 * time.Second
	DefaultDialTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultMessageBuffer  = 32
	DefaultReadBufferSize = 4096
	DefaultRefreshAhead   = 30 * time.Second
)

// closeTimeout bounds how long Close waits for the server's close frame.
const closeTimeout = time.Second

// Config configures a Client. Zero values mean the documented default.
type Config struct {
	// URL is the socket's address, ws://host:port/api/ws/socket (or wss://).
	URL string
	// Token is the JWT. Empty means no token (dev mode).
	Token string
	// TokenFunc (getToken), when set, is called before every connection
	// attempt (including the first) and its token replaces Token, so that
	// a reconnect after 4001 (token expired) can present a fresh one. It is
	// also called ahead of the token's exp, as the server reports it
	// (Connected.ExpiresIn), and its token renews the open connection's
	// (a refresh message); see RefreshAhead. It must return a token for the
	// same user.
	TokenFunc func(ctx context.Context) (string, error)
	// RefreshAhead is how long before the token's exp TokenFunc is asked
	// for a new one: RefreshAhead (default 30s), or half the time left if
	// that is shorter. Negative turns the renewal on an open connection
	// off.
	RefreshAhead time.Duration
	// TokenMode says where the token goes; TokenInQuery by default.
	TokenMode TokenMode
	// SessionID is sent as session_id (query parameter, or in the connect
	// message with TokenInConnect). Empty lets the server choose.
	SessionID string
	// Header holds extra handshake headers, such as Origin.
	Header http.Header
	// LocalAddr is the source IP address (optionally with a port) of the TCP
	// connection, e.g. "127.0.0.5", to spread many clients over addresses.
	LocalAddr string

	// DialTimeout bounds each connection attempt: TCP, upgrade and the wait
	// for connected. Default 10s.
	DialTimeout time.Duration
	// WriteTimeout bounds each frame write; a write that times out tears the
	// connection down. Default 10s.
	WriteTimeout time.Duration

	// Reconnect enables automatic reconnection with exponential backoff
	// between ReconnectMin (default 100ms) and ReconnectMax (default 10s)
	// with full jitter. Subscriptions are restored with their last position.
	Reconnect    bool
	ReconnectMin time.Duration
	ReconnectMax time.Duration

	// PingInterval, when positive, makes the client send a protocol ping
	// message at that period; a pong that has not arrived by the next tick
	// ends the connection with ErrPingTimeout. It is how a client notices a
	// dead peer. Zero sends none (and starts no goroutine).
	PingInterval time.Duration

	// MessageBuffer is the capacity of the Messages channel. Default 32.
	MessageBuffer int
	// ReadBufferSize is the size of the socket read buffer, which lets one
	// system call read many small frames. Default 4096.
	ReadBufferSize int

	// OnEvent, when set, is told about connection state changes. It is
	// called from the client's reader goroutine (and from Dial for the first
	// EventConnected, and from the token refresh goroutine for
	// EventTokenRefreshed and EventTokenRefreshFailed, so it may be called
	// concurrently), so it must return quickly and must not call methods
	// that wait for the server (Request, Subscribe, Ping, Close...): start a
	// goroutine for that.
	OnEvent func(Event)
	// Logger receives debug and warning logs. Default: discard.
	Logger *slog.Logger
}

func newClient(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("tablecast: bad URL: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("tablecast: bad URL %q: scheme must be ws or wss", cfg.URL)
	}
	netDial, err := localDialer(cfg.LocalAddr)
	if err != nil {
		return nil, err
	}
	setDefault(&cfg.ReconnectMin, DefaultReconnectMin)
	setDefault(&cfg.ReconnectMax, DefaultReconnectMax)
	cfg.ReconnectMax = max(cfg.ReconnectMax, cfg.ReconnectMin)
	setDefault(&cfg.DialTimeout, DefaultDialTimeout)
	setDefault(&cfg.WriteTimeout, DefaultWriteTimeout)
	setDefault(&cfg.MessageBuffer, DefaultMessageBuffer)
	setDefault(&cfg.ReadBufferSize, DefaultReadBufferSize)
	if cfg.RefreshAhead == 0 {
		cfg.RefreshAhead = DefaultRefreshAhead
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{
		cfg:     cfg,
		url:     u,
		log:     log,
		netDial: netDial,
		msgs:    make(chan Message, cfg.MessageBuffer),
		done:    make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		pending: make(map[string]*pending),
		subs:    make(map[subKey]struct{}),
		streams: make(map[string]*stream),
		expiry:  make(chan expiry, 1),
	}, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
