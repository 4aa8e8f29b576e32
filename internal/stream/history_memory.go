package stream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	defaultHistorySize = 100
	defaultHistoryTTL  = 5 * time.Minute
	minPruneInterval   = time.Second
	numShards          = 64 // a power of two: shardFor masks the hash
	minRingCap         = 8
)

// MemoryHistoryConfig configures a MemoryHistory. The zero value means the defaults.
type MemoryHistoryConfig struct {
	// Size is the most entries kept per stream. 0 means 100; a negative Size keeps
	// no entries at all (offsets still advance, and only a client that is up to
	// date recovers).
	Size int
	// TTL is how long an entry is kept, and how long a stream may stay idle (no
	// entries left, no reads or appends) before it is forgotten and gets a new
	// epoch when next used. 0 or negative means 5 minutes.
	TTL time.Duration
	// Now returns the current time; nil means time.Now. Tests set it to a fake clock.
	// It must be safe for concurrent use and must not call into the history.
	Now func() time.Time
}

// MemoryHistory is a History kept in this process's memory. Streams are spread
// over shards by a hash of their name, each shard with its own mutex, so appends
// to different streams rarely contend; appends to one stream are serialised,
// which is what keeps its offsets gapless and in order.
//
// Each stream keeps at most Size entries in a ring buffer; entries older than TTL
// are dropped, and streams idle for longer than TTL are forgotten. A goroutine
// started by NewMemoryHistory prunes every TTL/4 (at least every second); Since
// also drops expired entries itself, so answers never depend on when the pruner
// last ran. Close stops the goroutine.
//
// Lock order: a shard's mutex is the only lock, and no method holds two.
type MemoryHistory struct {
	size     int // 0: keep no entries
	ttl      time.Duration
	now      func() time.Time
	base     time.Time // entry times are stored as offsets from base
	interval time.Duration

	shards [numShards]historyShard

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ History = (*MemoryHistory)(nil)

type historyShard struct {
	mu      sync.Mutex
	streams map[string]*memoryStream // guarded by mu
	_       [48]byte                 // keeps neighbouring shards' mutexes off one cache line
}

// memoryStream is one stream's state. Every field is guarded by its shard's mutex.
type memoryStream struct {
	epoch string
	top   uint64 // offset of the last appended entry; 0 before the first
	// ring holds the n retained entries, oldest at ring[head], wrapping around.
	// It grows up to the history's Size, then the newest entry overwrites the oldest.
	ring     []memoryEntry
	head     int
	n        int
	lastUsed time.Duration // last append, read or creation, as an offset from the history's base
}

type memoryEntry struct {
	payload []byte
	at      time.Duration // when appended, as an offset from the history's base
}

// NewMemoryHistory returns a MemoryHistory and starts its pruning goroutine.
// Call Close to stop it.
func NewMemoryHistory(cfg MemoryHistoryConfig) *MemoryHistory {
	h := &MemoryHistory{
		size: cfg.Size,
		ttl:  cfg.TTL,
		now:  cfg.Now,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	switch {
	case h.size == 0:
		h.size = defaultHistorySize
	case h.size < 0:
		h.size = 0
	}
	if h.ttl <= 0 {
		h.ttl = defaultHistoryTTL
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.base = h.now()
	h.interval = max(h.ttl/4, minPruneInterval)
	for i := range h.shards {
		h.shards[i].streams = make(map[string]*memoryStream)
	}
	go h.run()
	return h
}

// Close stops the pruning goroutine and waits for it to return. It is safe to
// call more than once. The history stays usable after Close, without pruning.
func (h *MemoryHistory) Close() {
	h.closeOnce.Do(func() { close(h.stop) })
	<-h.done
}

// Streams returns how many streams the history currently holds.
func (h *MemoryHistory) Streams() int {
	total := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		total += len(sh.streams)
		sh.mu.Unlock()
	}
	return total
}

// Append implements History. It does not copy payload.
func (h *MemoryHistory) Append(ctx context.Context, stream string, payload []byte) (Position, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, err
	}
	sh := h.shardFor(stream)
	sh.mu.Lock()
	now := h.elapsed() // read under the lock so a stream's entry times never go backwards
	s := sh.streamLocked(stream, now)
	s.top++
	s.lastUsed = now
	if h.size > 0 {
		s.pushLocked(memoryEntry{payload: payload, at: now}, h.size)
	}
	pos := Position{Offset: s.top, Epoch: s.epoch}
	sh.mu.Unlock()
	return pos, nil
}

// Since implements History. The returned entries share their payloads with the history.
func (h *MemoryHistory) Since(ctx context.Context, stream string, since Position, limit int) ([]Entry, Position, error) {
	if err := ctx.Err(); err != nil {
		return nil, Position{}, err
	}
	sh := h.shardFor(stream)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := h.elapsed()
	s := sh.streamLocked(stream, now)
	s.lastUsed = now
	s.expireLocked(now - h.ttl)
	top := Position{Offset: s.top, Epoch: s.epoch}

	switch {
	case since.Epoch != s.epoch:
		return nil, top, fmt.Errorf("%w: epoch %q is not the stream's current epoch %q", ErrUnrecoverable, since.Epoch, s.epoch)
	case since.Offset > s.top:
		return nil, top, fmt.Errorf("%w: offset %d is ahead of the stream's top %d", ErrUnrecoverable, since.Offset, s.top)
	case since.Offset == s.top:
		return nil, top, nil
	}
	missed := s.top - since.Offset
	if missed > uint64(s.n) {
		return nil, top, fmt.Errorf("%w: entries after offset %d are no longer kept (oldest kept is %d)", ErrUnrecoverable, since.Offset, s.top-uint64(s.n)+1)
	}
	if limit >= 0 && missed > uint64(limit) {
		return nil, top, fmt.Errorf("%w: %d entries missed, more than the limit of %d", ErrUnrecoverable, missed, limit)
	}
	out := make([]Entry, missed)
	i := s.head + s.n - int(missed) // ring index of the first missed entry, before wrapping
	for k := range out {
		if i >= len(s.ring) {
			i -= len(s.ring)
		}
		out[k] = Entry{Offset: since.Offset + uint64(k) + 1, Payload: s.ring[i].payload}
		i++
	}
	return out, top, nil
}

// Top implements History.
func (h *MemoryHistory) Top(ctx context.Context, stream string) (Position, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, err
	}
	sh := h.shardFor(stream)
	sh.mu.Lock()
	now := h.elapsed()
	s := sh.streamLocked(stream, now)
	s.lastUsed = now
	pos := Position{Offset: s.top, Epoch: s.epoch}
	sh.mu.Unlock()
	return pos, nil
}

func (h *MemoryHistory) run() {
	defer close(h.done)
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.prune()
		}
	}
}

// prune drops expired entries from every stream and forgets streams that have
// had no entries and no use for longer than TTL. A forgotten stream gets a new
// epoch when next used, so clients holding its old positions refetch.
func (h *MemoryHistory) prune() {
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		now := h.elapsed()
		cutoff := now - h.ttl
		for name, s := range sh.streams {
			s.expireLocked(cutoff)
			if s.n == 0 && s.lastUsed < cutoff {
				delete(sh.streams, name)
			}
		}
		sh.mu.Unlock()
	}
}

// elapsed returns the current time as an offset from h.base (monotonic with time.Now).
func (h *MemoryHistory) elapsed() time.Duration {
	return h.now().Sub(h.base)
}

// shardFor hashes the stream name with 32-bit FNV-1a, inline so it does not allocate.
func (h *MemoryHistory) shardFor(stream string) *historyShard {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	hash := uint32(offset32)
	for i := 0; i < len(stream); i++ {
		hash ^= uint32(stream[i])
		hash *= prime32
	}
	return &h.shards[hash&(numShards-1)]
}

// streamLocked returns the named stream, creating it with a new epoch if the
// shard does not hold it. The shard's mutex must be held.
func (sh *historyShard) streamLocked(name string, now time.Duration) *memoryStream {
	if s, ok := sh.streams[name]; ok {
		return s
	}
	s := &memoryStream{epoch: newEpoch(), lastUsed: now}
	// Clone so the map key does not keep a caller's larger buffer alive.
	sh.streams[strings.Clone(name)] = s
	return s
}

// pushLocked keeps e as the newest entry, dropping the oldest if size entries
// are already kept. It allocates only while the ring grows towards size.
func (s *memoryStream) pushLocked(e memoryEntry, size int) {
	switch {
	case s.n < len(s.ring): // a free slot after the newest entry
		i := s.head + s.n
		if i >= len(s.ring) {
			i -= len(s.ring)
		}
		s.ring[i] = e
		s.n++
	case len(s.ring) < size: // full, but may grow
		if s.head != 0 {
			// Put the oldest entry first so the new one can go at the end.
			slices.Reverse(s.ring[:s.head])
			slices.Reverse(s.ring[s.head:])
			slices.Reverse(s.ring)
			s.head = 0
		}
		if len(s.ring) == cap(s.ring) {
			grown := make([]memoryEntry, len(s.ring), min(max(2*len(s.ring), minRingCap), size))
			copy(grown, s.ring)
			s.ring = grown
		}
		s.ring = append(s.ring, e)
		s.n++
	default: // full at size: overwrite the oldest
		s.ring[s.head] = e
		s.head++
		if s.head == len(s.ring) {
			s.head = 0
		}
	}
}

// expireLocked drops entries appended before cutoff, releasing their payloads.
// When none are left the ring itself is released. The shard's mutex must be held.
func (s *memoryStream) expireLocked(cutoff time.Duration) {
	for s.n > 0 && s.ring[s.head].at < cutoff {
		s.ring[s.head] = memoryEntry{}
		s.head++
		if s.head == len(s.ring) {
			s.head = 0
		}
		s.n--
	}
	if s.n == 0 {
		s.ring = nil
		s.head = 0
	}
}

// newEpoch returns 8 random hex characters.
func newEpoch() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
