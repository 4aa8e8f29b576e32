package admission

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

func TestAdmit(t *testing.T) {
	now := time.Unix(1000, 0)
	draining, open := false, int64(0)
	g := New(Config{Limits: Limits{AllowedOrigins: []string{"https://app.example"}, ConnectRate: 1, ConnectBurst: 2, MaxConnections: 3},
		Draining: func() bool { return draining }, Connections: func() int64 { return open },
		Now: func() time.Time { return now }})
	try := func(origin, addr string) (int, string) {
		r := httptest.NewRequest("GET", "http://tc.example/api/ws/socket", nil)
		r.RemoteAddr = addr
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		if g.Admit(w, r) {
			return 0, ""
		}
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		return w.Code, body.Error.Code
	}
	steps := []struct {
		name         string
		origin, addr string
		setup        func()
		status       int
		code         string
	}{
		{"allowed", "https://app.example", "10.0.0.1:5000", nil, 0, ""},
		{"origin refused (and not counted)", "https://evil.example", "10.0.0.1:5001", nil, 403, "origin_not_allowed"},
		{"second attempt of the address: the burst", "", "10.0.0.1:5002", nil, 0, ""},
		{"third: over the rate", "", "10.0.0.1:5003", nil, 429, "too_many_attempts"},
		{"another address", "", "10.0.0.2:5000", nil, 0, ""},
		{"draining", "", "10.0.0.3:5000", func() { draining = true }, 503, "draining"},
		{"full", "", "10.0.0.4:5000", func() { draining, open = false, 3 }, 503, "connection_limit"},
		{"a second later, room again", "", "10.0.0.1:5004", func() { open = 2; now = now.Add(time.Second) }, 0, ""},
	}
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		if status, code := try(s.origin, s.addr); status != s.status || code != s.code {
			t.Errorf("%s: %d %q, want %d %q", s.name, status, code, s.status, s.code)
		}
	}
	if got := ClientIP(httptest.NewRequest("GET", "/", nil)); got != "192.0.2.1" {
		t.Errorf("ClientIP = %q", got)
	}
}
