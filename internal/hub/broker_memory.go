package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/tablecast/tablecast/internal/stream"
)

var _ Broker = (*MemoryBroker)(nil)

// MemoryBroker is the single-node Broker: publications go straight to this
// node's hub, streams live in a stream.History.
//
// Publications of one stream are serialised by a striped lock held from the
// moment the offset is taken until the hub has queued the publication on every
// subscriber, so subscribers see offsets in order.
type MemoryBroker struct {
	history stream.History
	seed    maphash.Seed
	locks   [256]streamLock

	mu      sync.RWMutex
	handler BrokerEventHandler
}

// NewMemoryBroker returns a broker that keeps streams in h.
func NewMemoryBroker(h stream.History) *MemoryBroker {
	return &MemoryBroker{history: h, seed: maphash.MakeSeed()}
}

// Start implements Broker.
// One node never loses its link to itself: it only hands publications on.
func (b *MemoryBroker) Start(_ context.Context, h BrokerEventHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handler = h
	return nil
}

func (b *MemoryBroker) deliver(p *Publication) {
	b.mu.RLock()
	h := b.handler
	b.mu.RUnlock()
	if h != nil {
		h.HandlePublication(p)
	}
}

// Publish implements Broker.
func (b *MemoryBroker) Publish(ctx context.Context, p *Publication) (stream.Position, error) {
	if !p.Kind.OffsetFromBroker() {
		b.deliver(p)
		return stream.Position{Offset: p.Offset, Epoch: p.Epoch}, nil
	}
	l := &b.locks[maphash.String(b.seed, p.Collection)%uint64(len(b.locks))]
	l.Lock()
	defer l.Unlock()
	// The offset is only known after Append, and the history keeps the encoded
	// form, so the entry is encoded with the offset the stream will give it.
	top, err := b.history.Top(ctx, p.Collection)
	if err != nil {
		return stream.Position{}, fmt.Errorf("hub: memory broker: %w", err)
	}
	p.Offset, p.Epoch = top.Offset+1, top.Epoch
	payload, err := l.encode(p)
	if err != nil {
		return stream.Position{}, err
	}
	pos, err := b.history.Append(ctx, p.Collection, payload)
	if err != nil {
		return stream.Position{}, fmt.Errorf("hub: memory broker: %w", err)
	}
	if pos.Offset != p.Offset || pos.Epoch != p.Epoch {
		// Only this broker appends to its history, under the stream's lock.
		return stream.Position{}, fmt.Errorf("hub: memory broker: offset %d, expected %d", pos.Offset, p.Offset)
	}
	b.deliver(p)
	return pos, nil
}

// History implements Broker.
func (b *MemoryBroker) History(ctx context.Context, collection string, since stream.Position, limit int) ([]*Publication, stream.Position, error) {
	entries, pos, err := b.history.Since(ctx, collection, since, limit)
	if err != nil {
		return nil, pos, err
	}
	pubs, err := PublicationsOf(entries, pos, decodeMemoryEntry)
	return pubs, pos, err
}

// Top implements Broker.
func (b *MemoryBroker) Top(ctx context.Context, collection string) (stream.Position, error) {
	return b.history.Top(ctx, collection)
}

// Subscribe implements Broker; one node needs no routing.
func (b *MemoryBroker) Subscribe(context.Context, string) error { return nil }

// Unsubscribe implements Broker.
func (b *MemoryBroker) Unsubscribe(context.Context, string) error { return nil }

// Close implements Broker.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	b.handler = nil
	b.mu.Unlock()
	return nil
}

// memoryEntry is what the memory broker keeps of a streamed publication
// (KindMessage, KindOp: authored, never targeted) in its history; the
// entry's offset and the stream's epoch are the history's.
type memoryEntry struct {
	Kind         Kind            `json:"k"`
	Stream       string          `json:"st,omitempty"`
	Collection   string          `json:"c"`
	Document     string          `json:"d,omitempty"`
	Data         json.RawMessage `json:"p,omitempty"`
	UserID       string          `json:"u,omitempty"`
	SessionID    string          `json:"s,omitempty"`
	ConnID       string          `json:"i,omitempty"`
	Exclude      []string        `json:"x,omitempty"`
	ExcludeUsers []string        `json:"xu,omitempty"`
	Time         time.Time       `json:"t"`
}

// streamLock serialises the publications of the streams it stripes, and
// holds the entry they are encoded from: filled and encoded under the lock,
// it costs no allocation per publication.
type streamLock struct {
	sync.Mutex
	entry memoryEntry
}

// encode encodes p's history entry; l is held.
func (l *streamLock) encode(p *Publication) ([]byte, error) {
	l.entry = memoryEntry{Kind: p.Kind, Stream: p.Stream, Collection: p.Collection, Document: p.Document,
		Data: p.Data, UserID: p.Author.UserID, SessionID: p.Author.SessionID, ConnID: p.Author.ConnID, Exclude: p.Exclude,
		ExcludeUsers: p.ExcludeUsers, Time: p.Time}
	b, err := json.Marshal(&l.entry)
	l.entry = memoryEntry{} // keeps nothing of p
	if err != nil {
		return nil, fmt.Errorf("hub: memory broker: encode: %w", err)
	}
	return b, nil
}

func decodeMemoryEntry(b []byte) (*Publication, error) {
	var e memoryEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("hub: memory broker: decode: %w", err)
	}
	return &Publication{Kind: e.Kind, Stream: e.Stream, Collection: e.Collection, Document: e.Document,
		Data: e.Data, Author: Author{UserID: e.UserID, SessionID: e.SessionID, ConnID: e.ConnID}, Exclude: e.Exclude,
		ExcludeUsers: e.ExcludeUsers, Time: e.Time}, nil
}
