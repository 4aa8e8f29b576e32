package admission

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

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
	Logger *slog.Logger
	Now    func() time.Time
}

// Init checks that the hub, the poller and the verifier are given, and
// sets the defaults; dialect names the endpoint in the error.
func (e *Endpoint) Init(dialect string) error {
	if e.Hub == nil || e.Poller == nil || e.Verifier == nil {
		return fmt.Errorf("%s: Hub, Poller and Verifier are required", dialect)
	}
	e.Limits.SetDefaults()
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

// VerifyToken checks a socket's token, and that user_id, when given, is its
// subject. A refusal is an HTTP status (401 or 403) with a stable code and
// a message for the client.
func (e *Endpoint) VerifyToken(token, userID string) (claims *auth.Claims, status int, code, msg string) {
	claims, err := e.Verifier.Verify(token)
	if err != nil {
		if errors.Is(err, auth.ErrTokenExpired) {
			return nil, http.StatusUnauthorized, "token_expired", "token expired"
		}
		return nil, http.StatusUnauthorized, "invalid_token", "invalid token"
	}
	if userID != "" && userID != claims.Subject {
		return nil, http.StatusForbidden, "user_mismatch", "user_id does not match the token"
	}
	return claims, 0, "", ""
}
