// Package admission holds what every socket endpoint checks before an
// upgrade, so that the dialects (native, Baserow, ShareDB) refuse the same
// requests the same way: the origin, the client address's connection
// attempts, the node draining, the node's connection limit.
package admission

import (
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/tablecast/tablecast/internal/ratelimit"
	"github.com/tablecast/tablecast/internal/transport"
)

// Gate is an endpoint's admission checks.
type Gate struct {
	origins  transport.Origins
	attempts *ratelimit.Keyed
	draining func() bool
	open     func() int64
	max      int
	now      func() time.Time
}

// Config configures a Gate.
type Config struct {
	AllowedOrigins []string // see transport.Origins
	// ConnectRate and ConnectBurst limit connection attempts per client
	// address; a rate <= 0 means no limit.
	ConnectRate  float64
	ConnectBurst int
	// Draining reports that the node is shutting down; Connections counts
	// its open sockets, against MaxConnections (0: no limit).
	Draining       func() bool
	Connections    func() int64
	MaxConnections int
	Now            func() time.Time
}

// New returns a gate.
func New(cfg Config) *Gate {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Gate{
		origins:  transport.NewOrigins(cfg.AllowedOrigins),
		attempts: ratelimit.NewKeyed(cfg.ConnectRate, cfg.ConnectBurst),
		draining: cfg.Draining, open: cfg.Connections, max: cfg.MaxConnections, now: cfg.Now,
	}
}

// Admit checks r, and answers a refusal (false) with the HTTP API's error
// body before any upgrade.
func (g *Gate) Admit(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case !g.origins.Allowed(r):
		Refuse(w, http.StatusForbidden, "origin_not_allowed", "origin not allowed")
	case !g.attempts.Allow(ClientIP(r), g.now()):
		Refuse(w, http.StatusTooManyRequests, "too_many_attempts", "too many connection attempts")
	case g.draining != nil && g.draining():
		Refuse(w, http.StatusServiceUnavailable, "draining", "server shutting down")
	case g.max > 0 && g.open != nil && g.open() >= int64(g.max):
		Refuse(w, http.StatusServiceUnavailable, "connection_limit", "connection limit reached")
	default:
		return true
	}
	return false
}

// ClientIP is the address a request came from, without its port.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Refuse writes the HTTP API's error shape.
func Refuse(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
