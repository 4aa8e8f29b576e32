package httpapi

import (
	"context"
	"net/http"
	"sort"
	"time"
)

// Check reports whether a dependency (the store, the broker) is reachable.
type Check func(ctx context.Context) error

// Ops serves /healthz, /readyz and /metrics.
type Ops struct {
	Checks   map[string]Check
	Draining func() bool
	Metrics  http.Handler
}

// Register mounts the operations routes on mux.
func (o *Ops) Register(mux Mux) {
	o.RegisterHealth(mux)
	o.RegisterInternal(mux)
}

// RegisterHealth mounts GET /healthz, the liveness check, which every
// listener answers.
func (o *Ops) RegisterHealth(mux Mux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// RegisterInternal mounts GET /readyz and GET /metrics, which move to the
// internal listener when there is one.
func (o *Ops) RegisterInternal(mux Mux) {
	mux.HandleFunc("GET /readyz", o.ready)
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	}
}

func (o *Ops) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	var down []string
	for name, check := range o.Checks {
		if err := check(ctx); err != nil {
			checks[name] = "down"
			down = append(down, name)
		} else {
			checks[name] = "ok"
		}
	}
	sort.Strings(down)
	status := http.StatusOK
	body := map[string]any{"status": "ready", "checks": checks}
	if o.Draining != nil && o.Draining() {
		status, body["status"] = http.StatusServiceUnavailable, "draining"
	} else if len(down) > 0 {
		status, body["status"], body["down"] = http.StatusServiceUnavailable, "not ready", down
	}
	writeJSON(w, status, body)
}
