package stream

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a clock the test moves by hand. It is safe for concurrent use,
// since the history's pruning goroutine reads it too.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newFakeClockHistory returns a history on a fake clock with its pruning
// goroutine already stopped, so that only the test calls prune.
func newFakeClockHistory(t *testing.T, size int, ttl time.Duration) (*MemoryHistory, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	h := NewMemoryHistory(MemoryHistoryConfig{Size: size, TTL: ttl, Now: clock.Now})
	h.Close()
	return h, clock
}

func TestMemoryHistoryExpiresByTTL(t *testing.T) {
	h, clock := newFakeClockHistory(t, 10, time.Minute)
	ctx := context.Background()
	epoch := mustAppend(t, h, "s", payload(1)).Epoch
	clock.Advance(40 * time.Second)
	mustAppend(t, h, "s", payload(2))
	clock.Advance(30 * time.Second) // entry 1 is 70s old, entry 2 is 30s old

	tests := []struct {
		since     uint64
		wantFirst uint64
		wantErr   bool
	}{
		{since: 0, wantErr: true}, // entry 1 expired
		{since: 1, wantFirst: 2},
		{since: 2, wantFirst: 3}, // up to date: nothing
	}
	for _, tt := range tests {
		entries, pos, err := h.Since(ctx, "s", Position{tt.since, epoch}, 100)
		if pos != (Position{2, epoch}) {
			t.Errorf("since %d: position %+v", tt.since, pos)
		}
		if tt.wantErr {
			if !errors.Is(err, ErrUnrecoverable) {
				t.Errorf("since %d: err = %v, want ErrUnrecoverable", tt.since, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("since %d: %v", tt.since, err)
		}
		checkEntries(t, entries, tt.wantFirst, 2)
	}

	clock.Advance(31 * time.Second) // entry 2 is 61s old: nothing kept
	if _, _, err := h.Since(ctx, "s", Position{1, epoch}, 100); !errors.Is(err, ErrUnrecoverable) {
		t.Fatalf("since 1 after everything expired: err = %v, want ErrUnrecoverable", err)
	}
	entries, pos, err := h.Since(ctx, "s", Position{2, epoch}, 100)
	if err != nil || len(entries) != 0 || pos != (Position{2, epoch}) {
		t.Fatalf("up-to-date Since after expiry = %v, %+v, %v; want nothing, {2 %s}, nil", entries, pos, err, epoch)
	}
	// Offsets go on in the same epoch.
	if pos := mustAppend(t, h, "s", payload(3)); pos != (Position{3, epoch}) {
		t.Fatalf("Append after expiry = %+v, want {3 %s}", pos, epoch)
	}
}

func TestMemoryHistoryForgetsIdleStreams(t *testing.T) {
	const ttl = time.Minute
	h, clock := newFakeClockHistory(t, 10, ttl)
	ctx := context.Background()
	old := mustAppend(t, h, "idle", payload(1))
	mustTop(t, h, "busy")

	clock.Advance(ttl)
	mustTop(t, h, "busy") // reads keep a stream
	h.prune()
	if n := h.Streams(); n != 2 {
		t.Fatalf("Streams after TTL = %d, want 2 (nothing idle for longer than TTL)", n)
	}

	clock.Advance(time.Second)
	h.prune()
	if n := h.Streams(); n != 1 {
		t.Fatalf("Streams = %d, want 1 (idle forgotten, busy kept)", n)
	}
	top := mustTop(t, h, "idle")
	if top.Offset != 0 || top.Epoch == old.Epoch {
		t.Fatalf("Top of forgotten stream = %+v, want offset 0 and an epoch other than %q", top, old.Epoch)
	}
	if _, _, err := h.Since(ctx, "idle", old, 100); !errors.Is(err, ErrUnrecoverable) {
		t.Fatalf("Since(old position) = %v, want ErrUnrecoverable", err)
	}
}

func TestMemoryHistoryPruneDropsExpiredEntries(t *testing.T) {
	h, clock := newFakeClockHistory(t, 10, time.Minute)
	p := []byte("big")
	mustAppend(t, h, "s", p)
	clock.Advance(30 * time.Second)
	mustTop(t, h, "s")
	clock.Advance(31 * time.Second) // the entry is 61s old, the stream was used 31s ago
	h.prune()
	sh := h.shardFor("s")
	sh.mu.Lock()
	s := sh.streams["s"]
	sh.mu.Unlock()
	if s == nil {
		t.Fatal("stream forgotten; want it kept (used within TTL), only its entry dropped")
	}
	if s.n != 0 || s.ring != nil {
		t.Fatalf("after prune: n=%d ring=%v, want no entries and no ring", s.n, s.ring)
	}
}

func TestMemoryHistoryNoHistory(t *testing.T) {
	h := NewMemoryHistory(MemoryHistoryConfig{Size: -1})
	t.Cleanup(h.Close)
	ctx := context.Background()
	var pos Position
	for i := uint64(1); i <= 3; i++ {
		pos = mustAppend(t, h, "s", payload(i))
		if pos.Offset != i {
			t.Fatalf("Append #%d: offset %d", i, pos.Offset)
		}
	}
	entries, got, err := h.Since(ctx, "s", pos, 100)
	if err != nil || len(entries) != 0 || got != pos {
		t.Fatalf("Since(top) = %v, %+v, %v; want nothing, %+v, nil", entries, got, err, pos)
	}
	for _, since := range []uint64{0, 2} {
		if _, _, err := h.Since(ctx, "s", Position{since, pos.Epoch}, 100); !errors.Is(err, ErrUnrecoverable) {
			t.Fatalf("Since(%d) = %v, want ErrUnrecoverable", since, err)
		}
	}
}

func TestMemoryHistoryDefaults(t *testing.T) {
	tests := []struct {
		name         string
		cfg          MemoryHistoryConfig
		wantSize     int
		wantTTL      time.Duration
		wantInterval time.Duration
	}{
		{name: "zero", wantSize: 100, wantTTL: 5 * time.Minute, wantInterval: 75 * time.Second},
		{name: "negative TTL", cfg: MemoryHistoryConfig{TTL: -time.Second}, wantSize: 100, wantTTL: 5 * time.Minute, wantInterval: 75 * time.Second},
		{name: "short TTL", cfg: MemoryHistoryConfig{Size: 3, TTL: time.Second}, wantSize: 3, wantTTL: time.Second, wantInterval: time.Second},
		{name: "no history", cfg: MemoryHistoryConfig{Size: -5}, wantSize: 0, wantTTL: 5 * time.Minute, wantInterval: 75 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewMemoryHistory(tt.cfg)
			defer h.Close()
			if h.size != tt.wantSize || h.ttl != tt.wantTTL || h.interval != tt.wantInterval {
				t.Fatalf("size=%d ttl=%v interval=%v, want %d %v %v", h.size, h.ttl, h.interval, tt.wantSize, tt.wantTTL, tt.wantInterval)
			}
		})
	}
}

func TestMemoryHistoryAppendDoesNotCopy(t *testing.T) {
	h := NewMemoryHistory(MemoryHistoryConfig{})
	t.Cleanup(h.Close)
	p := []byte("payload")
	pos := mustAppend(t, h, "s", p)
	entries, _, err := h.Since(context.Background(), "s", Position{0, pos.Epoch}, 1)
	if err != nil || len(entries) != 1 {
		t.Fatalf("Since = %v, %v", entries, err)
	}
	if &entries[0].Payload[0] != &p[0] {
		t.Fatal("Since returned a copy of the payload; want the appended slice")
	}
}

func TestMemoryHistoryCloseStopsPruner(t *testing.T) {
	defer goleak.VerifyNone(t)
	h := NewMemoryHistory(MemoryHistoryConfig{TTL: time.Second})
	mustAppend(t, h, "s", payload(1))
	h.Close()
	h.Close() // a second Close returns at once
	if pos := mustAppend(t, h, "s", payload(2)); pos.Offset != 2 {
		t.Fatalf("Append after Close: offset %d, want 2", pos.Offset)
	}
}

// TestMemoryHistoryModel runs random appends, clock moves, prunes and reads
// against a plain-slice model, to exercise the ring's wrapping and growing.
func TestMemoryHistoryModel(t *testing.T) {
	for _, size := range []int{1, 3, 7, 40} {
		t.Run(strconv.Itoa(size), func(t *testing.T) { testMemoryHistoryModel(t, size) })
	}
}

func testMemoryHistoryModel(t *testing.T, size int) {
	const ttl = 10 * time.Second
	type kept struct {
		offset uint64
		at     time.Time
	}
	h, clock := newFakeClockHistory(t, size, ttl)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, uint64(size)))

	var (
		epoch    = mustTop(t, h, "s").Epoch
		top      uint64
		model    []kept
		lastUsed = clock.Now()
	)
	expire := func() {
		cutoff := clock.Now().Add(-ttl)
		for len(model) > 0 && model[0].at.Before(cutoff) {
			model = model[1:]
		}
	}
	for step := range 5000 {
		switch op := rng.IntN(10); {
		case op < 6:
			pos := mustAppend(t, h, "s", payload(top+1))
			top++
			lastUsed = clock.Now()
			model = append(model, kept{offset: top, at: lastUsed})
			if len(model) > size {
				model = model[1:]
			}
			if pos != (Position{top, epoch}) {
				t.Fatalf("step %d: Append = %+v, want {%d %s}", step, pos, top, epoch)
			}
		case op < 8:
			clock.Advance(time.Duration(rng.IntN(int(ttl / 3))))
		case op < 9:
			h.prune()
			expire()
			if len(model) == 0 && lastUsed.Before(clock.Now().Add(-ttl)) {
				if h.Streams() != 0 {
					t.Fatalf("step %d: idle stream not forgotten", step)
				}
				epoch, top, lastUsed = mustTop(t, h, "s").Epoch, 0, clock.Now()
			}
		default:
			expire()
			lastUsed = clock.Now()
			since := top
			if top > 0 {
				since = top - uint64(rng.IntN(min(int(top), size+2)+1))
			}
			entries, pos, err := h.Since(ctx, "s", Position{since, epoch}, -1)
			if pos != (Position{top, epoch}) {
				t.Fatalf("step %d: Since position = %+v, want {%d %s}", step, pos, top, epoch)
			}
			recoverable := since == top || (len(model) > 0 && model[0].offset <= since+1)
			if !recoverable {
				if !errors.Is(err, ErrUnrecoverable) {
					t.Fatalf("step %d: Since(%d) err = %v, want ErrUnrecoverable (model %v)", step, since, err, model)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d: Since(%d): %v (model %v)", step, since, err, model)
			}
			checkEntries(t, entries, since+1, top)
		}
	}
}

func TestMemoryHistoryManyStreams(t *testing.T) {
	h := NewMemoryHistory(MemoryHistoryConfig{Size: 2})
	t.Cleanup(h.Close)
	const n = 1000
	for i := range n {
		name := "s" + strconv.Itoa(i)
		for j := range i%3 + 1 {
			if pos := mustAppend(t, h, name, payload(uint64(j+1))); pos.Offset != uint64(j+1) {
				t.Fatalf("%s: offset %d, want %d", name, pos.Offset, j+1)
			}
		}
	}
	if got := h.Streams(); got != n {
		t.Fatalf("Streams = %d, want %d", got, n)
	}
	used := 0
	for i := range h.shards {
		if len(h.shards[i].streams) > 0 {
			used++
		}
	}
	if used < numShards/2 {
		t.Fatalf("only %d of %d shards used", used, numShards)
	}
}
