package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tablecast/tablecast/internal/store"
)

// timedStore records how long the store's transactions take, and counts
// the write transactions in flight in load.
type timedStore struct {
	store.Store
	writes, reads prometheus.Observer
	load          *writeLoad
}

func newTimedStore(st store.Store, h *prometheus.HistogramVec, load *writeLoad) *timedStore {
	return &timedStore{Store: st, writes: h.WithLabelValues("write"), reads: h.WithLabelValues("read"), load: load}
}

func (t *timedStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	t.load.enter()
	defer t.load.leave()
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
