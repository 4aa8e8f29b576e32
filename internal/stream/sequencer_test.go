package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"
)

// recorder collects deliveries per stream and signals each one.
type recorder struct {
	mu   sync.Mutex
	got  map[string][]uint64
	note chan struct{}
}

func newRecorder() *recorder {
	return &recorder{got: make(map[string][]uint64), note: make(chan struct{}, 1<<16)}
}

func (r *recorder) deliver(stream string, it Item) {
	r.mu.Lock()
	r.got[stream] = append(r.got[stream], it.Offset)
	r.mu.Unlock()
	r.note <- struct{}{}
}

func (r *recorder) wait(t *testing.T, stream string, n int) []uint64 {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		got := append([]uint64(nil), r.got[stream]...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.note:
		case <-deadline:
			t.Fatalf("stream %s: %d of %d delivered: %v", stream, len(got), n, got)
		}
	}
}

func items(offsets ...uint64) []Item {
	out := make([]Item, len(offsets))
	for i, o := range offsets {
		out[i] = Item{Offset: o, Value: o}
	}
	return out
}

func noFill(context.Context, string, uint64, uint64) ([]Item, error) {
	return nil, errors.New("fill not expected")
}

func TestSequencerOrders(t *testing.T) {
	tests := []struct {
		name   string
		start  uint64 // 0: not started
		pushed []uint64
		want   []uint64
	}{
		{"in order", 0, []uint64{1, 2, 3}, []uint64{1, 2, 3}},
		{"swapped", 0, []uint64{1, 3, 2, 4}, []uint64{1, 2, 3, 4}},
		{"reversed after the first", 0, []uint64{5, 8, 7, 6}, []uint64{5, 6, 7, 8}},
		{"duplicates dropped", 0, []uint64{1, 1, 2, 1, 3, 2}, []uint64{1, 2, 3}},
		{"started: older dropped", 10, []uint64{9, 10, 12, 11}, []uint64{11, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder()
			s := NewSequencer(SequencerConfig{Deliver: r.deliver, Fill: noFill, Wait: time.Hour})
			defer s.Close()
			if tt.start > 0 {
				s.Start("t", tt.start)
			}
			for _, it := range items(tt.pushed...) {
				s.Push("t", it)
			}
			if got := r.wait(t, "t", len(tt.want)); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("delivered %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSequencerFillsGapsFromTheStore(t *testing.T) {
	r := newRecorder()
	var mu sync.Mutex
	var asked []string
	fails := 1
	s := NewSequencer(SequencerConfig{
		Deliver: r.deliver,
		Wait:    5 * time.Millisecond,
		Retry:   5 * time.Millisecond,
		Fill: func(_ context.Context, stream string, from, to uint64) ([]Item, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, fmt.Sprintf("%s %d-%d", stream, from, to))
			if fails > 0 {
				fails--
				return nil, errors.New("store down")
			}
			var out []Item
			for o := from; o <= to; o++ {
				out = append(out, Item{Offset: o})
			}
			return out, nil
		},
	})
	defer s.Close()
	s.Push("t", Item{Offset: 1})
	s.Push("t", Item{Offset: 4}) // 2 and 3 never arrive by themselves
	if got := r.wait(t, "t", 4); fmt.Sprint(got) != "[1 2 3 4]" {
		t.Fatalf("delivered %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(asked) != "[t 2-3 t 2-3]" {
		t.Fatalf("fills %v, want one failed and one retried read of 2-3", asked)
	}
}

func TestSequencerSkipsWhatTheStoreNoLongerHas(t *testing.T) {
	r := newRecorder()
	skipped := make(chan string, 1)
	s := NewSequencer(SequencerConfig{
		Deliver: r.deliver,
		Wait:    time.Millisecond,
		Fill: func(_ context.Context, _ string, from, to uint64) ([]Item, error) {
			return items(3), nil // 2 was pruned
		},
		Skipped: func(stream string, from, to uint64) { skipped <- fmt.Sprintf("%s %d-%d", stream, from, to) },
	})
	defer s.Close()
	s.Push("t", Item{Offset: 1})
	s.Push("t", Item{Offset: 4})
	if got := r.wait(t, "t", 3); fmt.Sprint(got) != "[1 3 4]" {
		t.Fatalf("delivered %v", got)
	}
	select {
	case got := <-skipped:
		if got != "t 2-2" {
			t.Fatalf("skipped %q, want t 2-2", got)
		}
	default:
		t.Fatal("the missing offset was skipped without a word")
	}
}

func TestSequencerConcurrentStreams(t *testing.T) {
	r := newRecorder()
	s := NewSequencer(SequencerConfig{Deliver: r.deliver, Fill: noFill, Wait: time.Hour})
	defer s.Close()
	const streams, n = 8, 300
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		name := fmt.Sprintf("t%d", i)
		s.Start(name, 0)
		offsets := rand.New(rand.NewSource(int64(i))).Perm(n)
		// Two pushers per stream, each with half, both shuffled.
		for half := 0; half < 2; half++ {
			wg.Add(1)
			go func(part []int) {
				defer wg.Done()
				for _, o := range part {
					s.Push(name, Item{Offset: uint64(o + 1)})
				}
			}(offsets[half*n/2 : (half+1)*n/2])
		}
	}
	wg.Wait()
	for i := 0; i < streams; i++ {
		got := r.wait(t, fmt.Sprintf("t%d", i), n)
		for j, o := range got {
			if o != uint64(j+1) {
				t.Fatalf("stream t%d: position %d has offset %d", i, j, o)
			}
		}
	}
}

func TestSequencerCloseStopsPendingFills(t *testing.T) {
	s := NewSequencer(SequencerConfig{Deliver: func(string, Item) {}, Fill: noFill, Wait: time.Hour})
	s.Push("t", Item{Offset: 1})
	s.Push("t", Item{Offset: 3}) // a fill is scheduled an hour from now
	s.Push("u", Item{Offset: 1})
	s.Push("u", Item{Offset: 5})
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a scheduled fill")
	}
}

// A new subscriber starting a stream that is already running (it read top 5
// from the store while 2 and 3 are still in flight) must not make the
// sequencer skip what earlier subscribers are owed.
func TestSequencerStartOnARunningStream(t *testing.T) {
	r := newRecorder()
	s := NewSequencer(SequencerConfig{Deliver: r.deliver, Fill: noFill, Wait: time.Hour})
	defer s.Close()
	s.Push("t", Item{Offset: 1})
	s.Push("t", Item{Offset: 3})
	s.Start("t", 5)
	s.Push("t", Item{Offset: 2})
	if got := r.wait(t, "t", 3); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("delivered %v", got)
	}
}
