package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/metrics"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/webhook"
)

// newDispatcher builds the node's webhook dispatcher. Its lease owner is
// the node id and a random suffix, so that a restarted process (the same
// host and pid in a container) does not inherit the leases of the one
// before: those run out, and are taken over, like a dead node's.
func newDispatcher(cfg config.Config, st webhook.Store, svc *service.Service, m *metrics.Metrics, writes *writeLoad, log *slog.Logger) (*webhook.Dispatcher, error) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	w := cfg.Webhooks
	return webhook.New(webhook.Config{
		Store:        st,
		Owner:        cfg.NodeID + "/" + hex.EncodeToString(suffix),
		Timeout:      w.Timeout,
		MaxAttempts:  w.MaxAttempts,
		RetryBase:    w.RetryBase,
		MaxAge:       w.MaxAge,
		AllowPrivate: w.AllowPrivate,
		Lease:        w.Lease,
		Concurrency:  w.Concurrency,
		Writes:       writes,
		YieldMax:     yieldMax(w.Yield),
		Observer:     m.Webhooks(),
		Logger:       log,
		Announce: func(ctx context.Context, h store.Webhook, reason string) error {
			return svc.AnnounceWebhookPaused(ctx, h.TableID, h.ID, h.DeliveredOffset, reason)
		},
	})
}

// wholeRowEvents is the store as the webhooks read it: submits' compact
// rows_updated events come completed (event.WholeRowsData), since a
// webhook sends the rows whole (items, old_items).
type wholeRowEvents struct {
	store.Store
	rows event.RowImager
}

func (w wholeRowEvents) Events(ctx context.Context, s store.Stream, afterOffset uint64, limit int) ([]store.Event, error) {
	evs, err := w.Store.Events(ctx, s, afterOffset, limit)
	if err != nil || s.Kind != store.StreamTable {
		return evs, err
	}
	for i := range evs {
		e := &evs[i]
		if e.Payload, err = event.WholeRowsData(ctx, nil, w.rows, e.Type, s.ID, e.Offset, e.Payload); err != nil {
			return nil, fmt.Errorf("server: webhook events of %s: %w", s, err)
		}
	}
	return evs, nil
}

// yieldMax is the dispatcher's YieldMax for TABLECAST_WEBHOOK_YIELD: 0
// there means calls never wait for the writes.
func yieldMax(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
