package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxJWTLeeway bounds TABLECAST_JWT_LEEWAY: more is no longer clock skew.
const maxJWTLeeway = 10 * time.Minute

// setting describes one setting: its variable, its flag, its default as text,
// and how to parse a raw value into the Config.
type setting struct {
	env    string
	flag   string
	def    string
	usage  string // a `backquoted` word names the flag's argument in --help
	isBool bool
	apply  func(raw string) error // parses raw, checks its range, stores it
}

// settings returns the table of every setting, storing into c. SOCKET_PORT is
// stored into port; Load turns it into c.Listen.
func settings(c *Config, port *int) []setting {
	return []setting{
		{env: "SOCKET_PORT", flag: "port", def: "3000",
			usage: "`port` to listen on when no listen address is set",
			apply: func(v string) error {
				n, err := parsePort(v)
				*port = n
				return err
			}},
		{env: "TABLECAST_LISTEN", flag: "listen",
			usage: "listen `address` (host:port); wins over the port (default \":$SOCKET_PORT\")",
			apply: addrInto(&c.Listen)},
		{env: "TABLECAST_INTERNAL_LISTEN", flag: "internal-listen",
			usage: "`address` (host:port) of a second listener that takes /metrics, /readyz and the admin API (/api/ws/*, /admin) off the public one; none: everything on the public listener",
			apply: addrInto(&c.InternalListen)},
		{env: "HEARTBEAT_INTERVAL", flag: "heartbeat-interval", def: "30",
			usage: "server ping interval (`duration` or seconds)",
			apply: durationInto(&c.HeartbeatInterval)},
		{env: "CONNECTION_TIMEOUT", flag: "connection-timeout", def: "60",
			usage: "no sign of life for this long closes a connection (`duration` or seconds)",
			apply: durationInto(&c.ConnectionTimeout)},
		{env: "TABLECAST_MAX_MESSAGE_SIZE", flag: "max-message-size", def: "65536",
			usage: "largest client frame (`size`: 65536, 64KiB)",
			apply: sizeInto(&c.MaxMessageSize, 128, 64<<20)},
		{env: "TABLECAST_MAX_CONNECTIONS", flag: "max-connections", def: "0",
			usage: "most connections on this node, 0 for no limit (`count`)",
			apply: intInto(&c.MaxConnections, 0)},
		{env: "TABLECAST_MAX_SUBSCRIPTIONS", flag: "max-subscriptions", def: "256",
			usage: "most subscriptions per connection (`count`)",
			apply: intInto(&c.MaxSubscriptions, 1)},
		{env: "TABLECAST_CONNECT_RATE", flag: "connect-rate", def: "50/s,500",
			usage: "socket connection attempts per client address: `rate` like 50/s,500, or off",
			apply: func(v string) error {
				if strings.EqualFold(strings.TrimSpace(v), "off") {
					c.ConnectRate = RateLimit{}
					return nil
				}
				r, err := parseRate(v)
				c.ConnectRate = r
				return err
			}},
		{env: "TABLECAST_RATE_LIMIT", flag: "rate-limit", def: "100/s,200",
			usage: "client messages: `rate`/s or rate/m, then optional burst (100/s,200; burst defaults to twice the rate per second)",
			apply: into(&c.RateLimit, parseRate)},
		{env: "TABLECAST_SEND_QUEUE", flag: "send-queue", def: "4MiB",
			usage: "per-connection send queue; overflow closes with 4002 (`size`: 4MiB, 512KiB, 1MB, 65536)",
			apply: sizeInto(&c.SendQueue, 1<<10, maxSize)},
		{env: "TABLECAST_JWT_SECRET", flag: "jwt-secret",
			usage: "HS256 `secret` for client tokens",
			apply: stringInto(&c.JWTSecret)},
		{env: "TABLECAST_JWT_PUBLIC_KEY", flag: "jwt-public-key",
			usage: "PEM `file` of the public key for RS256/ES256/EdDSA tokens",
			apply: stringInto(&c.JWTPublicKeyFile)},
		{env: "TABLECAST_JWT_JWKS_URL", flag: "jwt-jwks-url",
			usage: "JWK Set `url` (an identity provider's jwks_uri) whose keys verify RS*/PS*/ES*/EdDSA tokens; not with --jwt-public-key",
			apply: optional(urlInto(&c.JWTJWKSURL, "https", "http"))},
		{env: "TABLECAST_JWT_LEEWAY", flag: "jwt-leeway", def: "5s",
			usage: "clock skew allowed on a token's exp, nbf and iat, at connect and while connected (`duration`, 0 to 10m)",
			apply: func(v string) error {
				d, err := parseDuration(v)
				if err != nil {
					return err
				}
				if d < 0 || d > maxJWTLeeway {
					return fmt.Errorf("%q is out of range (0 to %s)", v, maxJWTLeeway)
				}
				c.JWTLeeway = d
				return nil
			}},
		{env: "TABLECAST_JWT_ISSUER", flag: "jwt-issuer",
			usage: "required token `issuer`, checked when set",
			apply: stringInto(&c.JWTIssuer)},
		{env: "TABLECAST_JWT_AUDIENCE", flag: "jwt-audience",
			usage: "required token `audience`, checked when set",
			apply: stringInto(&c.JWTAudience)},
		{env: "TABLECAST_API_KEY", flag: "api-key",
			usage: "admin API `key`; none turns the admin API off",
			apply: stringInto(&c.APIKey)},
		{env: "TABLECAST_ALLOWED_ORIGINS", flag: "allowed-origins",
			usage: "browser `origins` allowed to open sockets and call the HTTP API (CORS): comma list of scheme://host[:port], * for any",
			apply: into(&c.AllowedOrigins, parseOrigins)},
		{env: "TABLECAST_DATABASE_URL", flag: "database-url", def: "sqlite://./tablecast.db",
			usage: "database `url`: sqlite://path or postgres://...",
			apply: urlInto(&c.DatabaseURL, "sqlite", "postgres", "postgresql")},
		{env: "TABLECAST_REDIS_URL", flag: "redis-url",
			usage: "Redis `url` (redis:// or rediss://) for brokering across nodes; none: in-memory, one node",
			apply: optional(urlInto(&c.RedisURL, "redis", "rediss"))},
		{env: "TABLECAST_REDIS_PREFIX", flag: "redis-prefix", def: "tablecast:",
			usage: "`prefix` of every Redis key and channel",
			apply: stringInto(&c.RedisPrefix)},
		{env: "TABLECAST_NODE_ID", flag: "node-id",
			usage: "`name` of this node in stats (default hostname-pid)",
			apply: func(v string) error {
				v = strings.TrimSpace(v)
				if v == "" {
					v = defaultNodeID()
				}
				c.NodeID = v
				return nil
			}},
		{env: "TABLECAST_HISTORY_SIZE", flag: "history-size", def: "100",
			usage: "entries kept per app channel (`count`)",
			apply: intInto(&c.HistorySize, 0)},
		{env: "TABLECAST_HISTORY_TTL", flag: "history-ttl", def: "5m",
			usage: "how long app channel history is kept (`duration`)",
			apply: durationInto(&c.HistoryTTL)},
		{env: "TABLECAST_EVENT_RETENTION", flag: "event-retention", def: "24h",
			usage: "how long table events are kept for replay (`duration`)",
			apply: durationInto(&c.EventRetention)},
		{env: "TABLECAST_WEBHOOK_TIMEOUT", flag: "webhook-timeout", def: "10s",
			usage: "how long one webhook call may take (`duration`)",
			apply: durationInto(&c.Webhooks.Timeout)},
		{env: "TABLECAST_WEBHOOK_MAX_ATTEMPTS", flag: "webhook-max-attempts", def: "8",
			usage: "calls made for one webhook event before it fails (`count`)",
			apply: intInto(&c.Webhooks.MaxAttempts, 1)},
		{env: "TABLECAST_WEBHOOK_RETRY_BASE", flag: "webhook-retry-base", def: "1s",
			usage: "first wait before a webhook call is retried, doubled each attempt up to 10 minutes (`duration`)",
			apply: durationInto(&c.Webhooks.RetryBase)},
		{env: "TABLECAST_WEBHOOK_MAX_AGE", flag: "webhook-max-age", def: "24h",
			usage: "how long a webhook event is retried before it fails (`duration`)",
			apply: durationInto(&c.Webhooks.MaxAge)},
		{env: "TABLECAST_WEBHOOK_ALLOW_PRIVATE", flag: "webhook-allow-private", isBool: true,
			usage: "let webhooks call loopback, private and link-local addresses",
			apply: into(&c.Webhooks.AllowPrivate, parseBool)},
		{env: "TABLECAST_WEBHOOK_RETENTION", flag: "webhook-retention", def: "168h",
			usage: "how long the outbox keeps events a webhook has not delivered (`duration`)",
			apply: durationInto(&c.Webhooks.Retention)},
		{env: "TABLECAST_WEBHOOK_LEASE", flag: "webhook-lease", def: "10s",
			usage: "how long a node's lease on a webhook lasts unless renewed; a dead node's webhooks move after it (`duration`)",
			apply: durationInto(&c.Webhooks.Lease)},
		{env: "TABLECAST_WEBHOOK_CONCURRENCY", flag: "webhook-concurrency", def: "0",
			usage: "most webhook calls a node has in flight at once, all webhooks together; 0: 8 per core (GOMAXPROCS) (`count`)",
			apply: intInto(&c.Webhooks.Concurrency, 0)},
		{env: "TABLECAST_WEBHOOK_YIELD", flag: "webhook-yield", def: "100ms",
			usage: "longest a webhook call waits for the node's writes in flight to end before it starts; 0: calls never wait (`duration`)",
			apply: func(v string) error {
				d, err := parseDuration(v)
				if err == nil && d < 0 {
					err = fmt.Errorf("%q must not be below zero", v)
				}
				c.Webhooks.Yield = d
				return err
			}},
		{env: "TABLECAST_DEV", flag: "dev", isBool: true,
			usage: "insecure development mode: generated secret and API key, user_id without a token, any origin",
			apply: into(&c.Dev, parseBool)},
		{env: "TABLECAST_LOG_LEVEL", flag: "log-level", def: "info",
			usage: "`level`: debug, info, warn or error",
			apply: into(&c.LogLevel, parseLevel)},
		{env: "TABLECAST_LOG_FORMAT", flag: "log-format", def: "text",
			usage: "`format`: text or json",
			apply: func(v string) error {
				f := strings.ToLower(strings.TrimSpace(v))
				if f != "text" && f != "json" {
					return fmt.Errorf("%q is not text or json", v)
				}
				c.LogFormat = f
				return nil
			}},
		{env: "TABLECAST_SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: "10s",
			usage: "how long a graceful shutdown may take (`duration` or seconds)",
			apply: durationInto(&c.ShutdownTimeout)},
		{env: "TABLECAST_MAX_BODY_SIZE", flag: "max-body-size", def: "1MiB",
			usage: "largest HTTP API request body (`size`)",
			apply: sizeInto(&c.MaxBodySize, 1, maxSize)},
		{env: "TABLECAST_REPLAY_LIMIT", flag: "replay-limit", def: "1000",
			usage: "most events replayed to one subscriber (`count`)",
			apply: intInto(&c.ReplayLimit, 1)},
		{env: "TABLECAST_GC_HEADROOM", flag: "gc-headroom", def: "32MiB",
			usage: "least the Go heap grows between two garbage collections; 0 leaves them to GOGC, which also wins when set (`size`)",
			apply: sizeInto(&c.GCHeadroom, 0, maxSize)},
	}
}

// into stores what parse reads.
func into[T any](dst *T, parse func(string) (T, error)) func(string) error {
	return func(v string) error {
		x, err := parse(v)
		*dst = x
		return err
	}
}

// optional applies apply to a value given and takes "" as none.
func optional(apply func(string) error) func(string) error {
	return func(v string) error {
		if v == "" {
			return nil
		}
		return apply(v)
	}
}

// addrInto stores a listen address, host:port with a valid port; "" is none.
func addrInto(dst *string) func(string) error {
	return optional(func(v string) error {
		_, p, err := splitHostPort(v)
		if err != nil {
			return err
		}
		if _, err := parsePort(p); err != nil {
			return err
		}
		*dst = v
		return nil
	})
}

func durationInto(dst *time.Duration) func(string) error {
	return func(v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		if d <= 0 {
			return fmt.Errorf("%q must be above zero", v)
		}
		*dst = d
		return nil
	}
}

func intInto(dst *int, lowest int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		if n < lowest {
			return fmt.Errorf("%q is out of range (at least %d)", v, lowest)
		}
		*dst = n
		return nil
	}
}

func sizeInto[T int | int64](dst *T, lowest, highest int64) func(string) error {
	return func(v string) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		if n < lowest || n > highest {
			return fmt.Errorf("%q is out of range (%s to %s)", v, formatSize(lowest), formatSize(highest))
		}
		*dst = T(n)
		return nil
	}
}

func stringInto(dst *string) func(string) error {
	return func(v string) error { *dst = v; return nil }
}

func urlInto(dst *string, schemes ...string) func(string) error {
	return func(v string) error {
		if err := checkURL(v, schemes...); err != nil {
			return err
		}
		*dst = v
		return nil
	}
}

func defaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "tablecast"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// Setting describes one setting for its documentation.
type Setting struct {
	Env     string // environment variable
	Flag    string // flag of serve, without dashes
	Default string // default as text; "" for none
	Usage   string // the --help text
}

// Settings lists every setting in --help order (docs/configuration.md
// describes each; a test checks they agree).
func Settings() []Setting {
	var out []Setting
	for _, s := range settings(new(Config), new(int)) {
		out = append(out, Setting{Env: s.env, Flag: s.flag, Default: s.def, Usage: s.usage})
	}
	return out
}
