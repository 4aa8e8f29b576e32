package baserow

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/dialect/admission"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/transport"
)

// DialectID is the Baserow dialect's index among the hub's renderers.
const DialectID hub.Dialect = 1

// Config configures the endpoint. Zero values mean the defaults of
// config.md (the same as the native endpoint's).
type Config struct {
	admission.Endpoint
	Renderer *Renderer // required: the one registered with the hub at DialectID
	Store    Store     // required
	// EventEpoch is the epoch of the table streams' offsets
	// (tablestream.Epoch): replay_events asks for events after
	// {last_seen_id, EventEpoch}.
	EventEpoch string
}

// Server is the page protocol's WebSocket endpoint.
type Server struct {
	cfg    Config
	hub    *hub.Hub
	render *Renderer
	log    *slog.Logger
	gate   *admission.Gate

	usersMu   sync.Mutex
	users     map[string]map[*session]struct{} // signed-in sessions by user (workspace.go)
	followers sync.WaitGroup                   // workspace follows in flight (workspace.go)
}

// NewServer returns the endpoint; mount it at /ws/core/.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Init("baserow"); err != nil {
		return nil, err
	}
	if cfg.Renderer == nil || cfg.Store == nil {
		return nil, errors.New("baserow: Renderer and Store are required")
	}
	if cfg.EventEpoch == "" {
		return nil, errors.New("baserow: EventEpoch is required")
	}
	return &Server{cfg: cfg, hub: cfg.Hub, render: cfg.Renderer, log: cfg.Logger, gate: cfg.Gate(),
		users: make(map[string]map[*session]struct{})}, nil
}

// Anonymous is the jwt_token of a socket without a user.
const Anonymous = "anonymous"

// ServeHTTP upgrades a socket request. What stops a connection before any
// identity matters (origin, limits, draining) is an HTTP refusal, as on
// the native endpoint; a bad token is not: Baserow's client expects the
// upgrade, then authentication with success false and close 4001.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.gate.Admit(w, r) {
		return
	}
	q := r.URL.Query()
	id := q.Get("web_socket_id")
	if !validUUID(id) {
		var err error
		if id, err = newUUID(); err != nil {
			s.log.Error("no id for a socket", "err", err)
			admission.Refuse(w, http.StatusServiceUnavailable, "unavailable", "try again later")
			return
		}
	}
	claims, anonymous, ok := s.authenticate(q.Get("jwt_token"))
	tc, early, upgraded := s.cfg.Upgrade(w, r)
	if !upgraded {
		return
	}
	s.attach(tc, early, r.RemoteAddr, id, claims, anonymous, ok)
}

// authenticate reads jwt_token: a valid token, or "anonymous".
func (s *Server) authenticate(token string) (claims *auth.Claims, anonymous, ok bool) {
	if token == Anonymous {
		return nil, true, true
	}
	if token == "" {
		return nil, false, false
	}
	c, err := s.cfg.Verifier.Verify(token)
	if err != nil {
		return nil, false, false
	}
	return c, false, true
}

// authFailed closes a socket whose token was refused, after its
// authentication message.
var authFailed = hub.Disconnect{Code: 4001, Reason: "authentication failed"}

func (s *Server) attach(tc *transport.Conn, early []byte, remote, id string, claims *auth.Claims, anonymous, ok bool) {
	sess := &session{srv: s, anonymous: anonymous}
	sess.parser.MaxMessage = int64(s.cfg.MaxMessageSize)
	sess.Base = s.cfg.NewBase()
	info := hub.ConnInfo{ID: id, Dialect: DialectID, Transport: tc, Session: sess, Remote: remote}
	c, err := s.hub.NewConn(info)
	if err != nil && !errors.Is(err, hub.ErrClosed) {
		// The client's web_socket_id is another live socket's: it gets one
		// of its own.
		if info.ID, err = newUUID(); err == nil {
			c, err = s.hub.NewConn(info)
		}
	}
	if err != nil {
		_ = tc.Close()
		return
	}
	sess.conn = c
	if !ok {
		c.Send(authenticationFrame(false, ""))
		c.Disconnect(authFailed)
		return
	}
	var expires time.Time
	if claims != nil {
		sess.userID = claims.Subject
		// Closed (4001, no force_disconnect: the front end reconnects with
		// the token it holds by then) when the verifier would start
		// refusing the token: at exp plus the same leeway.
		if !claims.ExpiresAt.IsZero() {
			expires = claims.ExpiresAt.Add(s.cfg.TokenLeeway)
		}
	}
	// An anonymous socket is the user "": no token has an empty subject.
	s.hub.Authenticate(c, sess.userID, c.ID(), expires)
	c.Send(authenticationFrame(true, c.ID()))
	if !anonymous {
		s.track(sess)
		ctx, cancel := sess.StoreContext()
		sess.followWorkspaces(ctx)
		cancel()
	}
	if err := s.cfg.Poller.Serve(tc, sess, early); err != nil {
		s.log.Error("watch connection", "err", err)
		c.Abort()
	}
}

// validUUID reports whether s is a UUID in its text form
// (8-4-4-4-12 hex digits, either case).
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// random is where socket ids come from (tests replace it).
var random io.Reader = rand.Reader

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("baserow: socket id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	j := 0
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[x>>4], hexDigits[x&0xf]
		j += 2
	}
	return string(out[:]), nil
}
