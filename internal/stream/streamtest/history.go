// Package streamtest holds the contract every stream.History implementation
// must pass, for the implementations outside package stream (Redis).
package streamtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/tablecast/tablecast/internal/stream"
	"strconv"
	"sync"
	"testing"
)

// ContractSize is the Size that a history given to HistoryContract must be
// configured with. Its TTL must be long enough (a minute or more) that nothing
// expires while the suite runs.
const ContractSize = 10

// HistoryContract is the behaviour every stream.History implementation must have.
// newHistory returns a new, empty history with Size ContractSize and a long TTL,
// and registers its cleanup with t.
func HistoryContract(t *testing.T, newHistory func(t *testing.T) stream.History) {
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
		if top != (stream.Position{Offset: 5, Epoch: epoch}) {
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
		if now != (stream.Position{Offset: 3, Epoch: top.Epoch}) {
			t.Fatalf("Since position = %+v", now)
		}
	})

	t.Run("SinceOnUnknownStreamKeepsPosition", func(t *testing.T) {
		t.Parallel()
		h := newHistory(t)
		_, pos, err := h.Since(context.Background(), "s", stream.Position{Offset: 0, Epoch: "nope"}, 10)
		if !errors.Is(err, stream.ErrUnrecoverable) {
			t.Fatalf("Since with a made-up epoch: err = %v, want stream.ErrUnrecoverable", err)
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
		entries, _, err := h.Since(ctx, "b", stream.Position{Epoch: b1.Epoch}, 10)
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
			since     stream.Position
			limit     int
			wantFirst uint64 // 0: no entries expected
			wantErr   bool
		}{
			{name: "from zero", since: stream.Position{Offset: 0, Epoch: epoch}, limit: 1000, wantFirst: 1},
			{name: "from middle", since: stream.Position{Offset: 2, Epoch: epoch}, limit: 1000, wantFirst: 3},
			{name: "last missed", since: stream.Position{Offset: 4, Epoch: epoch}, limit: 1000, wantFirst: 5},
			{name: "up to date", since: stream.Position{Offset: 5, Epoch: epoch}, limit: 1000},
			{name: "up to date with limit 0", since: stream.Position{Offset: 5, Epoch: epoch}, limit: 0},
			{name: "no limit", since: stream.Position{Offset: 0, Epoch: epoch}, limit: -1, wantFirst: 1},
			{name: "exactly the limit", since: stream.Position{Offset: 0, Epoch: epoch}, limit: 5, wantFirst: 1},
			{name: "over the limit", since: stream.Position{Offset: 0, Epoch: epoch}, limit: 4, wantErr: true},
			{name: "limit 0 with one missed", since: stream.Position{Offset: 4, Epoch: epoch}, limit: 0, wantErr: true},
			{name: "other epoch", since: stream.Position{Offset: 2, Epoch: epoch + "x"}, limit: 1000, wantErr: true},
			{name: "other epoch at zero", since: stream.Position{Offset: 0, Epoch: epoch + "x"}, limit: 1000, wantErr: true},
			{name: "empty epoch", since: stream.Position{Offset: 5, Epoch: ""}, limit: 1000, wantErr: true},
			{name: "future offset", since: stream.Position{Offset: 6, Epoch: epoch}, limit: 1000, wantErr: true},
			{name: "far future offset", since: stream.Position{Offset: 1 << 62, Epoch: epoch}, limit: 1000, wantErr: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				entries, pos, err := h.Since(ctx, "s", tt.since, tt.limit)
				if want := (stream.Position{Offset: 5, Epoch: epoch}); pos != want {
					t.Errorf("position = %+v, want %+v (also on error)", pos, want)
				}
				if tt.wantErr {
					if !errors.Is(err, stream.ErrUnrecoverable) {
						t.Fatalf("err = %v, want stream.ErrUnrecoverable", err)
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
		const total = ContractSize + 3
		var epoch string
		for i := uint64(1); i <= total; i++ {
			epoch = mustAppend(t, h, "s", payload(i)).Epoch
		}
		oldest := uint64(total - ContractSize + 1) // 4
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
				entries, _, err := h.Since(ctx, "s", stream.Position{Offset: tt.since, Epoch: epoch}, 1000)
				if tt.wantErr {
					if !errors.Is(err, stream.ErrUnrecoverable) {
						t.Fatalf("err = %v, want stream.ErrUnrecoverable", err)
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
		entries, _, err := h.Since(ctx, "s", stream.Position{Offset: total - ContractSize, Epoch: top.Epoch}, -1)
		if err != nil {
			t.Fatalf("Since: %v", err)
		}
		if len(entries) != ContractSize {
			t.Fatalf("got %d entries, want %d", len(entries), ContractSize)
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
		if _, _, err := h.Since(ctx, "s", stream.Position{}, 10); !errors.Is(err, context.Canceled) {
			t.Errorf("Since: err = %v, want context.Canceled", err)
		}
	})
}

func payload(i uint64) []byte { return []byte("m" + strconv.FormatUint(i, 10)) }

// checkEntries fails unless entries are exactly offsets first..last in order,
// each with payload(offset). last < first means no entries.
func checkEntries(t *testing.T, entries []stream.Entry, first, last uint64) {
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

func mustAppend(t *testing.T, h stream.History, name string, p []byte) stream.Position {
	t.Helper()
	pos, err := h.Append(context.Background(), name, p)
	if err != nil {
		t.Fatalf("Append(%q): %v", name, err)
	}
	return pos
}

func mustTop(t *testing.T, h stream.History, name string) stream.Position {
	t.Helper()
	pos, err := h.Top(context.Background(), name)
	if err != nil {
		t.Fatalf("Top(%q): %v", name, err)
	}
	return pos
}
