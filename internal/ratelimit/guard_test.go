package ratelimit

import (
	"testing"
	"time"
)

func TestGuard(t *testing.T) {
	now := time.Unix(100, 0)
	g := NewGuard(10, 10, now)
	// Within the limit.
	for i := range 10 {
		if ok, ab := g.Allow(now, 100, 3*time.Second); !ok || ab {
			t.Fatalf("message %d: ok %v abusive %v", i, ok, ab)
		}
	}
	if ok, _ := g.Allow(now, 100, 3*time.Second); ok {
		t.Fatal("11th message in the same instant allowed")
	}
	// 150 messages a second (over the threshold of 100) for three seconds:
	// abusive once the third full second is counted.
	abusiveAt := -1
	for sec := 1; sec <= 4 && abusiveAt < 0; sec++ {
		now = now.Add(time.Second)
		for i := range 150 {
			at := now.Add(time.Duration(i) * time.Millisecond)
			if _, ab := g.Allow(at, 100, 3*time.Second); ab {
				abusiveAt = sec
				break
			}
		}
	}
	if abusiveAt != 4 {
		t.Fatalf("abusive in second %d, want 4 (after three full seconds over)", abusiveAt)
	}
	// A quiet second resets the count.
	h := NewGuard(10, 10, now)
	for sec := 0; sec < 2; sec++ {
		now = now.Add(time.Second)
		for range 150 {
			h.Allow(now, 100, 3*time.Second)
		}
	}
	now = now.Add(time.Second)
	h.Allow(now, 100, 3*time.Second) // closes the second over: 2 seconds abusive
	now = now.Add(time.Second)
	if _, ab := h.Allow(now, 100, 3*time.Second); ab {
		t.Fatal("abusive after a quiet second")
	}
}
