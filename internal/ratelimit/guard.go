package ratelimit

import "time"

// Guard is a connection's message limit: a token bucket, and a watch for
// abuse (a client that keeps sending far over its limit is to be closed,
// not just refused message by message). Like Bucket it is small enough to
// embed in every connection and not safe for concurrent use.
type Guard struct {
	bucket      Bucket
	windowStart int64 // start of the current second, unix nanos
	windowCount int   // messages in it
	abusiveFor  int   // consecutive seconds over the abuse threshold
}

// NewGuard returns a guard allowing perSecond messages, burst at once.
func NewGuard(perSecond float64, burst int, now time.Time) Guard {
	return Guard{bucket: NewBucket(perSecond, burst, now), windowStart: now.UnixNano()}
}

// Allow counts one message. ok says whether it is within the limit; abusive
// says that the connection has sent more than threshold messages a second
// for window, in a row, and should be closed.
func (g *Guard) Allow(now time.Time, threshold int, window time.Duration) (ok, abusive bool) {
	n := now.UnixNano()
	if n-g.windowStart >= int64(time.Second) {
		if g.windowCount > threshold {
			g.abusiveFor++
		} else {
			g.abusiveFor = 0
		}
		g.windowStart, g.windowCount = n, 0
	}
	g.windowCount++
	if g.abusiveFor > 0 && time.Duration(g.abusiveFor)*time.Second >= window {
		return false, true
	}
	return g.bucket.Allow(now), false
}
