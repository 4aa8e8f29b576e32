package hub

import (
	"sync/atomic"
)

// writer is one of the hub's flushing goroutines (one per CPU). A connection
// with frames to send is pushed, once, onto its writer's list; the writer
// takes the whole list, and for each connection writes everything queued
// with one non-blocking writev.
//
// While a connection waits its turn its queue keeps filling, so under load
// each write carries many frames: the batching adapts to the load without a
// timer. A socket that cannot take everything is handed to a goroutine of its
// own (Conn.drainSlow), so one slow client never holds up the others.
type writer struct {
	head atomic.Pointer[Conn] // a stack of connections to flush, linked by Conn.nextFlush
	wake chan struct{}
}

// push schedules c. The caller must have set c.scheduled under c.qmu, so a
// connection is on at most one list at a time.
func (w *writer) push(c *Conn) {
	for {
		old := w.head.Load()
		c.nextFlush = old
		if w.head.CompareAndSwap(old, c) {
			if old == nil {
				select {
				case w.wake <- struct{}{}:
				default:
				}
			}
			return
		}
	}
}

// run flushes scheduled connections until stop is closed.
func (w *writer) run(stop <-chan struct{}, done func()) {
	defer done()
	for {
		select {
		case <-stop:
			return
		case <-w.wake:
		}
		for {
			list := w.head.Swap(nil)
			if list == nil {
				break
			}
			// The list is newest first; flush in the order connections were
			// scheduled.
			var fifo *Conn
			for c := list; c != nil; {
				next := c.nextFlush
				c.nextFlush = fifo
				fifo = c
				c = next
			}
			for c := fifo; c != nil; {
				next := c.nextFlush
				c.nextFlush = nil
				c.flush()
				c = next
			}
		}
	}
}
