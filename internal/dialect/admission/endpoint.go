package admission

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/transport"
)

// Endpoint is what the socket endpoints (the three dialects) are made of
// alike; each dialect's Config embeds it. The server builds one and gives
// it to all three.
type Endpoint struct {
	Hub      *hub.Hub
	Poller   *transport.Poller
	Verifier *auth.Verifier
	// TokenLeeway is the clock skew the verifier allows; a socket whose
	// token expires is told so this long after exp.
	TokenLeeway time.Duration
	// Limits are the endpoints' shared limits (zero values: defaults).
	Limits
	// StoreTimeout bounds each Store call a socket's message makes
	// (default DefaultStoreTimeout).
	StoreTimeout time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

// Init checks that the hub, the poller and the verifier are given, and
// sets the defaults; dialect names the endpoint in the error.
func (e *Endpoint) Init(dialect string) error {
	if e.Hub == nil || e.Poller == nil || e.Verifier == nil {
		return fmt.Errorf("%s: Hub, Poller and Verifier are required", dialect)
	}
	e.Limits.SetDefaults()
	if e.StoreTimeout <= 0 {
		e.StoreTimeout = DefaultStoreTimeout
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	return nil
}

// Gate returns the endpoint's admission gate (after Init).
func (e *Endpoint) Gate() *Gate {
	h := e.Hub
	return New(Config{Limits: e.Limits, Draining: h.Draining,
		Connections: func() int64 { return h.Stats().Connections }, Now: e.Now})
}

// upgradeTimeout bounds a socket's handshake.
const upgradeTimeout = 5 * time.Second

// Upgrade performs the WebSocket handshake of an admitted, authorised
// request (transport.Upgrade). A failed one has been answered and is
// logged at debug level: ok is false and the dialect has nothing to do.
func (e *Endpoint) Upgrade(w http.ResponseWriter, r *http.Request) (tc *transport.Conn, early []byte, ok bool) {
	tc, early, err := transport.Upgrade(w, r, upgradeTimeout)
	if err != nil {
		e.Logger.Debug("upgrade failed", "remote", r.RemoteAddr, "err", err)
		return nil, nil, false
	}
	return tc, early, true
}

// RequestToken reads a socket request's token: ?token=, ?jwt_token= or an
// Authorization: Bearer header, the first one given; "" when none is.
func RequestToken(r *http.Request) string {
	q := r.URL.Query()
	if t := q.Get("token"); t != "" {
		return t
	}
	if t := q.Get("jwt_token"); t != "" {
		return t
	}
	return auth.BearerToken(r.Header.Get("Authorization"))
}

// VerifyToken checks a socket's token, and that user_id, when given, is its
// subject. A refusal is an HTTP status (401 or 403, or 503 when the JWK
// Set that holds the token's key cannot be fetched) with a stable code and
// a message for the client.
func (e *Endpoint) VerifyToken(token, userID string) (claims *auth.Claims, status int, code, msg string) {
	claims, err := e.Verifier.Verify(token)
	if err != nil {
		if errors.Is(err, auth.ErrTokenExpired) {
			return nil, http.StatusUnauthorized, "token_expired", "token expired"
		}
		if errors.Is(err, auth.ErrKeysUnavailable) {
			e.Logger.Warn("socket token not checked: signing keys unavailable", "err", err)
			return nil, http.StatusServiceUnavailable, "keys_unavailable", "the token's signing keys cannot be fetched now; try again later"
		}
		return nil, http.StatusUnauthorized, "invalid_token", "invalid token"
	}
	if userID != "" && userID != claims.Subject {
		return nil, http.StatusForbidden, "user_mismatch", "user_id does not match the token"
	}
	return claims, 0, "", ""
}

// ErrAbuse is what a dialect's message handler returns for a socket that
// abused the rate limit: ReadClosed closes it with 4004.
var ErrAbuse = errors.New("rate limit abused")

// ReadClosed ends a socket whose reading stopped with err, alike on every
// endpoint: a peer that went away is dropped; a message too large, a
// protocol error or bad UTF-8 gets the matching close code; a client's
// close a normal closure; ErrAbuse 4004. tooLarge, if not nil, is the
// dialect's own message sent before closing a socket whose message was too
// large.
func ReadClosed(c *hub.Conn, err error, tooLarge func() []byte) {
	switch {
	case transport.IsPeerClosed(err):
		c.Abort()
	case errors.Is(err, transport.ErrTooLarge):
		if tooLarge != nil {
			c.Send(tooLarge())
		}
		c.Disconnect(hub.Disconnect{Code: int(transport.CloseCodeFor(err)), Reason: "message too large"})
	case errors.Is(err, transport.ErrProtocol), errors.Is(err, transport.ErrInvalidUTF8):
		c.Disconnect(hub.Disconnect{Code: int(transport.CloseCodeFor(err)), Reason: "protocol error"})
	case errors.Is(err, transport.ErrClientClose):
		c.Disconnect(hub.Disconnect{Code: int(ws.StatusNormalClosure), Reason: "bye"})
	case errors.Is(err, ErrAbuse):
		c.Disconnect(hub.DisconnectRateAbuse)
	default:
		c.Abort()
	}
}
