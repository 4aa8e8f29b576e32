package transport

import (
	"net/http"
	"net/url"
	"strings"
)

// Origins decides which browser origins may open sockets.
type Origins struct {
	any     bool
	allowed map[string]bool
}

// NewOrigins allows the listed origins ("https://app.example.com"); "*"
// allows any.
func NewOrigins(list []string) Origins {
	o := Origins{allowed: make(map[string]bool, len(list))}
	for _, s := range list {
		if s == "*" {
			o.any = true
		}
		o.allowed[normalOrigin(s)] = true
	}
	return o
}

func normalOrigin(s string) string { return strings.ToLower(strings.TrimRight(s, "/")) }

// Allowed reports whether r may open a socket: a request without Origin
// (not from a browser), any origin with "*", a listed one, or the
// server's own: a page this server served (the web app), whose Origin
// names the host the request was sent to.
func (o Origins) Allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || o.any || o.allowed[normalOrigin(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}
