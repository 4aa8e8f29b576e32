package hub

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"

	"github.com/tablecast/tablecast/internal/stream"
)

// ExternalStreams is where the hub learns about streams whose offsets are
// given outside the broker: the table store's outbox. Several collections can
// share one such stream (record_T, field_T and view_T share table T's), and
// their publications are events (KindEvent) that each dialect renders into
// frames for the collections and documents they concern.
type ExternalStreams interface {
	// StreamOf names the stream of a collection; ok is false for a collection
	// that is its own broker stream (an app channel).
	StreamOf(collection string) (streamName string, ok bool)
	// Top is the stream's current position.
	Top(ctx context.Context, streamName string) (stream.Position, error)
	// Since returns the stream's events after since, in order, and the
	// stream's position; it wraps stream.ErrUnrecoverable when it cannot.
	Since(ctx context.Context, streamName string, since stream.Position, limit int) ([]*Publication, stream.Position, error)
	// Fill reads the events with offsets in [from, to], for gaps that did not
	// fill by themselves.
	Fill(ctx context.Context, streamName string, from, to uint64) ([]*Publication, error)
}

// EventRenderer is implemented by the renderers of dialects that receive
// stream events: an event becomes one frame per collection and document it
// concerns (a batch of rows is one op per row for the native dialect).
type EventRenderer interface {
	RenderEvent(p *Publication) ([]Output, error)
}

// Output is one frame of a rendered event and where it goes.
type Output struct {
	Collection string
	Document   string
	Frame      []byte
	// Origin, when not nil, is what the event's origin connection
	// (Publication.ConnID) receives in Frame's place, at the same point of
	// its queue: after everything before the event, before everything
	// after it. A submit's acknowledgement goes so, in version order with
	// the document's ops. Nil leaves the origin out when the publication
	// excludes it. Every other subscriber gets Frame: one encoding shared
	// by all, and one more for the origin.
	Origin []byte
}

// originOf reports whether c is p's origin connection.
func originOf(p *Publication, c *Conn) bool { return p.Author.ConnID != "" && p.Author.ConnID == c.id }

// external reports the stream of a collection whose offsets come from
// outside the broker.
func (h *Hub) external(collection string) (string, bool) {
	if h.cfg.Streams == nil {
		return "", false
	}
	return h.cfg.Streams.StreamOf(collection)
}

// shardKey is what a collection's channels are sharded by: its stream, so
// that every collection of one stream shares a shard.
func (h *Hub) shardKey(collection string) string {
	if s, ok := h.external(collection); ok {
		return s
	}
	return collection
}

func (h *Hub) shardForStream(streamName string) *channelShard {
	return &h.shards[maphash.String(h.seed, streamName)%uint64(len(h.shards))]
}

// newSequencer orders each external stream's events before delivery.
func (h *Hub) newSequencer() *stream.Sequencer {
	return stream.NewSequencer(stream.SequencerConfig{
		Deliver: func(_ string, it stream.Item) { h.deliverEvent(it.Value.(*Publication)) },
		Fill: func(ctx context.Context, streamName string, from, to uint64) ([]stream.Item, error) {
			pubs, err := h.cfg.Streams.Fill(ctx, streamName, from, to)
			if err != nil {
				return nil, err
			}
			items := make([]stream.Item, len(pubs))
			for i, p := range pubs {
				items[i] = stream.Item{Offset: p.Offset, Value: p}
			}
			return items, nil
		},
		Skipped: func(streamName string, from, to uint64) {
			h.log.Error("stream events missing from the store; subscribers must refetch",
				"stream", streamName, "from", from, "to", to)
		},
	})
}

// renderEvent renders p for one dialect.
func (h *Hub) renderEvent(d Dialect, p *Publication) ([]Output, error) {
	er, ok := h.cfg.Renderers[d].(EventRenderer)
	if !ok {
		return nil, nil
	}
	outs, err := er.RenderEvent(p)
	if err != nil {
		return nil, fmt.Errorf("hub: render event %s@%d: %w", p.Stream, p.Offset, err)
	}
	return outs, nil
}

// deliverEvent is the fan-out path of stream events, in offset order (the
// sequencer calls it). Each dialect renders the event once; each output goes
// to the subscribers of its collection and of its document, each once.
func (h *Hub) deliverEvent(p *Publication) {
	var outs [MaxDialects][]Output
	for d := range h.cfg.Renderers {
		o, err := h.renderEvent(Dialect(d), p)
		if err != nil {
			h.log.Error("render event", "err", err)
			continue
		}
		outs[d] = o
	}
	// What the dialects derived together is not kept with the event: the
	// recent events a node keeps for replay are bounded by their payloads.
	p.forgetMemo()
	stamp := p.Time.UnixNano()
	sh := h.shardForStream(p.Stream)
	sh.mu.RLock()
	for d := range outs {
		for _, o := range outs[d] {
			col := sh.collections[o.Collection]
			if col == nil || col.stream != p.Stream {
				// Another stream's collection in the same shard: a renderer
				// that names it (the native table_W for a table_deleted on
				// the table's stream) must not reach it with this offset.
				continue
			}
			for c, sub := range col.subs {
				if c.dialect == Dialect(d) {
					h.deliverEventTo(sub, p, &o, stamp)
				}
			}
			if o.Document == "" {
				continue
			}
			for c, sub := range col.docs[o.Document] {
				if _, both := col.subs[c]; !both && c.dialect == Dialect(d) {
					h.deliverEventTo(sub, p, &o, stamp)
				}
			}
		}
	}
	sh.mu.RUnlock()
	if h.cfg.Observer != nil {
		h.cfg.Observer.Delivered(p.Kind, int(p.delivered.Load()))
	}
	for _, hook := range h.eventHooks {
		hook(p)
	}
}

func (h *Hub) deliverEventTo(sub *subscription, p *Publication, o *Output, stamp int64) {
	frame := o.Frame
	origin := o.Origin != nil && originOf(p, sub.conn)
	if origin {
		frame = o.Origin
	}
	if sub.admit(p, origin) && sub.conn.enqueue(frame, stamp) {
		p.delivered.Add(1)
	}
}

// sendEvent renders p for c alone and queues what concerns one subscription
// (replay, and events held while subscribing), as the fan-out would: what
// excludes c is left out, and c as the origin gets the outputs' frames for
// it. It reports whether anything was queued.
func (h *Hub) sendEvent(c *Conn, p *Publication, collection, document string) bool {
	outs, err := h.renderEvent(c.dialect, p)
	if err != nil {
		h.log.Error("render event", "err", err)
		return false
	}
	excluded, origin := p.excludes(c), originOf(p, c)
	sent := false
	for _, o := range outs {
		if o.Collection != collection || (document != "" && o.Document != document) {
			continue
		}
		frame := o.Frame
		switch {
		case origin && o.Origin != nil:
			frame = o.Origin
		case excluded:
			continue
		}
		if c.enqueue(frame, p.Time.UnixNano()) {
			sent = true
		}
	}
	return sent
}

// Revoke ends every subscription of a user's local connections whose
// collection drop selects, and tells each connection through its dialect.
// Used when permissions change (a member removed, a view made private).
func (h *Hub) Revoke(userID string, drop func(collection string) bool) int {
	n := 0
	for _, c := range h.UserConns(userID) {
		c.smu.Lock()
		var gone []*subscription
		for _, sub := range c.subs {
			if drop(sub.collection) {
				gone = append(gone, sub)
			}
		}
		for _, sub := range gone {
			c.takeSubLocked(sub.collection, sub.document)
		}
		c.smu.Unlock()
		for _, sub := range gone {
			h.dropSubscription(sub)
			h.leavePresence(context.Background(), c, sub.collection, sub.document)
			c.Send(c.session.RevokedFrame(sub.collection, sub.document))
			n++
		}
	}
	return n
}

// externalPosition answers a subscribe to an external stream's collection.
func (h *Hub) externalPosition(ctx context.Context, streamName string, req SubscribeRequest) (SubscribeResult, []*Publication, error) {
	if req.Since == nil {
		top, err := h.cfg.Streams.Top(ctx, streamName)
		if err != nil {
			return SubscribeResult{}, nil, fmt.Errorf("%w: stream position: %w", ErrUnavailable, err)
		}
		h.seq.Start(streamName, top.Offset)
		return SubscribeResult{Position: top, Recovered: true}, nil, nil
	}
	pubs, top, err := h.cfg.Streams.Since(ctx, streamName, *req.Since, h.cfg.ReplayLimit)
	if errors.Is(err, stream.ErrUnrecoverable) {
		if top.Epoch == "" {
			if top, err = h.cfg.Streams.Top(ctx, streamName); err != nil {
				return SubscribeResult{}, nil, fmt.Errorf("%w: stream position: %w", ErrUnavailable, err)
			}
		}
		h.seq.Start(streamName, top.Offset)
		return SubscribeResult{Position: top, Recovered: false}, nil, nil
	}
	if err != nil {
		return SubscribeResult{}, nil, fmt.Errorf("%w: stream history: %w", ErrUnavailable, err)
	}
	h.seq.Start(streamName, top.Offset)
	return SubscribeResult{Position: top, Recovered: true}, pubs, nil
}
