package auth

import "testing"

func TestAPIKeyMatches(t *testing.T) {
	const key = "k3y-0123456789"
	tests := []struct {
		name   string
		header string
		key    string
		want   bool
	}{
		{"match", "Bearer " + key, key, true},
		{"lower-case scheme", "bearer " + key, key, true},
		{"upper-case scheme", "BEARER " + key, key, true},
		{"extra spaces", "Bearer   " + key, key, true},
		{"surrounding whitespace", "  Bearer " + key + " ", key, true},
		{"wrong key", "Bearer nope", key, false},
		{"key prefix", "Bearer " + key[:5], key, false},
		{"key with suffix", "Bearer " + key + "x", key, false},
		{"key case differs", "Bearer K3Y-0123456789", key, false},
		{"no scheme", key, key, false},
		{"basic scheme", "Basic " + key, key, false},
		{"scheme only", "Bearer", key, false},
		{"scheme and space", "Bearer ", key, false},
		{"no space", "Bearer" + key, key, false},
		{"empty header", "", key, false},
		{"empty key", "Bearer ", "", false},
		{"empty key never matches", "Bearer x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := APIKeyMatches(tt.header, tt.key); got != tt.want {
				t.Fatalf("APIKeyMatches(%q, %q) = %v, want %v", tt.header, tt.key, got, tt.want)
			}
		})
	}
}
