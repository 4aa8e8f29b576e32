package tablestream

import (
	"container/list"
	"sync"

	"github.com/tablecast/tablecast/internal/hub"
)

// recent keeps the latest events of each stream this node delivered, so that
// clients recovering a short absence are served from memory. It is bounded
// in bytes across all streams; the least recently used stream goes first.
type recent struct {
	mu        sync.Mutex
	perStream int   // events kept per stream
	maxBytes  int64 // payload bytes kept in all
	bytes     int64
	streams   map[string]*list.Element // of *recentStream, most recent at the front
	lru       *list.List
}

type recentStream struct {
	name   string
	events []*hub.Publication // contiguous offsets, oldest first
	bytes  int64
}

func newRecent(perStream int, maxBytes int64) *recent {
	return &recent{perStream: perStream, maxBytes: maxBytes, streams: make(map[string]*list.Element), lru: list.New()}
}

// remember adds an event delivered on this node, in offset order. An event
// that does not follow the last one kept starts the stream's run anew.
func (r *recent) remember(p *hub.Publication) {
	size := int64(len(p.Data))
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.streams[p.Stream]
	if !ok {
		el = r.lru.PushFront(&recentStream{name: p.Stream})
		r.streams[p.Stream] = el
	}
	r.lru.MoveToFront(el)
	s := el.Value.(*recentStream)
	if n := len(s.events); n > 0 && p.Offset != s.events[n-1].Offset+1 {
		r.bytes -= s.bytes
		clear(s.events)
		s.events, s.bytes = s.events[:0], 0
	}
	s.events = append(s.events, p)
	s.bytes += size
	r.bytes += size
	for len(s.events) > r.perStream {
		r.bytes -= int64(len(s.events[0].Data))
		s.bytes -= int64(len(s.events[0].Data))
		s.events[0] = nil
		s.events = s.events[1:]
	}
	for r.bytes > r.maxBytes && r.lru.Len() > 1 {
		last := r.lru.Back()
		old := last.Value.(*recentStream)
		r.bytes -= old.bytes
		delete(r.streams, old.name)
		r.lru.Remove(last)
	}
}

// span returns the kept events [from, to] of a stream when it holds all of
// them.
func (r *recent) span(stream string, from, to uint64) ([]*hub.Publication, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.streams[stream]
	if !ok {
		return nil, false
	}
	s := el.Value.(*recentStream)
	n := len(s.events)
	if n == 0 || from < s.events[0].Offset || to > s.events[n-1].Offset || from > to {
		return nil, false
	}
	first := s.events[0].Offset
	out := make([]*hub.Publication, to-from+1)
	copy(out, s.events[from-first:to-first+1])
	return out, true
}
