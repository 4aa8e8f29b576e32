package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tablecast/tablecast/internal/store"
)

// timedStore records how long the store's transactions take.
type timedStore struct {
	store.Store
	writes, reads prometheus.Observer
}

func newTimedStore(st store.Store, h *prometheus.HistogramVec) *timedStore {
	return &timedStore{Store: st, writes: h.WithLabelValues("write"), reads: h.WithLabelValues("read")}
}

func (t *timedStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	err := t.Store.Update(ctx, fn)
	t.writes.Observe(time.Since(start).Seconds())
	return err
}

func (t *timedStore) Read(ctx context.Context, fn func(store.Reader) error) error {
	start := time.Now()
	err := t.Store.Read(ctx, fn)
	t.reads.Observe(time.Since(start).Seconds())
	return err
}

// SingleWriter passes the store's store.SingleWriter on (group commit).
func (t *timedStore) SingleWriter() bool {
	sw, ok := t.Store.(store.SingleWriter)
	return ok && sw.SingleWriter()
}
