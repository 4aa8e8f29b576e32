package httpapi

import (
	"net/http"

	"github.com/tablecast/tablecast/docs"
)

// RegisterOpenAPI serves the OpenAPI document of the HTTP API
// (docs/openapi.json, embedded) at GET /api/openapi.json.
func RegisterOpenAPI(mux Mux) {
	mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(docs.OpenAPI)
	})
}
