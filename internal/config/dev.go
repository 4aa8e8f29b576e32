package config

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// ApplyDevDefaults fills in what dev mode promises, and does nothing outside
// dev mode: an empty JWTSecret and an empty APIKey each get 32 random bytes
// from randReader (crypto/rand when nil) as hex, and empty AllowedOrigins
// become ["*"]. It returns the variable names of the secrets it generated
// (TABLECAST_JWT_SECRET, TABLECAST_API_KEY) so the caller can print them.
// On error c is unchanged.
func (c *Config) ApplyDevDefaults(randReader io.Reader) (generated []string, err error) {
	if !c.Dev {
		return nil, nil
	}
	if randReader == nil {
		randReader = rand.Reader
	}
	secret, key := c.JWTSecret, c.APIKey
	if secret == "" {
		if secret, err = randomHex(randReader); err != nil {
			return nil, err
		}
		generated = append(generated, "TABLECAST_JWT_SECRET")
	}
	if key == "" {
		if key, err = randomHex(randReader); err != nil {
			return nil, err
		}
		generated = append(generated, "TABLECAST_API_KEY")
	}
	c.JWTSecret, c.APIKey = secret, key
	if len(c.AllowedOrigins) == 0 {
		c.AllowedOrigins = []string{"*"}
	}
	return generated, nil
}

func randomHex(r io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("config: generating a dev secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Redacted returns every setting keyed by its flag name, safe to print: the
// JWT secret and the API key show only "set" or "unset", and passwords in the
// database and Redis URLs are replaced by "xxxxx".
func (c Config) Redacted() map[string]any {
	origins := "none"
	if len(c.AllowedOrigins) > 0 {
		origins = strings.Join(c.AllowedOrigins, ",")
	}
	return map[string]any{
		"listen":             c.Listen,
		"internal-listen":    c.InternalListen,
		"heartbeat-interval": c.HeartbeatInterval.String(),
		"connection-timeout": c.ConnectionTimeout.String(),
		"max-message-size":   c.MaxMessageSize,
		"max-connections":    c.MaxConnections,
		"max-subscriptions":  c.MaxSubscriptions,
		"rate-limit":         c.RateLimit.String(),
		"send-queue":         c.SendQueue,
		"jwt-secret":         setOrUnset(c.JWTSecret),
		"jwt-public-key":     c.JWTPublicKeyFile,
		"jwt-jwks-url":       c.JWTJWKSURL,
		"jwt-leeway":         c.JWTLeeway.String(),
		"jwt-issuer":         c.JWTIssuer,
		"jwt-audience":       c.JWTAudience,
		"api-key":            setOrUnset(c.APIKey),
		"allowed-origins":    origins,
		"database-url":       redactURL(c.DatabaseURL),
		"redis-url":          redactURL(c.RedisURL),
		"redis-prefix":       c.RedisPrefix,
		"node-id":            c.NodeID,
		"history-size":       c.HistorySize,
		"history-ttl":        c.HistoryTTL.String(),
		"event-retention":    c.EventRetention.String(),
		"dev":                c.Dev,
		"log-level":          c.LogLevel.String(),
		"log-format":         c.LogFormat,
		"shutdown-timeout":   c.ShutdownTimeout.String(),
		"max-body-size":      c.MaxBodySize,
		"replay-limit":       c.ReplayLimit,
		"gc-headroom":        c.GCHeadroom,
		"connect-rate":       c.ConnectRate.String(),

		"webhook-timeout":       c.Webhooks.Timeout.String(),
		"webhook-max-attempts":  c.Webhooks.MaxAttempts,
		"webhook-retry-base":    c.Webhooks.RetryBase.String(),
		"webhook-max-age":       c.Webhooks.MaxAge.String(),
		"webhook-allow-private": c.Webhooks.AllowPrivate,
		"webhook-retention":     c.Webhooks.Retention.String(),
		"webhook-lease":         c.Webhooks.Lease.String(),
		"webhook-concurrency":   c.Webhooks.Concurrency,
		"webhook-yield":         c.Webhooks.Yield.String(),
	}
}

// LogValue makes slog print c as a group of its Redacted settings, in name order.
func (c Config) LogValue() slog.Value {
	m := c.Redacted()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, m[k]))
	}
	return slog.GroupValue(attrs...)
}

func setOrUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}

// redactURL hides the password of u; a URL that does not parse shows only its
// scheme, since it may hold a password in a form url.Parse cannot find.
func redactURL(u string) string {
	if u == "" || strings.HasPrefix(strings.ToLower(u), "sqlite://") {
		return u
	}
	p, err := url.Parse(u)
	if err != nil {
		scheme, _, _ := strings.Cut(u, "://")
		return scheme + "://(unparsable)"
	}
	return p.Redacted()
}
