package config

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testSecret = "s3cr3t-for-tests-only"

// envOf returns a getenv over pairs of name, value.
func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func mustLoad(t *testing.T, args []string, getenv func(string) string) Config {
	t.Helper()
	c, err := Load(args, getenv)
	if err != nil {
		t.Fatalf("Load(%q): %v", args, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, nil, envOf("TABLECAST_JWT_SECRET", testSecret))
	host, _ := os.Hostname()
	if !strings.HasPrefix(c.NodeID, host+"-") || !strings.HasSuffix(c.NodeID, fmt.Sprint(os.Getpid())) {
		t.Errorf("NodeID = %q, want hostname-pid", c.NodeID)
	}
	c.NodeID = ""
	want := Config{
		Listen:            ":3000",
		HeartbeatInterval: 30 * time.Second,
		ConnectionTimeout: 60 * time.Second,
		MaxMessageSize:    65536,
		MaxSubscriptions:  256,
		RateLimit:         RateLimit{PerSecond: 100, Burst: 200},
		SendQueue:         4 << 20,
		JWTSecret:         testSecret,
		JWTLeeway:         5 * time.Second,
		DatabaseURL:       "sqlite://./tablecast.db",
		RedisPrefix:       "tablecast:",
		HistorySize:       100,
		HistoryTTL:        5 * time.Minute,
		EventRetention:    24 * time.Hour,
		LogLevel:          slog.LevelInfo,
		LogFormat:         "text",
		ShutdownTimeout:   10 * time.Second,
		MaxBodySize:       1 << 20,
		ReplayLimit:       1000,
		GCHeadroom:        32 << 20,
		ConnectRate:       RateLimit{PerSecond: 50, Burst: 500},
		Webhooks: Webhooks{Timeout: 10 * time.Second, MaxAttempts: 8, RetryBase: time.Second, MaxAge: 24 * time.Hour,
			Retention: 7 * 24 * time.Hour, Lease: 10 * time.Second, Yield: 100 * time.Millisecond},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestEnvAndFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   []string
		check func(Config) any // returns the field under test
		want  any
	}{
		{"port from env", nil, []string{"SOCKET_PORT", "4000"}, listen, ":4000"},
		{"listen env wins over port env", nil,
			[]string{"SOCKET_PORT", "4000", "TABLECAST_LISTEN", "127.0.0.1:5000"}, listen, "127.0.0.1:5000"},
		{"port flag wins over listen env", []string{"--port", "6000"},
			[]string{"TABLECAST_LISTEN", "127.0.0.1:5000"}, listen, ":6000"},
		{"listen flag wins over port flag", []string{"--port=6000", "--listen=[::1]:7000"}, nil, listen, "[::1]:7000"},
		{"flag wins over env", []string{"--heartbeat-interval", "20s"},
			[]string{"HEARTBEAT_INTERVAL", "10"}, func(c Config) any { return c.HeartbeatInterval }, 20 * time.Second},
		{"env without flag", nil, []string{"TABLECAST_MAX_CONNECTIONS", "5000"},
			func(c Config) any { return c.MaxConnections }, 5000},
		{"single dash flag", []string{"-max-subscriptions", "8"}, nil,
			func(c Config) any { return c.MaxSubscriptions }, 8},
		{"dev flag", []string{"--dev"}, nil, func(c Config) any { return c.Dev }, true},
		{"dev env 1", nil, []string{"TABLECAST_DEV", "1"}, func(c Config) any { return c.Dev }, true},
		{"dev env true", nil, []string{"TABLECAST_DEV", "true"}, func(c Config) any { return c.Dev }, true},
		{"dev flag false beats env", []string{"--dev=false", "--jwt-secret", "x"},
			[]string{"TABLECAST_DEV", "1"}, func(c Config) any { return c.Dev }, false},
		{"origins", []string{"--allowed-origins", " https://A.example.com, http://localhost:5173 ,"}, nil,
			func(c Config) any { return c.AllowedOrigins },
			[]string{"https://a.example.com", "http://localhost:5173"}},
		{"any origin", nil, []string{"TABLECAST_ALLOWED_ORIGINS", "*"},
			func(c Config) any { return c.AllowedOrigins }, []string{"*"}},
		{"postgres", nil, []string{"TABLECAST_DATABASE_URL", "postgres://u:p@db:5432/tc"},
			func(c Config) any { return c.DatabaseURL }, "postgres://u:p@db:5432/tc"},
		{"postgresql", []string{"--database-url", "postgresql://db/tc"}, nil,
			func(c Config) any { return c.DatabaseURL }, "postgresql://db/tc"},
		{"redis", nil, []string{"TABLECAST_REDIS_URL", "rediss://r:6380/0"},
			func(c Config) any { return c.RedisURL }, "rediss://r:6380/0"},
		{"node id", []string{"--node-id", "n1"}, nil, func(c Config) any { return c.NodeID }, "n1"},
		{"log level", nil, []string{"TABLECAST_LOG_LEVEL", "WARN"},
			func(c Config) any { return c.LogLevel }, slog.LevelWarn},
		{"log level debug", []string{"--log-level=debug"}, nil,
			func(c Config) any { return c.LogLevel }, slog.LevelDebug},
		{"log level error", nil, []string{"TABLECAST_LOG_LEVEL", "error"},
			func(c Config) any { return c.LogLevel }, slog.LevelError},
		{"log format", []string{"--log-format", "json"}, nil, func(c Config) any { return c.LogFormat }, "json"},
		{"history size zero", nil, []string{"TABLECAST_HISTORY_SIZE", "0"},
			func(c Config) any { return c.HistorySize }, 0},
		{"message size with unit", []string{"--max-message-size", "1MiB"}, nil,
			func(c Config) any { return c.MaxMessageSize }, 1 << 20},
		{"body size", nil, []string{"TABLECAST_MAX_BODY_SIZE", "10MB"},
			func(c Config) any { return c.MaxBodySize }, int64(10e6)},
		{"replay limit", []string{"--replay-limit", "50"}, nil, func(c Config) any { return c.ReplayLimit }, 50},
		{"gc headroom off", nil, []string{"TABLECAST_GC_HEADROOM", "0"}, func(c Config) any { return c.GCHeadroom }, int64(0)},
		{"connect rate off", nil, []string{"TABLECAST_CONNECT_RATE", "off"}, func(c Config) any { return c.ConnectRate }, RateLimit{}},
		{"connect rate", []string{"--connect-rate", "10/s,20"}, nil, func(c Config) any { return c.ConnectRate }, RateLimit{PerSecond: 10, Burst: 20}},
		{"public key alone", []string{"--jwt-public-key", "/etc/tc/key.pem"}, nil,
			func(c Config) any { return c.JWTPublicKeyFile }, "/etc/tc/key.pem"},
		{"leeway by env", nil, []string{"TABLECAST_JWT_LEEWAY", "30s"},
			func(c Config) any { return c.JWTLeeway }, 30 * time.Second},
		{"leeway in seconds by flag", []string{"--jwt-leeway", "2"}, nil,
			func(c Config) any { return c.JWTLeeway }, 2 * time.Second},
		{"leeway zero", []string{"--jwt-leeway=0"}, nil,
			func(c Config) any { return c.JWTLeeway }, time.Duration(0)},
		{"jwks url", nil, []string{"TABLECAST_JWT_JWKS_URL", "https://idp.example/.well-known/jwks.json"},
			func(c Config) any { return c.JWTJWKSURL }, "https://idp.example/.well-known/jwks.json"},
		{"issuer audience api key", []string{"--jwt-issuer=iss", "--jwt-audience=aud", "--api-key=k"}, nil,
			func(c Config) any { return c.JWTIssuer + "/" + c.JWTAudience + "/" + c.APIKey }, "iss/aud/k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{}, tt.env...)
			if !strings.Contains(tt.name, "public key") && !strings.Contains(tt.name, "dev") {
				env = append(env, "TABLECAST_JWT_SECRET", testSecret)
			}
			c := mustLoad(t, tt.args, envOf(env...))
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func listen(c Config) any { return c.Listen }

func TestDurationForms(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, " 45 ": 45 * time.Second, "30s": 30 * time.Second,
		"1m": time.Minute, "1m30s": 90 * time.Second, "1500ms": 1500 * time.Millisecond, "2h": 2 * time.Hour,
	} {
		for _, name := range []string{"HEARTBEAT_INTERVAL", "TABLECAST_HISTORY_TTL", "TABLECAST_SHUTDOWN_TIMEOUT"} {
			env := envOf(name, in, "CONNECTION_TIMEOUT", "3h", "TABLECAST_JWT_SECRET", testSecret)
			c, err := Load(nil, env)
			if err != nil {
				t.Errorf("%s=%q: %v", name, in, err)
				continue
			}
			got := map[string]time.Duration{"HEARTBEAT_INTERVAL": c.HeartbeatInterval,
				"TABLECAST_HISTORY_TTL": c.HistoryTTL, "TABLECAST_SHUTDOWN_TIMEOUT": c.ShutdownTimeout}[name]
			if got != want {
				t.Errorf("%s=%q: got %v, want %v", name, in, got, want)
			}
		}
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"65536", 65536, true}, {"4MiB", 4 << 20, true}, {"512KiB", 512 << 10, true},
		{"1MB", 1e6, true}, {"2kb", 2000, true}, {"1GiB", 1 << 30, true}, {"100 B", 100, true},
		{" 8 MiB ", 8 << 20, true},
		{"4XB", 0, false}, {"", 0, false}, {"MiB", 0, false}, {"-1", 0, false}, {"1.5MiB", 0, false},
		{"99999999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	c := mustLoad(t, []string{"--send-queue", "512KiB"}, envOf("TABLECAST_JWT_SECRET", testSecret))
	if c.SendQueue != 512<<10 {
		t.Errorf("SendQueue = %d", c.SendQueue)
	}
}

func TestRateForms(t *testing.T) {
	tests := []struct {
		in   string
		want RateLimit
		ok   bool
	}{
		{"100/s,200", RateLimit{100, 200}, true},
		{"100/s", RateLimit{100, 200}, true},
		{" 10 / s , 3 ", RateLimit{10, 3}, true},
		{"50", RateLimit{50, 100}, true},
		{"600/m", RateLimit{10, 20}, true},
		{"600/m,5", RateLimit{10, 5}, true},
		{"1/m", RateLimit{1.0 / 60, 1}, true},
		{"0.5/s", RateLimit{0.5, 1}, true},
		{"100/h", RateLimit{}, false}, {"fast", RateLimit{}, false}, {"0/s", RateLimit{}, false},
		{"-1/s", RateLimit{}, false}, {"100/s,0", RateLimit{}, false}, {"100/s,", RateLimit{}, false},
		{"NaN/s", RateLimit{}, false}, {"Inf/s", RateLimit{}, false}, {"", RateLimit{}, false},
	}
	for _, tt := range tests {
		got, err := parseRate(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseRate(%q) = %+v, %v; want %+v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if s := (RateLimit{100, 200}).String(); s != "100/s,200" {
		t.Errorf("String() = %q", s)
	}
}

func fmtAny(v any) string { return fmt.Sprint(v) }

// TestConfigurationDocListsEverySetting: docs/configuration.md has a row
// for every setting, naming its variable, its flag and its default, and no
// row for a setting that does not exist.
func TestConfigurationDocListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| `") && strings.Contains(line, "| `--") {
			env := strings.Split(line, "`")[1]
			rows[env] = line
		}
	}
	known := map[string]bool{}
	for _, s := range Settings() {
		known[s.Env] = true
		row, ok := rows[s.Env]
		if !ok {
			t.Errorf("docs/configuration.md has no row for %s", s.Env)
			continue
		}
		cells := strings.Split(row, "|")
		if len(cells) < 5 || strings.TrimSpace(cells[2]) != "`--"+s.Flag+"`" {
			t.Errorf("%s: the row does not name --%s: %s", s.Env, s.Flag, row)
			continue
		}
		if s.Default != "" && !strings.Contains(cells[3], "`"+s.Default+"`") {
			t.Errorf("%s: the row's default is %q, want `%s`", s.Env, strings.TrimSpace(cells[3]), s.Default)
		}
	}
	for env := range rows {
		if !known[env] {
			t.Errorf("docs/configuration.md lists %s, which is no setting", env)
		}
	}
}
