package server

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/tablecast/tablecast/internal/webhook"
)

// writeLoad counts the writes in flight on this node: REST requests that
// are not reads, and store write transactions (the sockets' writes). The
// webhook dispatcher gives way to them (webhook.WriteLoad).
type writeLoad struct {
	n    atomic.Int64 // writes in flight; read without the lock by Busy
	mu   sync.Mutex
	idle chan struct{} // closed when n falls to 0; nil while it is 0
}

var _ webhook.WriteLoad = (*writeLoad)(nil)

func (l *writeLoad) enter() {
	l.mu.Lock()
	if l.n.Add(1) == 1 {
		l.idle = make(chan struct{})
	}
	l.mu.Unlock()
}

func (l *writeLoad) leave() {
	l.mu.Lock()
	if l.n.Add(-1) == 0 {
		close(l.idle)
		l.idle = nil
	}
	l.mu.Unlock()
}

// Busy returns nil when no write is in flight, else a channel closed once
// none is.
func (l *writeLoad) Busy() <-chan struct{} {
	if l.n.Load() == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.idle == nil {
		return nil
	}
	return l.idle
}

// countWrites counts the requests that may write (every method but GET,
// HEAD and OPTIONS) while next serves them.
func (l *writeLoad) countWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		l.enter()
		defer l.leave()
		next.ServeHTTP(w, r)
	})
}
