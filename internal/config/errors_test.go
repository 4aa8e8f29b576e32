package config

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestBadValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		want string // the whole message must contain this
	}{
		{"not a size", nil, []string{"TABLECAST_SEND_QUEUE", "4XB"},
			`config: TABLECAST_SEND_QUEUE (--send-queue): "4XB" is not a size`},
		{"size by flag", []string{"--send-queue=4XB"}, nil,
			`config: TABLECAST_SEND_QUEUE (--send-queue): "4XB" is not a size`},
		{"send queue too small", nil, []string{"TABLECAST_SEND_QUEUE", "1000"},
			`TABLECAST_SEND_QUEUE (--send-queue): "1000" is out of range (1KiB to`},
		{"message size too small", nil, []string{"TABLECAST_MAX_MESSAGE_SIZE", "100"},
			`TABLECAST_MAX_MESSAGE_SIZE (--max-message-size): "100" is out of range (128 to 64MiB)`},
		{"message size too large", nil, []string{"TABLECAST_MAX_MESSAGE_SIZE", "65MiB"},
			`TABLECAST_MAX_MESSAGE_SIZE (--max-message-size): "65MiB" is out of range`},
		{"body size zero", nil, []string{"TABLECAST_MAX_BODY_SIZE", "0"},
			`TABLECAST_MAX_BODY_SIZE (--max-body-size): "0" is out of range`},
		{"not a duration", nil, []string{"HEARTBEAT_INTERVAL", "30x"},
			`HEARTBEAT_INTERVAL (--heartbeat-interval): "30x" is not a duration`},
		{"zero duration", nil, []string{"TABLECAST_HISTORY_TTL", "0"},
			`TABLECAST_HISTORY_TTL (--history-ttl): "0" must be above zero`},
		{"negative duration", []string{"--event-retention", "-1h"}, nil,
			`TABLECAST_EVENT_RETENTION (--event-retention): "-1h" must be above zero`},
		{"shutdown", nil, []string{"TABLECAST_SHUTDOWN_TIMEOUT", "soon"},
			`TABLECAST_SHUTDOWN_TIMEOUT (--shutdown-timeout): "soon" is not a duration`},
		{"heartbeat not below timeout", nil, []string{"HEARTBEAT_INTERVAL", "60", "CONNECTION_TIMEOUT", "1m"},
			`HEARTBEAT_INTERVAL (--heartbeat-interval): 1m0s must be less than CONNECTION_TIMEOUT (--connection-timeout) 1m0s`},
		{"not a number", nil, []string{"TABLECAST_MAX_CONNECTIONS", "many"},
			`TABLECAST_MAX_CONNECTIONS (--max-connections): "many" is not a whole number`},
		{"negative connections", nil, []string{"TABLECAST_MAX_CONNECTIONS", "-1"},
			`TABLECAST_MAX_CONNECTIONS (--max-connections): "-1" is out of range (at least 0)`},
		{"zero subscriptions", nil, []string{"TABLECAST_MAX_SUBSCRIPTIONS", "0"},
			`TABLECAST_MAX_SUBSCRIPTIONS (--max-subscriptions): "0" is out of range (at least 1)`},
		{"negative history", nil, []string{"TABLECAST_HISTORY_SIZE", "-5"},
			`TABLECAST_HISTORY_SIZE (--history-size): "-5" is out of range (at least 0)`},
		{"zero replay limit", nil, []string{"TABLECAST_REPLAY_LIMIT", "0"},
			`TABLECAST_REPLAY_LIMIT (--replay-limit): "0" is out of range (at least 1)`},
		{"bad rate", nil, []string{"TABLECAST_RATE_LIMIT", "lots"},
			`TABLECAST_RATE_LIMIT (--rate-limit): "lots" is not a rate`},
		{"zero rate", nil, []string{"TABLECAST_RATE_LIMIT", "0/s,10"},
			`TABLECAST_RATE_LIMIT (--rate-limit): "0/s,10": the rate must be above zero`},
		{"zero burst", nil, []string{"TABLECAST_RATE_LIMIT", "10/s,0"},
			`TABLECAST_RATE_LIMIT (--rate-limit): "10/s,0": the burst must be at least 1`},
		{"port not a number", nil, []string{"SOCKET_PORT", "http"},
			`SOCKET_PORT (--port): "http" is not a port number`},
		{"port out of range", []string{"--port", "70000"}, nil,
			`SOCKET_PORT (--port): "70000" is out of range (1 to 65535)`},
		{"port zero", nil, []string{"SOCKET_PORT", "0"}, `SOCKET_PORT (--port): "0" is out of range`},
		{"listen without port", nil, []string{"TABLECAST_LISTEN", "localhost"},
			`TABLECAST_LISTEN (--listen): "localhost" is not host:port`},
		{"listen bad port", nil, []string{"TABLECAST_LISTEN", ":99999"},
			`TABLECAST_LISTEN (--listen): "99999" is out of range`},
		{"internal listen without port", nil, []string{"TABLECAST_INTERNAL_LISTEN", "localhost"},
			`TABLECAST_INTERNAL_LISTEN (--internal-listen): "localhost" is not host:port`},
		{"internal listen bad port", nil, []string{"TABLECAST_INTERNAL_LISTEN", "127.0.0.1:0"},
			`TABLECAST_INTERNAL_LISTEN (--internal-listen): "0" is out of range`},
		{"database scheme", nil, []string{"TABLECAST_DATABASE_URL", "mysql://db/x"},
			`TABLECAST_DATABASE_URL (--database-url): scheme "mysql" is not one of sqlite://, postgres://, postgresql://`},
		{"database not a url", nil, []string{"TABLECAST_DATABASE_URL", "./tablecast.db"},
			`TABLECAST_DATABASE_URL (--database-url): not a URL`},
		{"database empty path", nil, []string{"TABLECAST_DATABASE_URL", "sqlite://"},
			`TABLECAST_DATABASE_URL (--database-url): sqlite:// URL is empty`},
		{"redis scheme", nil, []string{"TABLECAST_REDIS_URL", "http://r:6379"},
			`TABLECAST_REDIS_URL (--redis-url): scheme "http" is not one of redis://, rediss://`},
		{"redis unparsable", nil, []string{"TABLECAST_REDIS_URL", "redis://h:port/0"},
			`TABLECAST_REDIS_URL (--redis-url): not a valid redis:// URL`},
		{"origin without scheme", nil, []string{"TABLECAST_ALLOWED_ORIGINS", "https://ok.example,example.com"},
			`TABLECAST_ALLOWED_ORIGINS (--allowed-origins): "example.com" is not an origin`},
		{"origin with path", nil, []string{"TABLECAST_ALLOWED_ORIGINS", "https://example.com/"},
			`TABLECAST_ALLOWED_ORIGINS (--allowed-origins): "https://example.com/" is not an origin`},
		{"bad bool", nil, []string{"TABLECAST_DEV", "maybe"},
			`TABLECAST_DEV (--dev): "maybe" is not a boolean`},
		{"bad level", nil, []string{"TABLECAST_LOG_LEVEL", "loud"},
			`TABLECAST_LOG_LEVEL (--log-level): "loud" is not debug, info, warn or error`},
		{"leeway negative", nil, []string{"TABLECAST_JWT_LEEWAY", "-1s"},
			`TABLECAST_JWT_LEEWAY (--jwt-leeway): "-1s" is out of range (0 to 10m0s)`},
		{"leeway too long", []string{"--jwt-leeway", "1h"}, nil,
			`TABLECAST_JWT_LEEWAY (--jwt-leeway): "1h" is out of range (0 to 10m0s)`},
		{"leeway not a duration", nil, []string{"TABLECAST_JWT_LEEWAY", "soon"},
			`TABLECAST_JWT_LEEWAY (--jwt-leeway): "soon" is not a duration`},
		{"jwks scheme", nil, []string{"TABLECAST_JWT_JWKS_URL", "ftp://idp/jwks"},
			`TABLECAST_JWT_JWKS_URL (--jwt-jwks-url): scheme "ftp" is not one of https://, http://`},
		{"jwks with public key", []string{"--jwt-public-key", "/k.pem"}, []string{"TABLECAST_JWT_JWKS_URL", "https://idp/jwks"},
			`TABLECAST_JWT_JWKS_URL (--jwt-jwks-url): set either it or TABLECAST_JWT_PUBLIC_KEY (--jwt-public-key), not both`},
		{"bad format", []string{"--log-format", "xml"}, nil,
			`TABLECAST_LOG_FORMAT (--log-format): "xml" is not text or json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"TABLECAST_JWT_SECRET", testSecret}, tt.env...)
			c, err := Load(tt.args, envOf(env...))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
			var se *SettingError
			if !errors.As(err, &se) || se.Env == "" || se.Flag == "" {
				t.Errorf("error %v is not a *SettingError with names", err)
			}
			if !reflectZero(c) {
				t.Errorf("Load returned a half-made config: %+v", c)
			}
		})
	}
}

func reflectZero(c Config) bool { return c.Listen == "" && c.NodeID == "" && c.DatabaseURL == "" }

func TestAllErrorsTogether(t *testing.T) {
	_, err := Load([]string{"--max-subscriptions", "0"}, envOf(
		"TABLECAST_SEND_QUEUE", "4XB",
		"HEARTBEAT_INTERVAL", "fast",
		"TABLECAST_LOG_LEVEL", "chatty",
	))
	if err == nil {
		t.Fatal("no error")
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not joined", err)
	}
	if n := len(joined.Unwrap()); n != 5 {
		t.Errorf("got %d errors, want 5 (4 settings and no JWT key):\n%v", n, err)
	}
	for _, name := range []string{"TABLECAST_SEND_QUEUE", "HEARTBEAT_INTERVAL", "TABLECAST_LOG_LEVEL",
		"--max-subscriptions", "TABLECAST_JWT_SECRET"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	if !errors.Is(err, ErrNoJWTKey) {
		t.Error("errors.Is(err, ErrNoJWTKey) = false")
	}
}

func TestNoJWTKey(t *testing.T) {
	_, err := Load(nil, envOf())
	if !errors.Is(err, ErrNoJWTKey) {
		t.Fatalf("err = %v, want ErrNoJWTKey", err)
	}
	for _, s := range []string{"TABLECAST_JWT_SECRET", "TABLECAST_JWT_PUBLIC_KEY", "TABLECAST_JWT_JWKS_URL", "--dev"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q does not mention %s", err, s)
		}
	}
	for _, ok := range []struct {
		args []string
		env  func(string) string
	}{
		{nil, envOf("TABLECAST_JWT_SECRET", "x")},
		{nil, envOf("TABLECAST_JWT_PUBLIC_KEY", "/k.pem")},
		{nil, envOf("TABLECAST_JWT_JWKS_URL", "https://idp.example/jwks")},
		{[]string{"--jwt-secret", "x"}, envOf()},
		{[]string{"--dev"}, envOf()},
		{nil, envOf("TABLECAST_DEV", "1")},
	} {
		if _, err := Load(ok.args, ok.env); err != nil {
			t.Errorf("Load(%q): %v", ok.args, err)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	env := envOf("TABLECAST_JWT_SECRET", testSecret)
	if _, err := Load([]string{"--no-such-flag"}, env); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("unknown flag: %v", err)
	}
	if _, err := Load([]string{"--help"}, env); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
	if _, err := Load([]string{"extra"}, env); err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("positional argument: %v", err)
	}
	if _, err := Load(nil, nil); !errors.Is(err, ErrNoJWTKey) {
		t.Errorf("nil getenv: %v", err)
	}
}

func TestFlagSetHelp(t *testing.T) {
	fs := FlagSet("serve")
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	fs.PrintDefaults()
	help := buf.String()
	for _, s := range settings(new(Config), new(int)) {
		if !strings.Contains(help, "-"+s.flag) || !strings.Contains(help, "$"+s.env) {
			t.Errorf("help lacks -%s or $%s", s.flag, s.env)
		}
	}
	for _, s := range []string{`-send-queue size`, `(default 4MiB)`, `-heartbeat-interval duration`, `-jwt-leeway duration`, `(default 5s)`, `-jwt-jwks-url url`} {
		if !strings.Contains(help, s) {
			t.Errorf("help lacks %q:\n%s", s, help)
		}
	}
}

func TestApplyDevDefaults(t *testing.T) {
	rnd := func() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{0xab}, 64)) }
	hex64 := strings.Repeat("ab", 32)

	c := mustLoad(t, []string{"--dev"}, envOf())
	gen, err := c.ApplyDevDefaults(rnd())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(gen, ",") != "TABLECAST_JWT_SECRET,TABLECAST_API_KEY" {
		t.Errorf("generated = %q", gen)
	}
	if c.JWTSecret != hex64 || c.APIKey != hex64 {
		t.Errorf("secret %q, key %q; want 64 hex digits", c.JWTSecret, c.APIKey)
	}
	if len(c.AllowedOrigins) != 1 || c.AllowedOrigins[0] != "*" {
		t.Errorf("AllowedOrigins = %q", c.AllowedOrigins)
	}

	c = mustLoad(t, []string{"--dev", "--jwt-secret", "mine", "--allowed-origins", "http://localhost:3000"}, envOf())
	gen, err = c.ApplyDevDefaults(nil) // crypto/rand
	if err != nil {
		t.Fatal(err)
	}
	if len(gen) != 1 || gen[0] != "TABLECAST_API_KEY" || c.JWTSecret != "mine" || len(c.APIKey) != 64 ||
		c.AllowedOrigins[0] != "http://localhost:3000" {
		t.Errorf("kept settings changed: gen %q, %+v", gen, c)
	}

	c = mustLoad(t, nil, envOf("TABLECAST_JWT_SECRET", "x"))
	if gen, err := c.ApplyDevDefaults(rnd()); err != nil || gen != nil || c.APIKey != "" || c.AllowedOrigins != nil {
		t.Errorf("outside dev mode: gen %q, err %v, %+v", gen, err, c)
	}

	c = mustLoad(t, []string{"--dev"}, envOf())
	short := iotest.ErrReader(errors.New("no entropy"))
	if _, err := c.ApplyDevDefaults(short); err == nil || c.JWTSecret != "" || c.APIKey != "" {
		t.Errorf("failing reader: err %v, %+v", err, c)
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	const key, dbPass, redisPass = "api-key-value-42", "dbpass-77", "redispass-99"
	c := mustLoad(t, []string{"--api-key", key}, envOf(
		"TABLECAST_JWT_SECRET", testSecret,
		"TABLECAST_DATABASE_URL", "postgres://tc:"+dbPass+"@db/tc",
		"TABLECAST_REDIS_URL", "redis://:"+redisPass+"@r:6379/0",
	))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", c)
	red := c.Redacted()
	for _, out := range []string{buf.String(), fmtAny(red)} {
		for _, secret := range []string{testSecret, key, dbPass, redisPass} {
			if strings.Contains(out, secret) {
				t.Errorf("output contains %q:\n%s", secret, out)
			}
		}
	}
	if red["jwt-secret"] != "set" || red["api-key"] != "set" || red["jwt-public-key"] != "" {
		t.Errorf("secrets shown as %v, %v", red["jwt-secret"], red["api-key"])
	}
	if !strings.Contains(buf.String(), `"send-queue":4194304`) || !strings.Contains(buf.String(), "db/tc") {
		t.Errorf("log lacks settings:\n%s", buf.String())
	}
	if len(red) != len(settings(new(Config), new(int)))-1 { // port folds into listen
		t.Errorf("Redacted has %d settings", len(red))
	}
	empty := Config{}.Redacted()
	if empty["jwt-secret"] != "unset" || empty["api-key"] != "unset" {
		t.Errorf("empty secrets shown as %v, %v", empty["jwt-secret"], empty["api-key"])
	}
}

func TestURLErrorsHidePasswords(t *testing.T) {
	_, err := Load(nil, envOf("TABLECAST_JWT_SECRET", "x",
		"TABLECAST_DATABASE_URL", "mysql://u:hunter2@db/x",
		"TABLECAST_REDIS_URL", "redis://:hunter3@h:bad/0"))
	if err == nil || strings.Contains(err.Error(), "hunter") {
		t.Errorf("error leaks a password or is nil: %v", err)
	}
}

func TestReadJWTPublicKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(path, []byte("PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Config{JWTPublicKeyFile: path}
	if b, err := c.ReadJWTPublicKey(); err != nil || string(b) != "PEM" {
		t.Errorf("got %q, %v", b, err)
	}
	c.JWTPublicKeyFile = filepath.Join(dir, "missing.pem")
	_, err := c.ReadJWTPublicKey()
	if err == nil || !strings.Contains(err.Error(), "TABLECAST_JWT_PUBLIC_KEY (--jwt-public-key)") ||
		!errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if b, err := (&Config{}).ReadJWTPublicKey(); b != nil || err != nil {
		t.Errorf("unset: %q, %v", b, err)
	}
}
