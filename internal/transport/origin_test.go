package transport

import (
	"net/http/httptest"
	"testing"
)

func TestOrigins(t *testing.T) {
	tests := []struct {
		name    string
		list    []string
		host    string
		origin  string
		allowed bool
	}{
		{"no origin: not a browser", nil, "tc.example.com", "", true},
		{"any", []string{"*"}, "tc.example.com", "https://elsewhere.example", true},
		{"listed", []string{"https://app.example.com/"}, "tc.example.com", "https://APP.example.com", true},
		{"not listed", []string{"https://app.example.com"}, "tc.example.com", "https://evil.example", false},
		{"same origin: the server's own page", nil, "tc.example.com:3000", "http://tc.example.com:3000", true},
		{"same host, other port", nil, "tc.example.com:3000", "http://tc.example.com:4000", false},
		{"null origin", nil, "tc.example.com", "null", false},
		{"junk", nil, "tc.example.com", "::", false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "http://"+tc.host+"/api/ws/socket", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := NewOrigins(tc.list).Allowed(r); got != tc.allowed {
			t.Errorf("%s: Allowed = %v, want %v", tc.name, got, tc.allowed)
		}
	}
}
