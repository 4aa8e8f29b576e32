package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestRedactedTarget(t *testing.T) {
	for in, want := range map[string]string{
		"/api/ws/socket":                           "/api/ws/socket",
		"/api/ws/socket?token=abc.def.ghi":         "/api/ws/socket?token=REDACTED",
		"/ws/core/?jwt_token=abc&x=1":              "/ws/core/?jwt_token=REDACTED&x=1",
		"/sharedb?TOKEN=abc&access_token=x&jwt=y":  "/sharedb?TOKEN=REDACTED&access_token=REDACTED&jwt=REDACTED",
		"/api/tables/1/rows?filter=%7B%7D&key=sec": "/api/tables/1/rows?filter=%7B%7D&key=REDACTED",
		"/x?token=%zz":                             "/x?(unparsable query)",
	} {
		u, _ := url.Parse(in)
		if got := RedactedTarget(u); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

func TestLogRequestsNeverLogsTokens(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := LogRequests(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("hello"))
	}))
	r := httptest.NewRequest("POST", "/api/tables/1/rows?token=SECRET-Q", nil)
	r.Header.Set("Authorization", "Bearer SECRET-H")
	h.ServeHTTP(httptest.NewRecorder(), r)
	out := buf.String()
	if strings.Contains(out, "SECRET") {
		t.Fatalf("a token was logged: %s", out)
	}
	for _, want := range []string{"http request", "method=POST", "path=\"/api/tables/1/rows?token=REDACTED\"", "status=201", "bytes=5"} {
		if !strings.Contains(out, want) {
			t.Fatalf("%q missing from %s", want, out)
		}
	}
	buf.Reset()
	quiet := LogRequests(slog.New(slog.NewTextHandler(&buf, nil)), http.NotFoundHandler())
	quiet.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if buf.Len() != 0 {
		t.Fatalf("logged at info: %s", buf.String())
	}
}
