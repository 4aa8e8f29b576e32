package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
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
