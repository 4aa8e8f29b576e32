// Package config reads tablecast's settings from the environment and from the
// flags of `tablecast serve` into one typed Config.
//
// Every setting is an environment variable and a flag; the flag wins over the
// environment, which wins over the default. An environment variable set to the
// empty string counts as unset. Bad values are reported together, each naming
// its variable and flag, and nothing is returned half-configured.
//
// The package uses the standard library only and does no I/O of its own except
// for the NodeID default (hostname and pid) and ReadJWTPublicKey.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// Config holds every setting of `tablecast serve`, parsed and validated.
type Config struct {
	// Listen is the listen address. TABLECAST_LISTEN wins over SOCKET_PORT
	// (which gives ":<port>"); a flag wins over either variable.
	Listen string
	// InternalListen, when set, is the address of a second listener that
	// serves /metrics, /readyz and the admin API (/api/ws/* but the socket,
	// and the /admin page) instead of Listen.
	InternalListen string

	HeartbeatInterval time.Duration // server ping interval
	ConnectionTimeout time.Duration // no sign of life for this long closes the connection
	MaxMessageSize    int           // bytes per client frame
	MaxConnections    int           // per node; 0 means no limit
	MaxSubscriptions  int           // per connection
	RateLimit         RateLimit     // client messages
	ConnectRate       RateLimit     // connection attempts per client address; zero: off
	SendQueue         int64         // bytes queued per connection before it is closed with 4002

	JWTSecret        string // HS256 secret; never logged
	JWTPublicKeyFile string // path of a PEM file for RS256/ES256/EdDSA
	// JWTJWKSURL is the http(s) URL of a JWK Set (an identity provider's
	// jwks_uri); tokens with a kid are checked against its keys. It may be
	// set alongside JWTSecret, not alongside JWTPublicKeyFile.
	JWTJWKSURL string
	// JWTLeeway is the clock skew allowed on a token's exp, nbf and iat,
	// when it is checked and when an open connection's expiry is enforced.
	JWTLeeway   time.Duration
	JWTIssuer   string // checked when set
	JWTAudience string // checked when set
	APIKey      string // admin API key; empty turns the admin API off; never logged

	// AllowedOrigins are the browser origins allowed to open sockets; "*" allows any.
	AllowedOrigins []string

	DatabaseURL string // sqlite://path, postgres://... or postgresql://...
	RedisURL    string // empty: in-memory broker; else redis://... or rediss://...
	RedisPrefix string // prefix of every Redis key and channel
	NodeID      string // names this node in stats

	HistorySize    int           // entries kept per app channel
	HistoryTTL     time.Duration // how long app channel history is kept
	EventRetention time.Duration // how long table events are kept for replay
	Webhooks       Webhooks

	Dev       bool       // development mode; see ApplyDevDefaults
	LogLevel  slog.Level // debug, info, warn or error
	LogFormat string     // "text" or "json"

	ShutdownTimeout time.Duration // graceful shutdown deadline
	MaxBodySize     int64         // bytes per HTTP API request body
	ReplayLimit     int           // most events replayed to one subscriber
	// GCHeadroom is the least the Go heap grows between two garbage
	// collections (internal/gcpace); 0 leaves the collector to GOGC.
	GCHeadroom int64
}

// RateLimit is a token bucket: PerSecond tokens refill each second, up to Burst.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// String formats r the way TABLECAST_RATE_LIMIT is written, e.g. "100/s,200".
func (r RateLimit) String() string {
	return strconv.FormatFloat(r.PerSecond, 'g', -1, 64) + "/s," + strconv.Itoa(r.Burst)
}

// SettingError is a bad value of one setting. Its message names the variable
// and the flag, e.g.
//
//	config: TABLECAST_SEND_QUEUE (--send-queue): "4XB" is not a size
type SettingError struct {
	Env  string // environment variable, e.g. "TABLECAST_SEND_QUEUE"
	Flag string // flag name without dashes, e.g. "send-queue"
	Err  error  // what is wrong with the value
}

func (e *SettingError) Error() string {
	return "config: " + e.Env + " (--" + e.Flag + "): " + e.Err.Error()
}

func (e *SettingError) Unwrap() error { return e.Err }

// ErrNoJWTKey is returned (joined with any other errors) by Load outside dev
// mode when neither a JWT secret nor a public key is configured.
var ErrNoJWTKey = errors.New("config: no JWT secret, public key or JWKS URL: " +
	"set TABLECAST_JWT_SECRET (--jwt-secret), TABLECAST_JWT_PUBLIC_KEY (--jwt-public-key) " +
	"or TABLECAST_JWT_JWKS_URL (--jwt-jwks-url), " +
	"or use --dev (TABLECAST_DEV=1) for local development")

// FlagSet returns a FlagSet named name with a flag for every setting. Its error
// handling is ContinueOnError and its output is io.Discard; for `serve --help`
// set an output and call PrintDefaults. The flags only record what was given:
// Load does the parsing, so use Load to get a Config.
func FlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range settings(new(Config), new(int)) {
		fs.Var(&rawValue{isBool: s.isBool}, s.flag, s.usage+" [$"+s.env+"]")
		fs.Lookup(s.flag).DefValue = s.def
	}
	return fs
}

// Load reads every setting from getenv and from args (the arguments after
// `serve`, flags only), the flag winning over the variable. It returns all bad
// values at once, joined with errors.Join: each is a *SettingError, plus
// ErrNoJWTKey when no JWT secret or key is set outside dev mode. With -h or
// --help the error wraps flag.ErrHelp.
func Load(args []string, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	fs := FlagSet("serve")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	given := map[string]string{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = f.Value.String() })

	var c Config
	var port int
	var errs []error
	failed := map[string]bool{}
	sources := map[string]source{}
	for _, s := range settings(&c, &port) {
		raw, src := s.def, fromDefault
		if v := getenv(s.env); v != "" {
			raw, src = v, fromEnv
		}
		if v, ok := given[s.flag]; ok {
			raw, src = v, fromFlag
		}
		sources[s.flag] = src
		if err := s.apply(raw); err != nil {
			errs = append(errs, &SettingError{Env: s.env, Flag: s.flag, Err: err})
			failed[s.flag] = true
		}
	}

	// The listen address wins over the port when given at the same or a
	// higher precedence (flag over variable over default).
	if c.Listen == "" || sources["port"] > sources["listen"] {
		c.Listen = ":" + strconv.Itoa(port)
	}
	if !failed["heartbeat-interval"] && !failed["connection-timeout"] &&
		c.HeartbeatInterval >= c.ConnectionTimeout {
		errs = append(errs, &SettingError{Env: "HEARTBEAT_INTERVAL", Flag: "heartbeat-interval",
			Err: fmt.Errorf("%s must be less than CONNECTION_TIMEOUT (--connection-timeout) %s",
				c.HeartbeatInterval, c.ConnectionTimeout)})
	}
	if c.JWTPublicKeyFile != "" && c.JWTJWKSURL != "" {
		errs = append(errs, &SettingError{Env: "TABLECAST_JWT_JWKS_URL", Flag: "jwt-jwks-url",
			Err: errors.New("set either it or TABLECAST_JWT_PUBLIC_KEY (--jwt-public-key), not both")})
	}
	if !c.Dev && !failed["dev"] && c.JWTSecret == "" && c.JWTPublicKeyFile == "" && c.JWTJWKSURL == "" {
		errs = append(errs, ErrNoJWTKey)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// ReadJWTPublicKey reads the PEM file named by JWTPublicKeyFile. It returns
// nil, nil when none is set; its errors name the setting.
func (c *Config) ReadJWTPublicKey() ([]byte, error) {
	if c.JWTPublicKeyFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.JWTPublicKeyFile)
	if err != nil {
		return nil, &SettingError{Env: "TABLECAST_JWT_PUBLIC_KEY", Flag: "jwt-public-key", Err: err}
	}
	return b, nil
}

// source says where a raw value came from, in increasing precedence.
type source int

const (
	fromDefault source = iota
	fromEnv
	fromFlag
)

// rawValue is the flag.Value of every setting: it keeps the text as given.
type rawValue struct {
	s      string
	isBool bool
}

func (v *rawValue) String() string     { return v.s }
func (v *rawValue) Set(s string) error { v.s = s; return nil }
func (v *rawValue) IsBoolFlag() bool   { return v.isBool }

// Webhooks are the webhook dispatcher's settings (TABLECAST_WEBHOOK_*).
type Webhooks struct {
	Timeout      time.Duration // one call
	MaxAttempts  int           // calls of one event before it fails
	RetryBase    time.Duration // the first wait, doubled each attempt up to 10 minutes
	MaxAge       time.Duration // how long one event is retried
	AllowPrivate bool          // loopback, private and link-local addresses allowed
	Retention    time.Duration // how long the outbox holds what a webhook has not delivered
	Lease        time.Duration // a node's lease on a webhook
	Concurrency  int           // calls in flight on a node, all webhooks together; 0: 8 per GOMAXPROCS
	Yield        time.Duration // longest a call waits for the node's writes in flight; 0: never
}
