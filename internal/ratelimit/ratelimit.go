// Package ratelimit has the two limiters the socket endpoints need: a token
// bucket small enough to embed in every connection, and a keyed set of them for
// connection attempts per client address.
package ratelimit

import (
	"sync"
	"time"
)

// Bucket is a token bucket. The zero value refuses everything; make one with
// NewBucket. It is not safe for concurrent use: a connection's messages are
// read by one goroutine at a time.
type Bucket struct {
	rate   float64 // tokens per nanosecond
	burst  float64
	tokens float64
	last   int64 // unix nanos
}

// NewBucket returns a full bucket refilled at perSecond up to burst.
func NewBucket(perSecond float64, burst int, now time.Time) Bucket {
	return Bucket{rate: perSecond / 1e9, burst: float64(burst), tokens: float64(burst), last: now.UnixNano()}
}

// Allow takes one token if there is one.
func (b *Bucket) Allow(now time.Time) bool {
	n := now.UnixNano()
	if n > b.last {
		b.tokens += float64(n-b.last) * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = n
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Keyed limits events per key (a client address). Keys idle long enough to be
// full again are forgotten on the next sweep, so memory follows the number of
// recent clients.
type Keyed struct {
	perSecond float64
	burst     int

	mu        sync.Mutex
	buckets   map[string]*Bucket
	lastSweep int64
}

// NewKeyed returns a keyed limiter; perSecond <= 0 disables it.
func NewKeyed(perSecond float64, burst int) *Keyed {
	return &Keyed{perSecond: perSecond, burst: burst, buckets: make(map[string]*Bucket)}
}

// Allow reports whether key may have one more event now.
func (k *Keyed) Allow(key string, now time.Time) bool {
	if k == nil || k.perSecond <= 0 {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sweepLocked(now)
	b := k.buckets[key]
	if b == nil {
		nb := NewBucket(k.perSecond, k.burst, now)
		b = &nb
		k.buckets[key] = b
	}
	return b.Allow(now)
}

// sweepLocked forgets buckets that have refilled completely. k.mu must be held.
func (k *Keyed) sweepLocked(now time.Time) {
	n := now.UnixNano()
	refill := int64(float64(k.burst) / k.perSecond * 1e9)
	if n-k.lastSweep < max(refill, int64(time.Second)) {
		return
	}
	k.lastSweep = n
	for key, b := range k.buckets {
		if n-b.last >= refill {
			delete(k.buckets, key)
		}
	}
}
