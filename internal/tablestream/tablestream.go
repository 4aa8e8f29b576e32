// Package tablestream joins the table store's outbox to the hub: it tells the
// hub which collections belong to which table or workspace stream, reads
// positions and missed events from the outbox (hub.ExternalStreams), and
// turns committed events into hub publications (the relay's sink).
//
// Store collections and their streams:
//
//	record_T, field_T, view_T  ->  table:T      (offsets of table T's outbox)
//	table_W                    ->  workspace:W
//
// Recovery reads the outbox, so it reaches back as far as
// TABLECAST_EVENT_RETENTION, not the app channels' short history, and no
// further: the outbox keeps events 32 minutes longer (event.CompactSpan), to
// complete the compact events after them, and those are not replayed (a
// position that needs one is unrecoverable, and its client resyncs). The latest
// events of each stream (up to 1024 per stream, 32 MiB in all) are kept in
// memory as they are delivered, so a short absence is recovered without the
// store; reads of the same range by many recovering clients at once are
// shared: the store is asked once per range, not once per client.
package tablestream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/stream"
)

// Epoch names the outbox's offsets. They never restart for a database, so
// one epoch serves every stream.
const Epoch = "outbox1"

// Outbox is what the adapter reads from the store.
type Outbox interface {
	StreamTop(ctx context.Context, s store.Stream) (uint64, error)
	Events(ctx context.Context, s store.Stream, afterOffset uint64, limit int) ([]store.Event, error)
	OldestEventOffset(ctx context.Context, s store.Stream) (uint64, error)
}

// Streams implements hub.ExternalStreams over the store's outbox.
type Streams struct {
	outbox Outbox
	// retention is how far back recovery reaches (zero: as far as the
	// outbox keeps events); now reads the clock.
	retention time.Duration
	now       func() time.Time

	recent *recent // the latest events delivered on this node

	mu      sync.Mutex
	flight  map[flightKey]*flight // reads in progress, shared by their callers
	reads   int64                 // store reads made, for `bench recover`
	sharers int64                 // callers that joined a read in progress
	onJoin  func()                // tests: told when a caller joins a read
}

var _ hub.ExternalStreams = (*Streams)(nil)

// New returns the adapter. Recovery replays events no older than retention
// (TABLECAST_EVENT_RETENTION; zero for no bound but the outbox's).
func New(o Outbox, retention time.Duration) *Streams {
	return &Streams{outbox: o, retention: retention, now: time.Now, flight: make(map[flightKey]*flight),
		recent: newRecent(1024, 32<<20)}
}

// StreamOf implements hub.ExternalStreams.
func (s *Streams) StreamOf(collection string) (string, bool) {
	st, ok := parseCollection(collection)
	if !ok {
		return "", false
	}
	return st.String(), true
}

func parseCollection(collection string) (store.Stream, bool) {
	c, ok := event.ParseCollection(collection)
	switch {
	case !ok:
		return store.Stream{}, false
	case c.Kind == event.KindTable:
		return store.WorkspaceStream(c.ID), true
	}
	return store.TableStream(c.ID), true
}

func parseStream(name string) (store.Stream, error) {
	kind, id, ok := strings.Cut(name, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil {
		return store.Stream{}, fmt.Errorf("tablestream: bad stream %q", name)
	}
	switch kind {
	case store.StreamTable.String():
		return store.TableStream(n), nil
	case store.StreamWorkspace.String():
		return store.WorkspaceStream(n), nil
	}
	return store.Stream{}, fmt.Errorf("tablestream: bad stream %q", name)
}

// Top implements hub.ExternalStreams.
func (s *Streams) Top(ctx context.Context, name string) (stream.Position, error) {
	st, err := parseStream(name)
	if err != nil {
		return stream.Position{}, err
	}
	top, err := s.outbox.StreamTop(ctx, st)
	if err != nil {
		return stream.Position{}, fmt.Errorf("tablestream: top of %s: %w", name, err)
	}
	return stream.Position{Offset: top, Epoch: Epoch}, nil
}

// Since implements hub.ExternalStreams.
func (s *Streams) Since(ctx context.Context, name string, since stream.Position, limit int) ([]*hub.Publication, stream.Position, error) {
	top, err := s.Top(ctx, name)
	if err != nil {
		return nil, top, err
	}
	switch {
	case since.Epoch != Epoch:
		return nil, top, fmt.Errorf("%w: epoch %q is not this database's", stream.ErrUnrecoverable, since.Epoch)
	case since.Offset > top.Offset:
		return nil, top, fmt.Errorf("%w: offset %d is ahead of the stream (%d)", stream.ErrUnrecoverable, since.Offset, top.Offset)
	case since.Offset == top.Offset:
		return nil, top, nil
	case limit >= 0 && top.Offset-since.Offset > uint64(limit):
		return nil, top, fmt.Errorf("%w: %d events missed, more than %d", stream.ErrUnrecoverable, top.Offset-since.Offset, limit)
	}
	pubs, err := s.read(ctx, name, since.Offset+1, top.Offset)
	if errors.Is(err, store.ErrPruned) {
		return nil, top, fmt.Errorf("%w: %v", stream.ErrUnrecoverable, err)
	}
	if err != nil {
		return nil, top, err
	}
	if len(pubs) == 0 || pubs[0].Offset != since.Offset+1 {
		return nil, top, fmt.Errorf("%w: events after %d are no longer kept", stream.ErrUnrecoverable, since.Offset)
	}
	if s.retention > 0 && pubs[0].Time.Before(s.now().Add(-s.retention)) {
		// Kept past the retention only to complete the compact events
		// after it, which may lack the event they are completed from.
		return nil, top, fmt.Errorf("%w: the event after %d is older than the retention (%v)",
			stream.ErrUnrecoverable, since.Offset, s.retention)
	}
	return pubs, top, nil
}

// Fill implements hub.ExternalStreams.
func (s *Streams) Fill(ctx context.Context, name string, from, to uint64) ([]*hub.Publication, error) {
	if to < from {
		return nil, nil
	}
	pubs, err := s.read(ctx, name, from, to)
	if errors.Is(err, store.ErrPruned) {
		return nil, nil // gone: the sequencer says so and moves on
	}
	return pubs, err
}

type flightKey struct {
	stream   string
	from, to uint64
}

type flight struct {
	done chan struct{}
	pubs []*hub.Publication
	err  error
}

// Remember keeps an event this node delivered (the hub's event hook calls it,
// in offset order), so that recovering clients are served from memory.
func (s *Streams) Remember(p *hub.Publication) { s.recent.remember(p) }

// read returns the events [from, to] of a stream: from the recent events
// when they hold the whole range, else from the store, where concurrent
// reads of the same range wait for one query.
func (s *Streams) read(ctx context.Context, name string, from, to uint64) ([]*hub.Publication, error) {
	if pubs, ok := s.recent.span(name, from, to); ok {
		return pubs, nil
	}
	key := flightKey{name, from, to}
	s.mu.Lock()
	if f, ok := s.flight[key]; ok {
		s.sharers++
		if s.onJoin != nil {
			s.onJoin()
		}
		s.mu.Unlock()
		select {
		case <-f.done:
			return f.pubs, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	s.flight[key] = f
	s.reads++
	s.mu.Unlock()

	f.pubs, f.err = s.query(ctx, name, from, to)
	s.mu.Lock()
	delete(s.flight, key)
	s.mu.Unlock()
	close(f.done)
	return f.pubs, f.err
}

func (s *Streams) query(ctx context.Context, name string, from, to uint64) ([]*hub.Publication, error) {
	st, err := parseStream(name)
	if err != nil {
		return nil, err
	}
	var out []*hub.Publication
	after := from - 1
	for after < to {
		n := int(min(to-after, 1000))
		events, err := s.outbox.Events(ctx, st, after, n)
		if err != nil {
			return nil, fmt.Errorf("tablestream: read %s after %d: %w", name, after, err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if e.Offset > to {
				break
			}
			out = append(out, Publication(e))
			after = e.Offset
		}
		if len(events) < n {
			break
		}
	}
	return out, nil
}

// Reads reports how many store queries recovery and gap filling made.
func (s *Streams) Reads() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// Publication turns a committed event into what the hub delivers. The
// request's origin socket (X-WebSocket-Id), kept in the payload, is left
// out of the delivery.
func Publication(e store.Event) *hub.Publication {
	p := &hub.Publication{
		Kind:   hub.KindEvent,
		Stream: e.Stream.String(),
		Offset: e.Offset,
		Epoch:  Epoch,
		Event:  e.Type,
		Data:   e.Payload,
		Time:   e.CreatedAt,
	}
	actor, origin := event.ActorOrigin(e.Payload)
	p.Author = hub.Author{UserID: actor, ConnID: origin}
	if origin != "" {
		p.Exclude = []string{origin}
	}
	return p
}

// Sink hands committed events to the hub, for the relay.
func Sink(h *hub.Hub) func(ctx context.Context, events []store.Event) error {
	return func(ctx context.Context, events []store.Event) error {
		for _, e := range events {
			if _, err := h.Publish(ctx, Publication(e)); err != nil {
				return err
			}
		}
		return nil
	}
}
