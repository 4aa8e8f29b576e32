package sharedb

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/tablecast/tablecast/internal/event"
)

// liveQueries are the node's live queries by stream, and the workers that
// run them again after events. An event marks each query of its stream;
// a marked query is queued once, run by one worker at a time, and marked
// again (dirty) if events come while it runs, so that a burst of events
// costs a query at most two runs in a row, and the hub's event hook never
// waits for the store.
type liveQueries struct {
	srv     *Server
	workers int

	mu       sync.Mutex
	byStream map[string]map[*liveQuery]struct{}
	queue    []*liveQuery
	started  bool
	stopped  bool

	wake chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

func newLiveQueries(s *Server, workers int) *liveQueries {
	return &liveQueries{srv: s, workers: workers, byStream: make(map[string]map[*liveQuery]struct{}),
		wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

// add registers a query; the workers start with the node's first.
func (l *liveQueries) add(q *liveQuery) {
	st := q.col.stream()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	m := l.byStream[st]
	if m == nil {
		m = make(map[*liveQuery]struct{})
		l.byStream[st] = m
	}
	m[q] = struct{}{}
	if !l.started {
		l.started = true
		for range l.workers {
			goTracked(&l.wg, l.work)
		}
	}
}

// remove ends a query: it is not run again.
func (l *liveQueries) remove(q *liveQuery) {
	q.mu.Lock()
	q.dead = true
	q.mu.Unlock()
	st := q.col.stream()
	l.mu.Lock()
	if m := l.byStream[st]; m != nil {
		delete(m, q)
		if len(m) == 0 {
			delete(l.byStream, st)
		}
	}
	l.mu.Unlock()
}

// touch marks the queries of a stream that an event of that type may
// change: a query of records any event of its table (a field or view
// change can change a filter), of fields field events, of views view and
// field events (a field change rewrites views), of tables table events.
func (l *liveQueries) touch(stream, event string) {
	l.mu.Lock()
	m := l.byStream[stream]
	if len(m) == 0 {
		l.mu.Unlock()
		return
	}
	qs := make([]*liveQuery, 0, len(m))
	for q := range m {
		if affects(q.col.kind, event) {
			qs = append(qs, q)
		}
	}
	l.mu.Unlock()
	for _, q := range qs {
		l.enqueue(q)
	}
}

func affects(kind, event string) bool {
	switch kind {
	case "field":
		return strings.HasPrefix(event, "field_")
	case "view":
		return strings.HasPrefix(event, "view_") || strings.HasPrefix(event, "field_")
	case "table":
		return strings.HasPrefix(event, "table_")
	}
	return true
}

// enqueue queues a query to run, or marks it dirty if it is running.
// Lock order: liveQuery.mu -> liveQueries.mu.
func (l *liveQueries) enqueue(q *liveQuery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.dead:
	case q.running:
		q.dirty = true
	case !q.queued:
		q.queued = true
		l.push(q)
	}
}

func (l *liveQueries) push(q *liveQuery) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.queue = append(l.queue, q)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// next takes a queued query, waiting for one; false once stopped.
func (l *liveQueries) next() (*liveQuery, bool) {
	for {
		l.mu.Lock()
		if l.stopped {
			l.mu.Unlock()
			return nil, false
		}
		if len(l.queue) > 0 {
			q := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			more := len(l.queue) > 0
			l.mu.Unlock()
			if more {
				select { // let another worker take the next one
				case l.wake <- struct{}{}:
				default:
				}
			}
			return q, true
		}
		l.mu.Unlock()
		select {
		case <-l.wake:
		case <-l.stop:
			return nil, false
		}
	}
}

func (l *liveQueries) work() {
	for {
		q, ok := l.next()
		if !ok {
			return
		}
		q.mu.Lock()
		q.queued = false
		if q.dead {
			q.mu.Unlock()
			continue
		}
		q.running = true
		q.mu.Unlock()
		l.poll(q)
		q.mu.Lock()
		q.running = false
		if q.dirty && !q.dead {
			q.dirty = false
			q.queued = true
			l.push(q)
		}
		q.mu.Unlock()
	}
}

// close stops the workers and waits for them.
func (l *liveQueries) close() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	l.queue = nil
	close(l.stop)
	l.mu.Unlock()
	l.wg.Wait()
}

// poll runs a query again and pushes what changed in its results.
func (l *liveQueries) poll(q *liveQuery) {
	s := q.sess
	ctx, cancel := s.StoreContext()
	defer cancel()
	results, offset, err := l.srv.cfg.Store.Query(ctx, s.userID, q.col.canonical, q.q)
	if err != nil {
		if s.Context().Err() == nil && !errors.Is(err, event.ErrNotFound) {
			s.lost("live query of "+q.col.name, err) // its results would go stale
		}
		return // a lost permission ends the query through the hub (RevokedFrame)
	}
	ids := make([]int64, len(results))
	byID := make(map[int64]event.Document, len(results))
	for i, r := range results {
		ids[i] = r.ID
		byID[r.ID] = r
	}
	q.mu.Lock()
	if q.dead {
		q.mu.Unlock()
		return
	}
	old := q.ids
	q.ids = ids
	q.mu.Unlock()
	if edits := listDiff(old, ids); len(edits) > 0 {
		s.send(map[string]any{"a": actQueryUpdate, "id": json.RawMessage(q.id), "diff": json.RawMessage(diffJSON(edits, byID))})
	}
	if l.srv.render.seenOffset(q.col.stream()) > offset {
		s.renewCollection(q.col, offset)
	}
}
