package webhook

import (
	"context"
	"time"
)

// Webhook calls are background work: a node's writes come first. While
// writes are in flight on the node, a call about to start waits for them
// to end, but never longer than Config.YieldMax (100ms); then it goes
// anyway, so deliveries are slowed by a busy node, never stopped. Calls
// already in flight are not interrupted, and the webhooks catch up in the
// gaps between writes. Only the moment a call starts changes: the order,
// the retries, the leases and the cursors do not. The cursor writes (one
// transaction every CursorFlush) give way the same way.

// WriteLoad is the node's write path as the dispatcher sees it.
type WriteLoad interface {
	// Busy returns nil when no write is in flight, else a channel closed
	// once none is.
	Busy() <-chan struct{}
}

// defaultYieldMax is the longest a call waits for the writes in flight.
const defaultYieldMax = 100 * time.Millisecond

// giveWay waits while the node's writes are in flight, up to YieldMax;
// false when ctx ended meanwhile.
func (d *Dispatcher) giveWay(ctx context.Context) bool {
	if d.cfg.Writes == nil || d.cfg.YieldMax < 0 {
		return ctx.Err() == nil
	}
	busy := d.cfg.Writes.Busy()
	if busy == nil {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d.cfg.YieldMax)
	defer t.Stop()
	select {
	case <-busy:
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return true
}

// writesBusy reports whether writes are in flight on the node.
func (d *Dispatcher) writesBusy() bool {
	return d.cfg.Writes != nil && d.cfg.YieldMax >= 0 && d.cfg.Writes.Busy() != nil
}
