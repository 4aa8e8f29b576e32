package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
	tcbench "github.com/tablecast/tablecast/internal/bench"
)

func TestRun(t *testing.T) {
	t.Setenv("TABLECAST_JWT_SECRET", "")
	for _, tt := range []struct {
		name        string
		args        []string
		code        int
		out, errOut string
	}{
		{"no command", nil, 2, "", "usage:"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, 0, "tablecast serve", ""},
		{"version", []string{"version"}, 0, "tablecast dev", ""},
		{"token without sub", []string{"token", "--secret", "s"}, 1, "", "--sub is required"},
		{"token without secret", []string{"token", "--sub", "alice"}, 1, "", "no secret"},
		{"serve refuses a bad setting", []string{"serve", "--port", "99999", "--jwt-secret", "s"}, 1, "", "SOCKET_PORT (--port)"},
		{"serve refuses to start without a key", []string{"serve"}, 1, "", "TABLECAST_JWT_SECRET"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errOut.String(), tt.errOut) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out.String(), errOut.String(), tt.code, tt.out, tt.errOut)
			}
		})
	}
}

func TestTokenIsVerifiable(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"token", "--sub", "alice", "--name", "Alice", "--channels", "news*, chat", "--ttl", "1h", "--secret", "s3"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte("s3")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || c.Name != "Alice" || !c.AllowsChannel("news-eu") || !c.AllowsChannel("chat") || c.AllowsChannel("other") {
		t.Fatalf("claims %+v", c)
	}
	if d := time.Until(c.ExpiresAt); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expires in %v, want an hour", d)
	}
}

func TestMigrate(t *testing.T) {
	t.Setenv("TABLECAST_JWT_SECRET", "")
	db := "sqlite://" + t.TempDir() + "/tc.db"
	for i := 0; i < 2; i++ { // the second run finds nothing to do
		var out, errOut bytes.Buffer
		if code := run([]string{"migrate", "--database-url", db}, &out, &errOut); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut.String())
		}
		if !strings.Contains(out.String(), "is up to date") {
			t.Fatalf("run %d: %q", i, out.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"migrate", "--database-url", "mysql://x"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "TABLECAST_DATABASE_URL") {
		t.Fatalf("bad url: exit %d, %q", code, errOut.String())
	}
}

// commands are every command of the usage text; TestHelpOfEveryCommand runs
// each one's --help.
var commands = []string{"serve", "token", "bench", "migrate", "healthcheck", "version"}

func TestHelpOfEveryCommand(t *testing.T) {
	t.Setenv("TABLECAST_JWT_SECRET", "")
	for _, cmd := range commands {
		if !strings.Contains(usage, "tablecast "+cmd) {
			t.Errorf("the usage text does not list %q", cmd)
		}
		for _, flag := range []string{"--help", "-h"} {
			t.Run(cmd+flag, func(t *testing.T) {
				var out, errOut bytes.Buffer
				code := run([]string{cmd, flag}, &out, &errOut)
				if code != 0 {
					t.Fatalf("exit %d, stderr %q", code, errOut.String())
				}
				if first, _, _ := strings.Cut(out.String(), "\n"); !strings.HasPrefix(first, "usage: tablecast "+cmd) {
					t.Fatalf("first line %q, want a usage line; stdout %q", first, out.String())
				}
			})
		}
	}
	for _, cmd := range []string{"--help", "-h", "help"} {
		var out, errOut bytes.Buffer
		if code := run([]string{cmd}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "usage:") {
			t.Fatalf("tablecast %s: exit %d, %q", cmd, code, out.String())
		}
	}
}

func TestUsageListsEveryBenchScenario(t *testing.T) {
	for _, s := range tcbench.Scenarios {
		if !strings.Contains(usage, s) {
			t.Errorf("tablecast --help does not list the bench scenario %q", s)
		}
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	old := version
	defer func() { version = old }()
	version = ""
	for _, tt := range []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{nil, false, "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true, "v1.2.3"},
	} {
		if got := moduleVersion(tt.info, tt.ok); got != tt.want {
			t.Errorf("moduleVersion(%+v) = %q, want %q", tt.info, got, tt.want)
		}
	}
	version = "v9.9.9" // -ldflags wins
	if got := moduleVersion(&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true); got != "v9.9.9" {
		t.Errorf("with -ldflags: %q", got)
	}
}

func TestHealthcheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "draining", http.StatusServiceUnavailable)
		}
	}))
	defer ok.Close()
	var out, errOut bytes.Buffer
	if code := run([]string{"healthcheck", "--url", ok.URL + "/healthz"}, &out, &errOut); code != 0 {
		t.Fatalf("healthy: exit %d, %s", code, errOut.String())
	}
	if code := run([]string{"healthcheck", "--url", ok.URL + "/readyz"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "503") {
		t.Fatalf("unhealthy: exit %d, %s", code, errOut.String())
	}
}
