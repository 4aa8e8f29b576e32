package webhook

import (
	"context"
	"time"
)

// Webhook calls are background work: a node's writes come first. While
// writes are in flight on the node, a call about to start waits for them
// to end and for a quiet gap after them, but never longer than
// Config.YieldMax (100ms) in all; then it goes anyway, so deliveries are slowed by a busy node, never stopped. Calls
// already in flight are not interrupted, and the webhooks catch up in the
// gaps between writes. Only the moment a call starts changes: the order,
// the retries, the leases and the cursors do not. The cursor writes (one
// transaction every CursorFlush) are put off while writes are in flight,
// for a second at most.

// WriteLoad is the node's write path as the dispatcher sees it.
type WriteLoad interface {
	// Busy returns nil when no write is in flight, else a channel closed
	// once none is.
	Busy() <-chan struct{}
}

// defaultYieldMax is the longest a call waits for the writes in flight.
const defaultYieldMax = 100 * time.Millisecond

// quietGap is how long the writes must have stopped before a call
// starts: a gap between two writes close together (a client sending its
// next one) is not one to fill.
const quietGap = time.Millisecond

// giveWay waits while the node's writes are in flight, and then for a
// quiet gap, up to YieldMax in all; false when ctx ended meanwhile.
func (d *Dispatcher) giveWay(ctx context.Context) bool {
	if d.cfg.Writes == nil || d.cfg.YieldMax < 0 {
		return ctx.Err() == nil
	}
	busy := d.cfg.Writes.Busy()
	if busy == nil {
		return ctx.Err() == nil
	}
	deadline := time.NewTimer(d.cfg.YieldMax)
	defer deadline.Stop()
	var quiet *time.Timer
	defer func() {
		if quiet != nil {
			quiet.Stop()
		}
	}()
	for busy != nil {
		select {
		case <-busy:
		case <-deadline.C:
			return true
		case <-ctx.Done():
			return false
		}
		if quiet == nil {
			quiet = time.NewTimer(quietGap)
		} else {
			quiet.Reset(quietGap)
		}
		select {
		case <-quiet.C:
		case <-deadline.C:
			return true
		case <-ctx.Done():
			return false
		}
		busy = d.cfg.Writes.Busy() // a write begun in the gap: wait again
	}
	return true
}

// maxFlushPutOff is how many CursorFlush ticks in a row the cursor writes
// are put off while writes are in flight: with the default 200ms, cursors
// are written at least every second.
const maxFlushPutOff = 4

// writesBusy reports whether writes are in flight on the node and calls
// give way to them.
func (d *Dispatcher) writesBusy() bool {
	return d.cfg.Writes != nil && d.cfg.YieldMax >= 0 && d.cfg.Writes.Busy() != nil
}
