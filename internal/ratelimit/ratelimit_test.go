package ratelimit

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := NewBucket(10, 3, t0)
	for i := 0; i < 3; i++ {
		if !b.Allow(t0) {
			t.Fatalf("burst token %d refused", i)
		}
	}
	if b.Allow(t0) {
		t.Fatal("fourth token in the same instant allowed")
	}
	if !b.Allow(t0.Add(100 * time.Millisecond)) {
		t.Fatal("token refilled after 100ms at 10/s refused")
	}
	if b.Allow(t0.Add(100 * time.Millisecond)) {
		t.Fatal("second token after one refill allowed")
	}
	if got := 0; true {
		later := t0.Add(time.Hour)
		for b.Allow(later) {
			got++
		}
		if got != 3 {
			t.Fatalf("after a long pause %d tokens, want the burst 3", got)
		}
	}
	var zero Bucket
	if zero.Allow(t0) {
		t.Fatal("zero bucket allowed")
	}
}

func TestKeyed(t *testing.T) {
	t0 := time.Unix(1000, 0)
	k := NewKeyed(1, 2)
	for i := range 2 {
		if !k.Allow("a", t0) {
			t.Fatalf("take %d of the burst of 2 refused", i+1)
		}
	}
	if k.Allow("a", t0) {
		t.Fatal("over burst allowed")
	}
	if !k.Allow("b", t0) {
		t.Fatal("other key limited by a's use")
	}
	if !k.Allow("a", t0.Add(time.Second)) {
		t.Fatal("refill refused")
	}
	k.Allow("c", t0.Add(time.Hour))
	k.mu.Lock()
	n := len(k.buckets)
	k.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d buckets kept after they refilled, want only the new one", n)
	}
	var off *Keyed
	if !off.Allow("x", t0) || !NewKeyed(0, 0).Allow("x", t0) {
		t.Fatal("disabled limiter refused")
	}
}
