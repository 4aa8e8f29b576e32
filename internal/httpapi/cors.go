package httpapi

import (
	"net/http"
	"strconv"
	"strings"
)

// OriginPolicy says whether a browser request's Origin may use the API
// (transport.Origins: TABLECAST_ALLOWED_ORIGINS, the same list the sockets
// check, "*" for any, and always the server's own origin).
type OriginPolicy interface {
	Allowed(r *http.Request) bool
}

// The methods and request headers a page on another origin may use: those
// of the REST and admin APIs, and the headers the clients send (the bearer
// token, JSON bodies, and the Baserow front end's socket id in either
// spelling, which keeps a write's own socket from receiving its event).
const (
	corsMethods = "GET, POST, PATCH, DELETE, OPTIONS"
	corsHeaders = "Authorization, Content-Type, WebSocketId, X-WebSocket-Id"
	corsMaxAge  = 10 * 60 // seconds a browser may cache a preflight's answer
)

// CORS lets pages on the allowed origins call the API under /api/ from a
// browser. A request with an allowed Origin gets
// Access-Control-Allow-Origin naming that origin (never "*": the answer
// varies with Origin, and says so). A preflight (OPTIONS with
// Access-Control-Request-Method) under /api/ is answered here: 204 with the
// methods and headers above for an allowed origin, 403 otherwise. Nothing
// allows credentials: the API's tokens travel in the Authorization header,
// never in cookies. Paths outside /api/ (the pages, /metrics, the health
// checks) pass through untouched.
func CORS(policy OriginPolicy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed := policy.Allowed(r)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if !allowed {
				writeError(w, nil, &apiError{status: http.StatusForbidden, code: "origin_not_allowed",
					message: "this origin is not in TABLECAST_ALLOWED_ORIGINS"})
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		next.ServeHTTP(w, r)
	})
}
