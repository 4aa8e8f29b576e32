package native

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/dialect/admission"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/transport"
)

// DialectID is the native dialect's index among the hub's renderers.
const DialectID hub.Dialect = 0

// Config configures the native endpoint. Zero values mean the defaults of
// config.md.
type Config struct {
	admission.Endpoint
	// Store serves the store collections; nil: they are unknown (404).
	Store Store
	// PublicViews serves publicview_<slug> (with the renderer of
	// RendererWith); nil: those collections are unknown (404).
	PublicViews *PublicViews

	Dev               bool // accept user_id without a token
	HeartbeatInterval time.Duration
}

// Server is the native protocol's WebSocket endpoint.
type Server struct {
	cfg  Config
	hub  *hub.Hub
	log  *slog.Logger
	gate *admission.Gate
}

// HandleEvent is the hub's event hook for this dialect: a member removed
// from a workspace loses, on every socket of theirs, the workspace's table
// list and its tables' records, fields and views. The event names the
// tables, so nothing is read here.
func (s *Server) HandleEvent(p *hub.Publication) {
	if p.Event != event.EventMemberRemoved {
		return
	}
	var ev event.MemberChanged
	if err := json.Unmarshal(p.Data, &ev); err != nil || ev.UserID == "" {
		s.log.Error("native: member_removed event without a user", "stream", p.Stream, "offset", p.Offset)
		return
	}
	lost := ev.Lost()
	s.hub.Revoke(ev.UserID, func(collection string) bool {
		c, ok := event.ParseCollection(collection)
		return ok && lost(c)
	})
}

// NewServer returns the endpoint; mount it at /api/ws/socket.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Init("native"); err != nil {
		return nil, err
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	return &Server{cfg: cfg, hub: cfg.Hub, log: cfg.Logger, gate: cfg.Gate()}, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Renderer returns the native renderer, to register with the hub.
func Renderer() hub.Renderer { return renderer{} }

// ServeHTTP authenticates and upgrades a socket request. Refusals are HTTP
// answers with a JSON body, before any upgrade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !s.gate.Admit(w, r) {
		return
	}
	sessionID := q.Get("session_id")
	if sessionID != "" && !validSessionID(sessionID) {
		admission.Refuse(w, http.StatusBadRequest, "invalid_session_id", "session_id must be 1-64 of [A-Za-z0-9_-]")
		return
	}
	claims, status, code, msg := s.authenticateRequest(r)
	if status != 0 {
		admission.Refuse(w, status, code, msg)
		return
	}
	tc, early, ok := s.cfg.Upgrade(w, r)
	if !ok {
		return
	}
	s.attach(tc, early, r.RemoteAddr, claims, sessionID)
}

// authenticateRequest reads the token from the query (token, jwt_token) or
// the Authorization header. No token is not a refusal: the connection then
// waits for a connect message (or, in dev mode, takes user_id as is).
func (s *Server) authenticateRequest(r *http.Request) (claims *auth.Claims, status int, code, msg string) {
	token := admission.RequestToken(r)
	userID := r.URL.Query().Get("user_id")
	if token == "" {
		switch {
		case userID == "":
			return nil, 0, "", ""
		case s.cfg.Dev:
			return &auth.Claims{Subject: userID, Name: userID, Channels: []string{"*"}}, 0, "", ""
		default:
			return nil, http.StatusUnauthorized, "token_required", "user_id alone is accepted only in dev mode: send a token"
		}
	}
	return s.cfg.VerifyToken(token, userID)
}

func (s *Server) attach(tc *transport.Conn, early []byte, remote string, claims *auth.Claims, sessionID string) {
	sess := &session{srv: s, tconn: tc}
	sess.parser.MaxMessage = int64(s.cfg.MaxMessageSize)
	sess.Base = s.cfg.NewBase()
	c, err := s.hub.NewConn(hub.ConnInfo{Dialect: DialectID, Transport: tc, Session: sess, Remote: remote})
	if err != nil {
		_ = tc.Close()
		return
	}
	sess.conn = c
	if claims != nil {
		sess.authenticate(claims, sessionID)
	}
	if err := s.cfg.Poller.Serve(tc, sess, early); err != nil {
		s.log.Error("watch connection", "err", err)
		c.Abort()
	}
}
