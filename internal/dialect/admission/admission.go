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

// Limits are the limits every socket endpoint applies, the same settings
// for all dialects. Zero values take the defaults (SetDefaults).
type Limits struct {
	AllowedOrigins []string // see transport.Origins
	MaxConnections int      // per node, all dialects; 0: no limit
	MaxMessageSize int      // bytes of one client frame; default 65536
	// RatePerSecond and RateBurst limit a connection's messages (default
	// 100/s, burst 200); one over AbuseFactor times the rate for
	// AbuseWindow is closed (defaults 10 and 10 s).
	RatePerSecond float64
	RateBurst     int
	AbuseFactor   float64
	AbuseWindow   time.Duration
	// ConnectRate and ConnectBurst limit connection attempts per client
	// address (default 50/s, burst 500); a negative rate disables it.
	ConnectRate  float64
	ConnectBurst int
}

// SetDefaults fills the zero values.
func (l *Limits) SetDefaults() {
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = 65536
	}
	if l.RatePerSecond <= 0 {
		l.RatePerSecond = 100
	}
	if l.RateBurst <= 0 {
		l.RateBurst = 200
	}
	if l.AbuseFactor <= 0 {
		l.AbuseFactor = 10
	}
	if l.AbuseWindow <= 0 {
		l.AbuseWindow = 10 * time.Second
	}
	if l.ConnectRate == 0 {
		l.ConnectRate, l.ConnectBurst = 50, 500
	}
}

// AbuseThreshold is the messages a second past which a connection counts
// as abusive.
func (l *Limits) AbuseThreshold() int { return int(l.RatePerSecond * l.AbuseFactor) }

// Config configures a Gate.
type Config struct {
	Limits
	// Draining reports that the node is shutting down; Connections counts
	// its open sockets, against MaxConnections.
	Draining    func() bool
	Connections func() int64
	Now         func() time.Time
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
