package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// contractSize is the Size that a history given to testHistoryContract must be
// configured with. Its TTL must be long enough (a minute or more) that nothing
// expires while the suite runs.
const contractSize = 10

// testHistoryContract is the behaviour every History implementation must have.
// newHistory returns a new, empty history with Size contractSize and a long TTL,
// and registers its cleanup with t.
func testHistoryContract(t *testing.T, newHistory func(t *testing.T) History) {
	t.Run("AppendAssignsGaplessOffsets", func(t *testing.T) {
		t.Parallel()
		h := newHistory(t)
		ctx := context.Background()
		var epoch string
		for want := uint64(1); want <= 5; want++ {
			pos, err := h.Append(ctx, "s", payload(want))
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if pos.Offset != want {
				t.Fatalf("Append #%d: offset %d", want, pos.Offset)
			}
			if epoch == "" {
				epoch = pos.Epoch
			}
			if pos.Epoch == "" || pos.Epoch != epoch {
				t.Fatalf("Append #%d: epoch %q, want %q (non-empty, stable)", want, pos.Epoch, epoch)
			}
		}
		top := mustTop(t, h, "s")
		if top != (Position{Offset: 5, Epoch: epoch}) {
			t.Fatalf("Top = %+v, want {5 %s}", top, epoch)
		}
	})

	t.Run("TopOfUnknownStreamIsKept", func(t *testing.T) {
		t.Parallel()
		h := newHistory(t)
		ctx := context.Background()
		top := mustTop(t, h, "s")
		if top.Offset != 0 || top.Epoch == "" {
			t.Fatalf("Top of unknown stream = %+v, want offset 0 and an epoch", top)
		}
		if again := mustTop(t, h, "s"); again != top {
			t.Fatalf("second Top = %+v, want %+v", again, top)
		}
		// A client that subscribed at {0, E} must recover every later entry.
		for i := uint64(1); i <= 3; i++ {
			pos, err := h.Append(ctx, "s", payload(i))
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if pos.Epoch != top.Epoch {
				t.Fatalf("Append after Top changed the epoch: %q, want %q", pos.Epoch, top.Epoch)
			}
		}
		entries, now, err := h.Since(ctx, "s", top, 1000)
		if err != nil {
			t.Fatalf("Since(%+v): %v", top, err)
		}
		checkEntries(t, entries, 1, 3)
		if now != (Position{Offset: 3, Epoch: top.Epoch}) {
			t.Fatalf("Since position = %+v", now)
		}
	})

	t.Run("SinceOnUnknownStreamKeepsPosition", func(t *testing.T) {
		t.Parallel()
		h := newHistory(t)
		_, pos, err := h.Since(context.Background(), "s", Position{Offset: 0, Epoch: "nope"}, 10)
		if !errors.Is(err, ErrUnrecoverable) {
			t.Fatalf("Since with a made-up epoch: err = %v, want ErrUnrecoverable", err)
		}
		if pos.Offset != 0 || pos.Epoch == "" {
			t.Fatalf("Since position = %+v, want offset 0 and an epoch", pos)
		}
		if top := mustTop(t, h, "s"); top != pos {
			t.Fatalf("Top = %+v, want the position Since returned %+v", top, pos)
		}
	})

	t.Run("StreamsAreIndependent", func(t *testing.T) {
		t.Parallel()
		h := newHistory(t)
		ctx := context.Background()
		a1 := mustAppend(t, h, "a", []byte("a1"))
		b1 := mustAppend(t, h, "b", []byte("b1"))
		a2 := mustAppend(t, h, "a", []byte("a2"))
		if a1.Offset != 1 || b1.Offset != 1 || a2.Offset != 2 {
			t.Fatalf("offsets a1=%d b1=%d a2=%d, want 1 1 2", a1.Offset, b1.Offset, a2.Offset)
		}
		if a1.Epoch == b1.Epoch {
			t.Fatalf("streams a and b share epoch %q", a1.Epoch)
		}
		entries, _, err := h.Since(ctx, "b", Position{Epoch: b1.Epoch}, 10)
		if err != nil || len(entries) != 1 || string(entries[0].Payload) != "b1" {
			t.Fatalf("Since(b) = %v, %v; want [b1]", entries, err)
		}
	})

	t.Run("Since", func(t *testing.T) {
		t.Parallel()
		h := newHistory(t)
		ctx := context.Background()
		var epoch string
		for i := uint64(1); i <= 5; i++ {
			epoch = mustAppend(t, h, "s", payload(i)).Epoch
		}
		tests := []struct {
			name      string
			since     Position
			limit     int
			wantFirst uint64 // 0: no entries expected
			wantErr   bool
		}{
			{name: "from zero", since: Position{0, epoch}, limit: 1000, wantFirst: 1},
			{name: "from middle", since: Position{2, epoch}, limit: 1000, wantFirst: 3},
			{name: "last missed", since: Position{4, epoch}, limit: 1000, wantFirst: 5},
			{name: "up to date", since: Position{5, epoch}, limit: 1000},
			{name: "up to date with limit 0", since: Position{5, epoch}, limit: 0},
			{name: "no limit", since: Position{0, epoch}, limit: -1, wantFirst: 1},
			{name: "exactly the limit", since: Position{0, epoch}, limit: 5, wantFirst: 1},
			{name: "over the limit", since: Position{0, epoch}, limit: 4, wantErr: true},
			{name: "limit 0 with one missed", since: Position{4, epoch}, limit: 0, wantErr: true},
			{name: "other epoch", since: Position{2, epoch + "x"}, limit: 1000, wantErr: true},
			{name: "other epoch at zero", since: Position{0, epoch + "x"}, limit: 1000, wantErr: true},
			{name: "empty epoch", since: Position{5, ""}, limit: 1000, wantErr: true},
			{name: "future offset", since: Position{6, epoch}, limit: 1000, wantErr: true},
			{name: "far future offset", since: Position{1 << 62, epoch}, limit: 1000, wantErr: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				entries, pos, err := h.Since(ctx, "s", tt.since, tt.limit)
				if want := (Position{Offset: 5, Epoch: epoch}); pos != want {
					t.Errorf("position = %+v, want %+v (also on error)", pos, want)
				}
				if tt.wantErr {
					if !errors.Is(err, ErrUnrecoverable) {
						t.Fatalf("err = %v, want ErrUnrecoverable", err)
					}
					if len(entries) != 0 {
						t.Fatalf("got %d entries with an error", len(entries))
					}
					return
				}
				if err != nil {
					t.Fatalf("Since: %v", err)
				}
				if tt.wantFirst == 0 {
					checkEntries(t, entries, 1, 0)
					return
				}
				checkEntries(t, entries, tt.wantFirst, 5)
			})
		}
	})

	t.Run("PrunedBySize", func(t *testing.T) {
		t.Parallel()
		h := newHistory(t)
		ctx := context.Background()
		const total = contractSize + 3
		var epoch string
		for i := uint64(1); i <= total; i++ {
			epoch = mustAppend(t, h, "s", payload(i)).Epoch
		}
		oldest := uint64(total - contractSize + 1) // 4
		tests := []struct {
			since   uint64
			wantErr bool
		}{
			{since: 0, wantErr: true},
			{since: oldest - 2, wantErr: true},
			{since: oldest - 1},
			{since: oldest},
			{since: total - 1},
			{since: total},
		}
		for _, tt := range tests {
			t.Run(strconv.FormatUint(tt.since, 10), func(t *testing.T) {
				entries, _, err := h.Since(ctx, "s", Position{tt.since, epoch}, 1000)
				if tt.wantErr {
					if !errors.Is(err, ErrUnrecoverable) {
						t.Fatalf("err = %v, want ErrUnrecoverable", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Since: %v", err)
				}
				checkEntries(t, entries, tt.since+1, total)
			})
		}
	})

	t.Run("ConcurrentAppendsToOneStream", func(t *testing.T) {
		t.Parallel()
		h := newHistory(t)
		ctx := context.Background()
		const workers, each = 16, 200
		var (
			mu      sync.Mutex
			byOff   = make(map[uint64][]byte, workers*each)
			epochs  = make(map[string]bool)
			wg      sync.WaitGroup
			errOnce sync.Once
			failure error
		)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					p := []byte(fmt.Sprintf("w%d-%d", w, i))
					pos, err := h.Append(ctx, "s", p)
					mu.Lock()
					if err != nil {
						errOnce.Do(func() { failure = err })
					} else if _, dup := byOff[pos.Offset]; dup {
						errOnce.Do(func() { failure = fmt.Errorf("offset %d assigned twice", pos.Offset) })
					}
					byOff[pos.Offset] = p
					epochs[pos.Epoch] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if failure != nil {
			t.Fatal(failure)
		}
		const total = workers * each
		for off := uint64(1); off <= total; off++ {
			if _, ok := byOff[off]; !ok {
				t.Fatalf("offset %d never assigned (gap)", off)
			}
		}
		if len(epochs) != 1 {
			t.Fatalf("appends saw %d epochs, want 1", len(epochs))
		}
		top := mustTop(t, h, "s")
		if top.Offset != total || !epochs[top.Epoch] {
			t.Fatalf("Top = %+v, want offset %d", top, total)
		}
		// The kept entries are the ones their appenders were told about.
		entries, _, err := h.Since(ctx, "s", Position{total - contractSize, top.Epoch}, -1)
		if err != nil {
			t.Fatalf("Since: %v", err)
		}
		if len(entries) != contractSize {
			t.Fatalf("got %d entries, want %d", len(entries), contractSize)
		}
		for _, e := range entries {
			if !bytes.Equal(e.Payload, byOff[e.Offset]) {
				t.Fatalf("offset %d: payload %q, appender got %q", e.Offset, e.Payload, byOff[e.Offset])
			}
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		t.Parallel()
		h := newHistory(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := h.Append(ctx, "s", []byte("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("Append: err = %v, want context.Canceled", err)
		}
		if _, err := h.Top(ctx, "s"); !errors.Is(err, context.Canceled) {
			t.Errorf("Top: err = %v, want context.Canceled", err)
		}
		if _, _, err := h.Since(ctx, "s", Position{}, 10); !errors.Is(err, context.Canceled) {
			t.Errorf("Since: err = %v, want context.Canceled", err)
		}
	})
}

func payload(i uint64) []byte { return []byte("m" + strconv.FormatUint(i, 10)) }

// checkEntries fails unless entries are exactly offsets first..last in order,
// each with payload(offset). last < first means no entries.
func checkEntries(t *testing.T, entries []Entry, first, last uint64) {
	t.Helper()
	want := 0
	if last >= first {
		want = int(last - first + 1)
	}
	if len(entries) != want {
		t.Fatalf("got %d entries, want %d (offsets %d..%d)", len(entries), want, first, last)
	}
	for i, e := range entries {
		off := first + uint64(i)
		if e.Offset != off || !bytes.Equal(e.Payload, payload(off)) {
			t.Fatalf("entry %d = {%d %q}, want {%d %q}", i, e.Offset, e.Payload, off, payload(off))
		}
	}
}

func mustAppend(t *testing.T, h History, stream string, p []byte) Position {
	t.Helper()
	pos, err := h.Append(context.Background(), stream, p)
	if err != nil {
		t.Fatalf("Append(%q): %v", stream, err)
	}
	return pos
}

func mustTop(t *testing.T, h History, stream string) Position {
	t.Helper()
	pos, err := h.Top(context.Background(), stream)
	if err != nil {
		t.Fatalf("Top(%q): %v", stream, err)
	}
	return pos
}
