package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tablecast/tablecast/internal/transport"
)

func TestCORS(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot) // the route ran
	})
	listed := CORS(transport.NewOrigins([]string{"https://app.example.com"}), next)
	anyOrigin := CORS(transport.NewOrigins([]string{"*"}), next)
	none := CORS(transport.NewOrigins(nil), next)
	for _, tt := range []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		headers map[string]string
		status  int
		allow   string // Access-Control-Allow-Origin
		methods string // Access-Control-Allow-Methods
	}{
		{name: "no origin: not a browser", h: listed, method: "GET", path: "/api/workspaces", status: 418},
		{name: "listed origin", h: listed, method: "POST", path: "/api/tables/1/rows",
			headers: map[string]string{"Origin": "https://app.example.com"}, status: 418, allow: "https://app.example.com"},
		{name: "listed origin, another case", h: listed, method: "GET", path: "/api/ws/stats",
			headers: map[string]string{"Origin": "https://APP.example.com"}, status: 418, allow: "https://APP.example.com"},
		{name: "unlisted origin: the route runs, the browser may not read", h: listed, method: "GET", path: "/api/workspaces",
			headers: map[string]string{"Origin": "https://evil.example"}, status: 418},
		{name: "the server's own origin", h: none, method: "GET", path: "/api/workspaces",
			headers: map[string]string{"Origin": "http://example.com"}, status: 418, allow: "http://example.com"},
		{name: "preflight, listed", h: listed, method: "OPTIONS", path: "/api/tables/1/rows/2",
			headers: map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PATCH",
				"Access-Control-Request-Headers": "authorization,content-type,websocketid"},
			status: 204, allow: "https://app.example.com", methods: corsMethods},
		{name: "preflight, any origin (dev)", h: anyOrigin, method: "OPTIONS", path: "/api/ws/broadcast/channel",
			headers: map[string]string{"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
			status:  204, allow: "http://localhost:5173", methods: corsMethods},
		{name: "preflight, unlisted", h: listed, method: "OPTIONS", path: "/api/workspaces",
			headers: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, status: 403},
		{name: "OPTIONS that is no preflight goes to the routes", h: listed, method: "OPTIONS", path: "/api/workspaces",
			headers: map[string]string{"Origin": "https://app.example.com"}, status: 418, allow: "https://app.example.com"},
		{name: "outside /api/: untouched", h: anyOrigin, method: "GET", path: "/metrics",
			headers: map[string]string{"Origin": "https://app.example.com"}, status: 418},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://example.com"+tt.path, nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, r)
			h := rec.Header()
			if rec.Code != tt.status || h.Get("Access-Control-Allow-Origin") != tt.allow || h.Get("Access-Control-Allow-Methods") != tt.methods {
				t.Fatalf("status %d, allow-origin %q, allow-methods %q; want %d, %q, %q",
					rec.Code, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Methods"), tt.status, tt.allow, tt.methods)
			}
			if tt.methods != "" && h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, WebSocketId, X-WebSocket-Id" {
				t.Fatalf("allow-headers %q", h.Get("Access-Control-Allow-Headers"))
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatal("credentials are never allowed")
			}
			if tt.headers["Origin"] != "" && tt.path != "/metrics" && h.Get("Vary") == "" {
				t.Fatal("no Vary: Origin")
			}
		})
	}
}
