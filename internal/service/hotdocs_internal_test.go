package service

import (
	"testing"
	"time"
)

// A record rests for hotRest, twice as long each time it rests again
// within as long after its last rest, up to hotRestMax; once it has not
// rested for as long as its last rest, the next is hotRest again.
func TestHotRestGrows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	h := newHotDocs(nil, func() time.Time { return now }, nil)
	k := hotKey{1, 2}
	resting := func() bool { _, r := h.peek(k.table, k.id); return r }
	restAt := func(at time.Time) {
		now = at
		h.mu.Lock()
		h.restLocked(k, at)
		h.mu.Unlock()
	}
	restsUntil := func(from time.Time) time.Duration { // how long it rests from `from`
		var d time.Duration
		for now = from; resting(); now = now.Add(100 * time.Millisecond) {
			d += 100 * time.Millisecond
		}
		return d
	}
	if resting() {
		t.Fatal("a record rests before any rest")
	}
	at := t0
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 16 * time.Second} {
		restAt(at)
		if got := restsUntil(at); got != want {
			t.Fatalf("rest %d lasted %v, want %v", i, got, want)
		}
		at = at.Add(want + 500*time.Millisecond) // rests again soon after
	}
	restAt(at.Add(time.Minute)) // long after the last
	if got := restsUntil(now); got != time.Second {
		t.Fatalf("a rest long after the last lasted %v, want %v", got, time.Second)
	}
}
