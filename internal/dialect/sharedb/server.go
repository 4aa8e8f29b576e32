package sharedb

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/dialect/admission"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/transport"
)

// DialectID is the ShareDB dialect's index among the hub's renderers.
const DialectID hub.Dialect = 2

// Config configures the endpoint. Zero values mean the defaults of
// config.md (the native endpoint's).
type Config struct {
	admission.Endpoint
	Renderer *Renderer // required: the one registered with the hub at DialectID
	Store    Store     // required
	// EventEpoch is the epoch of the table streams' offsets
	// (tablestream.Epoch): a document read at offset O is followed by the
	// events after {O, EventEpoch}.
	EventEpoch string

	Dev bool // accept user_id without a token
	// MaxQueries bounds the live queries of one socket (default 100).
	MaxQueries int
	// QueryWorkers re-run live queries after events (default GOMAXPROCS).
	QueryWorkers int
}

// Server is the ShareDB endpoint: it upgrades sockets, speaks ShareDB's
// protocol on them, and re-runs their live queries as events pass.
type Server struct {
	cfg    Config
	hub    *hub.Hub
	render *Renderer
	log    *slog.Logger
	gate   *admission.Gate

	live *liveQueries
}

// NewServer returns the endpoint; mount it at /sharedb. Close stops its
// query workers.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Init("sharedb"); err != nil {
		return nil, err
	}
	if cfg.Renderer == nil || cfg.Store == nil {
		return nil, errors.New("sharedb: Renderer and Store are required")
	}
	if cfg.EventEpoch == "" {
		return nil, errors.New("sharedb: EventEpoch is required")
	}
	if cfg.MaxQueries <= 0 {
		cfg.MaxQueries = 100
	}
	if cfg.QueryWorkers <= 0 {
		cfg.QueryWorkers = runtime.GOMAXPROCS(0)
	}
	s := &Server{cfg: cfg, hub: cfg.Hub, render: cfg.Renderer, log: cfg.Logger, gate: cfg.Gate()}
	s.live = newLiveQueries(s, cfg.QueryWorkers)
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Close stops the query workers and waits for them. Call it after the hub
// has shut down (the sockets are gone).
func (s *Server) Close() { s.live.close() }

// HandleEvent is the hub's event hook for this dialect: a member removed
// from a workspace loses their documents, queries and presence channels of
// its tables (on every socket of theirs), then live queries of the event's
// stream are re-run (by the workers; the hook never waits on the store).
func (s *Server) HandleEvent(p *hub.Publication) {
	if p.Event == event.EventMemberRemoved {
		s.revokeMember(p)
	}
	if p.Kind == hub.KindEvent {
		s.live.touch(p.Stream, p.Event)
	}
}

// revokeMember ends a removed member's subscriptions to the workspace's
// tables; the event names them, so nothing is read here.
func (s *Server) revokeMember(p *hub.Publication) {
	var ev event.MemberChanged
	if err := json.Unmarshal(p.Data, &ev); err != nil || ev.UserID == "" {
		s.log.Error("sharedb: member_removed event without a user", "stream", p.Stream, "offset", p.Offset)
		return
	}
	lost := ev.Lost()
	s.hub.Revoke(ev.UserID, func(collection string) bool {
		name, ok := StoreCollectionOf(collection) // documents and table presence channels
		if !ok {
			return false
		}
		c, ok := event.ParseCollection(name)
		return ok && lost(c)
	})
}

// ServeHTTP authenticates and upgrades a socket request. Refusals are HTTP
// answers with the HTTP API's error body, before any upgrade, as on the
// native endpoint: a ShareDB client has no way to authenticate after it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.gate.Admit(w, r) {
		return
	}
	claims, status, code, msg := s.authenticate(r)
	if status != 0 {
		admission.Refuse(w, status, code, msg)
		return
	}
	src, err := newSrc()
	if err != nil {
		s.log.Error("no client id for a socket", "err", err)
		admission.Refuse(w, http.StatusServiceUnavailable, "unavailable", "try again later")
		return
	}
	tc, early, ok := s.cfg.Upgrade(w, r)
	if !ok {
		return
	}
	s.attach(tc, early, r.RemoteAddr, claims, src)
}

// TokenCookie is the cookie a browser may carry the token in.
const TokenCookie = "tablecast_token"

// authenticate reads the token from ?token= (or ?jwt_token=), the
// Authorization header or the tablecast_token cookie.
func (s *Server) authenticate(r *http.Request) (claims *auth.Claims, status int, code, msg string) {
	token := admission.RequestToken(r)
	if token == "" {
		if c, err := r.Cookie(TokenCookie); err == nil {
			token = c.Value
		}
	}
	userID := r.URL.Query().Get("user_id")
	if token == "" {
		if s.cfg.Dev && userID != "" {
			return &auth.Claims{Subject: userID, Name: userID, Channels: []string{"*"}}, 0, "", ""
		}
		return nil, http.StatusUnauthorized, "token_required", "send a token: ?token=, Authorization: Bearer or the tablecast_token cookie"
	}
	return s.cfg.VerifyToken(token, userID)
}

func (s *Server) attach(tc *transport.Conn, early []byte, remote string, claims *auth.Claims, src string) {
	sess := newSession(s, claims, src)
	c, err := s.hub.NewConn(hub.ConnInfo{Dialect: DialectID, Transport: tc, Session: sess, Remote: remote})
	if err != nil {
		_ = tc.Close()
		return
	}
	sess.conn = c
	// The connection ends when the verifier would refuse the token: at exp
	// plus the same leeway.
	expires := claims.ExpiresAt
	if !expires.IsZero() {
		expires = expires.Add(s.cfg.TokenLeeway)
	}
	s.hub.Authenticate(c, claims.Subject, c.ID(), expires)
	// ShareDB's server speaks first: the legacy init, which 1.1+ clients
	// answer with hs.
	c.Send(frameOf(sess.initMessage(actInit)))
	if err := s.cfg.Poller.Serve(tc, sess, early); err != nil {
		s.log.Error("watch connection", "err", err)
		c.Abort()
	}
}

// random is where client ids come from (tests replace it).
var random io.Reader = rand.Reader

// newSrc returns a client id (ShareDB's agent id): 32 hex digits.
func newSrc() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("sharedb: client id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// goTracked is for the server's own goroutines (the query workers).
func goTracked(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}
