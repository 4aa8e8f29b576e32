package stream

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Item is one entry of a stream whose offsets were given elsewhere (the table
// store's outbox), on its way to subscribers.
type Item struct {
	Offset uint64
	Value  any
}

// FillFunc reads a stream's items with offsets in [from, to] from where they
// are kept, in order. It may return fewer when some no longer exist.
type FillFunc func(ctx context.Context, stream string, from, to uint64) ([]Item, error)

// SequencerConfig configures a Sequencer. Zero values mean the defaults.
type SequencerConfig struct {
	// Deliver receives each stream's items in offset order, with no gap and
	// no duplicate. Calls for one stream never overlap; it must not call back
	// into the Sequencer.
	Deliver func(stream string, it Item)
	// Fill reads missing items back (required).
	Fill FillFunc
	// Wait is how long an item ahead of a gap waits for the gap to fill by
	// itself before Fill is asked (default 100ms).
	Wait time.Duration
	// Retry is the pause after a failed Fill (default 1s).
	Retry time.Duration
	// Skipped, when set, is told about offsets that Fill could not return:
	// they are gone (pruned), and the stream moves on. Subscribers of such a
	// stream must be told to refetch.
	Skipped func(stream string, from, to uint64)
}

// Sequencer puts items that arrive out of order (several nodes publish to one
// broker; a relay republishes what a crash left unpublished) back in order
// per stream. It owns one goroutine per gap being filled; Close stops them
// and waits.
type Sequencer struct {
	cfg SequencerConfig

	mu      sync.Mutex
	streams map[string]*sequence
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type sequence struct {
	mu      sync.Mutex // held while delivering, so one stream's deliveries never overlap
	next    uint64     // next offset to deliver; 0: not started
	pending map[uint64]Item
	timer   *time.Timer
	filling bool
}

// NewSequencer returns a sequencer; cfg.Deliver and cfg.Fill are required.
func NewSequencer(cfg SequencerConfig) *Sequencer {
	if cfg.Wait <= 0 {
		cfg.Wait = 100 * time.Millisecond
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Sequencer{cfg: cfg, streams: make(map[string]*sequence), ctx: ctx, cancel: cancel}
}

func (s *Sequencer) sequence(stream string) *sequence {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.streams[stream]
	if q == nil {
		q = &sequence{}
		s.streams[stream] = q
	}
	return q
}

// Start sets where a stream begins on this node, if it has not begun: the
// next offset expected is top+1, and items at or before top are dropped as
// already seen. A stream that has begun is left alone: the items it still
// holds are owed to earlier subscribers. A stream never started begins at the
// first item pushed.
func (s *Sequencer) Start(stream string, top uint64) {
	q := s.sequence(stream)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next == 0 {
		q.next = top + 1
		for off := range q.pending {
			if off < q.next {
				delete(q.pending, off)
			}
		}
		s.drainLocked(stream, q)
	}
}

// Next is the next offset the stream expects, 0 when it has not begun.
func (s *Sequencer) Next(stream string) uint64 {
	s.mu.Lock()
	q := s.streams[stream]
	s.mu.Unlock()
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.next
}

// Forget drops a stream's state (no subscriber left on this node).
func (s *Sequencer) Forget(stream string) {
	s.mu.Lock()
	q := s.streams[stream]
	delete(s.streams, stream)
	s.mu.Unlock()
	if q != nil {
		q.mu.Lock()
		s.stopTimerLocked(q)
		q.mu.Unlock()
	}
}

// Push hands over one item. It is delivered now if it is the next of its
// stream, later if it is ahead of a gap, never if it was seen before.
func (s *Sequencer) Push(stream string, it Item) {
	q := s.sequence(stream)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next == 0 {
		q.next = it.Offset
	}
	switch {
	case it.Offset < q.next:
		return // a duplicate
	case it.Offset == q.next:
		s.cfg.Deliver(stream, it)
		q.next++
		s.drainLocked(stream, q)
	default:
		if q.pending == nil {
			q.pending = make(map[uint64]Item)
		}
		q.pending[it.Offset] = it
		s.armLocked(stream, q, s.cfg.Wait)
	}
}

// drainLocked delivers pending items that became next. q.mu must be held.
func (s *Sequencer) drainLocked(stream string, q *sequence) {
	for {
		it, ok := q.pending[q.next]
		if !ok {
			break
		}
		delete(q.pending, q.next)
		s.cfg.Deliver(stream, it)
		q.next++
	}
	if len(q.pending) == 0 {
		s.stopTimerLocked(q)
	}
}

// stopTimerLocked cancels a scheduled fill. q.mu must be held.
func (s *Sequencer) stopTimerLocked(q *sequence) {
	if q.timer != nil && q.timer.Stop() {
		s.wg.Done() // its function will never run
	}
	q.timer = nil
}

// armLocked schedules a fill of the stream's gap after d. q.mu must be held.
func (s *Sequencer) armLocked(stream string, q *sequence, d time.Duration) {
	if q.timer != nil || q.filling {
		return
	}
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if closed {
		return
	}
	q.timer = time.AfterFunc(d, func() {
		defer s.wg.Done()
		s.fill(stream, q)
	})
}

// fill reads the gap before the first pending item back from the store.
func (s *Sequencer) fill(stream string, q *sequence) {
	q.mu.Lock()
	q.timer = nil
	if len(q.pending) == 0 || s.ctx.Err() != nil {
		q.mu.Unlock()
		return
	}
	from, to := q.next, lowest(q.pending)-1
	q.filling = true
	q.mu.Unlock()

	items, err := s.cfg.Fill(s.ctx, stream, from, to)

	q.mu.Lock()
	defer q.mu.Unlock()
	q.filling = false
	if err != nil {
		s.armLocked(stream, q, s.cfg.Retry)
		return
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Offset < items[j].Offset })
	for _, it := range items {
		if it.Offset >= q.next && it.Offset <= to {
			if _, ok := q.pending[it.Offset]; !ok {
				if q.pending == nil {
					q.pending = make(map[uint64]Item)
				}
				q.pending[it.Offset] = it
			}
		}
	}
	s.drainLocked(stream, q)
	if len(q.pending) == 0 {
		return
	}
	// What the store could not return up to the next pending item is gone:
	// say so and move on rather than wait forever.
	if first := lowest(q.pending); q.next < first && q.next <= to {
		if s.cfg.Skipped != nil {
			s.cfg.Skipped(stream, q.next, first-1)
		}
		q.next = first
		s.drainLocked(stream, q)
	}
	if len(q.pending) > 0 {
		s.armLocked(stream, q, s.cfg.Wait)
	}
}

func lowest(m map[uint64]Item) uint64 {
	first := true
	var min uint64
	for off := range m {
		if first || off < min {
			min, first = off, false
		}
	}
	return min
}

// Close stops pending fills and waits for the ones running.
func (s *Sequencer) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	streams := make([]*sequence, 0, len(s.streams))
	for _, q := range s.streams {
		streams = append(streams, q)
	}
	s.mu.Unlock()
	s.cancel()
	for _, q := range streams {
		q.mu.Lock()
		s.stopTimerLocked(q)
		q.mu.Unlock()
	}
	s.wg.Wait()
}
