package auth

import "testing"

func TestAllowsChannel(t *testing.T) {
	tests := []struct {
		name       string
		channels   []string
		collection string
		want       bool
	}{
		{"nil allows nothing", nil, "news", false},
		{"empty allows nothing", []string{}, "news", false},
		{"exact", []string{"news"}, "news", true},
		{"exact is not prefix", []string{"news"}, "news_eu", false},
		{"exact is case-sensitive", []string{"news"}, "News", false},
		{"second entry", []string{"a", "news"}, "news", true},
		{"prefix star", []string{"team_*"}, "team_42", true},
		{"prefix star matches the bare prefix", []string{"team_*"}, "team_", true},
		{"prefix star other name", []string{"team_*"}, "teams", false},
		{"star alone", []string{"*"}, "anything:at-all", true},
		{"inner star is literal", []string{"a*b"}, "axb", false},
		{"inner star exact", []string{"a*b"}, "a*b", true},
		{"empty entry", []string{""}, "news", false},
		{"empty collection", []string{"*"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Claims{Subject: "u1", Channels: tt.channels}
			if got := c.AllowsChannel(tt.collection); got != tt.want {
				t.Fatalf("AllowsChannel(%q) with %q = %v, want %v", tt.collection, tt.channels, got, tt.want)
			}
		})
	}
	var nilClaims *Claims
	if nilClaims.AllowsChannel("news") {
		t.Fatal("nil *Claims allowed a channel")
	}
}
