package hub

import (
	"sync"
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
//
// The list a writer has taken stays where its siblings can reach it: a
// writer with nothing of its own takes connections from the front of a
// busy sibling's list. A publication to a channel schedules every subscriber
// at once; without this the connections of a writer whose thread the
// operating system put aside (mid-writev, on a loaded machine) would wait
// for it while the other writers sat idle: the tail of a steady load.
type writer struct {
	head     atomic.Pointer[Conn] // a stack of connections to flush, linked by Conn.nextFlush
	wake     chan struct{}
	siblings []writer // the hub's pool, this writer included

	mu     sync.Mutex
	taken  *Conn // the list taken from head, oldest first, not flushed yet; mu must be held
	takenN int   // its length; mu must be held

	// Owned by w's goroutine: the batch it is writing (reused from one
	// connection to the next; a connection that drains slowly takes a copy),
	// and what it wrote, counted in local and added to out from time to
	// time. out sits on cache lines of its own, so that counting does not
	// take a line from the CPUs that push to this writer or a sibling.
	batch flushing
	local localStats // what it wrote since it last added to out
	_     [cacheLine]byte
	out   writeStats
	_     [cacheLine]byte
}

// cacheLine is the padding that keeps a writer's counters apart from what
// other CPUs write.
const cacheLine = 64

// Stealing moves connections in bites: a thief takes at most stealMax (and
// half of what is left), and siblings are woken only when a list is longer
// than nudgeAt.
const (
	stealMax = 64
	nudgeAt  = 32
)

// push schedules c. The caller must have set c.scheduled under c.qmu, so a
// connection is on at most one list at a time.
func (w *writer) push(c *Conn) {
	for {
		old := w.head.Load()
		c.nextFlush = old
		if w.head.CompareAndSwap(old, c) {
			if old == nil {
				w.signal()
			}
			return
		}
	}
}

func (w *writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
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
		for w.refill() || w.steal() {
			for c := w.next(); c != nil; c = w.next() {
				c.flush(w)
			}
		}
		w.local.addTo(&w.out)
	}
}

// refill moves what was pushed to w onto its taken list, oldest first, and
// reports whether there was anything. A long list wakes the siblings, so
// that an idle one helps.
func (w *writer) refill() bool {
	return w.takeList(w.head.Swap(nil))
}

// takeList makes list (a stack taken from a head) w's taken list; w's
// taken list must be empty, and only w's goroutine calls it.
func (w *writer) takeList(list *Conn) bool {
	if list == nil {
		return false
	}
	// The stack is newest first; flush in the order connections were
	// scheduled.
	var fifo *Conn
	n := 0
	for c := list; c != nil; n++ {
		next := c.nextFlush
		c.nextFlush = fifo
		fifo = c
		c = next
	}
	w.mu.Lock()
	w.taken, w.takenN = fifo, n
	w.mu.Unlock()
	if n > nudgeAt {
		for i := range w.siblings {
			if s := &w.siblings[i]; s != w {
				s.signal()
			}
		}
	}
	return true
}

// next takes the oldest connection of w's taken list, nil when it is empty.
func (w *writer) next() *Conn {
	w.mu.Lock()
	c := w.taken
	if c != nil {
		w.taken, c.nextFlush = c.nextFlush, nil
		w.takenN--
	}
	w.mu.Unlock()
	return c
}

// steal takes connections from the front of a sibling's taken list onto
// w's own (empty) one or, failing that, everything pushed to a sibling that
// has not taken it yet (it may be stuck on one socket), and reports whether
// it found any.
func (w *writer) steal() bool {
	if w.stealTaken() {
		return true
	}
	for i := range w.siblings {
		s := &w.siblings[i]
		if s != w && s.head.Load() != nil && w.takeList(s.head.Swap(nil)) {
			return true
		}
	}
	return false
}

func (w *writer) stealTaken() bool {
	for i := range w.siblings {
		s := &w.siblings[i]
		if s == w {
			continue
		}
		s.mu.Lock()
		if s.takenN == 0 {
			s.mu.Unlock()
			continue
		}
		n := min(stealMax, (s.takenN+1)/2)
		first, last := s.taken, s.taken
		for range n - 1 {
			last = last.nextFlush
		}
		s.taken, s.takenN = last.nextFlush, s.takenN-n
		s.mu.Unlock()
		last.nextFlush = nil
		w.mu.Lock()
		w.taken, w.takenN = first, n
		w.mu.Unlock()
		return true
	}
	return false
}
