package tablestream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/stream"
)

func ev(s string, off uint64, size int) *hub.Publication {
	return &hub.Publication{Kind: hub.KindEvent, Stream: s, Offset: off, Epoch: Epoch, Data: []byte(strings.Repeat("x", size))}
}

func offsets(ps []*hub.Publication) string {
	out := make([]uint64, len(ps))
	for i, p := range ps {
		out[i] = p.Offset
	}
	return fmt.Sprint(out)
}

func TestRecent(t *testing.T) {
	r := newRecent(4, 100)
	for o := uint64(1); o <= 6; o++ {
		r.remember(ev("table:1", o, 1))
	}
	for _, tt := range []struct {
		from, to uint64
		want     string
		ok       bool
	}{
		{3, 6, "[3 4 5 6]", true}, // the last 4 are kept
		{5, 5, "[5]", true},
		{2, 6, "", false}, // 2 was dropped
		{6, 7, "", false}, // 7 not delivered yet
	} {
		got, ok := r.span("table:1", tt.from, tt.to)
		if ok != tt.ok || (ok && offsets(got) != tt.want) {
			t.Errorf("span(%d, %d) = %s, %v; want %s, %v", tt.from, tt.to, offsets(got), ok, tt.want, tt.ok)
		}
	}
	// A gap starts the run anew.
	r.remember(ev("table:1", 9, 1))
	if _, ok := r.span("table:1", 6, 6); ok {
		t.Error("kept an event from before a gap")
	}
	if got, ok := r.span("table:1", 9, 9); !ok || offsets(got) != "[9]" {
		t.Errorf("after the gap: %s %v", offsets(got), ok)
	}
	// The byte bound evicts the least recently used stream.
	r.remember(ev("table:2", 1, 60))
	r.remember(ev("table:3", 1, 60)) // over 100 bytes: table:1 goes first, then table:2
	if _, ok := r.span("table:2", 1, 1); ok {
		t.Error("table:2 kept past the byte bound")
	}
	if _, ok := r.span("table:3", 1, 1); !ok {
		t.Error("the newest stream was evicted")
	}
}

// failingOutbox refuses every event read: recovery must come from memory.
type failingOutbox struct{ Outbox }

func (failingOutbox) Events(context.Context, store.Stream, uint64, int) ([]store.Event, error) {
	return nil, errors.New("the store was asked")
}

func TestSinceFromRecentEvents(t *testing.T) {
	st := openStore(t)
	commit(t, st, store.TableStream(1), "", "", "")
	s := New(failingOutbox{Outbox: st}, 0)
	for o := uint64(1); o <= 3; o++ {
		s.Remember(ev("table:1", o, 10))
	}
	pubs, top, err := s.Since(context.Background(), "table:1", stream.Position{Offset: 1, Epoch: Epoch}, 100)
	if err != nil || offsets(pubs) != "[2 3]" || top.Offset != 3 {
		t.Fatalf("Since: %s %+v %v", offsets(pubs), top, err)
	}
	if s.Reads() != 0 {
		t.Fatalf("%d store reads for a range held in memory", s.Reads())
	}
}
