package hub

import (
	"sync/atomic"
	"time"
)

// writeStats counts what reached the sockets: frames, bytes, and the fanout
// latency of every publication's frame. Each writer has its own, added to by
// its goroutine alone, so that a delivery touches no cache line another CPU
// writes; the slow drains share the hub's (Hub.slowOut). Readers (Stats,
// FanoutLatency) sum them all.
type writeStats struct {
	frames atomic.Int64
	bytes  atomic.Int64
	fanout latencyHistogram
}

// record counts one write of frames and bytes. stamps holds each frame's
// publication time (unix nanoseconds, 0 for a reply); the clock is read
// once, and only when a stamp asks for it.
func (s *writeStats) record(frames int, bytes int64, stamps []int64, now func() time.Time) {
	s.frames.Add(int64(frames))
	s.bytes.Add(bytes)
	var t int64
	for _, ts := range stamps {
		if ts == 0 {
			continue
		}
		if t == 0 {
			t = now().UnixNano()
		}
		s.fanout.observe(time.Duration(t - ts))
	}
}

// fanoutBounds are the upper bounds (inclusive) of the fanout latency
// buckets, as /metrics has always shown them; a last bucket holds the rest.
var fanoutBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond,
}

// latencyHistogram counts durations into fanoutBounds' buckets.
type latencyHistogram struct {
	counts [len(fanoutBounds) + 1]atomic.Uint64 // per bucket, not cumulative
	sum    atomic.Int64                         // nanoseconds
}

func (l *latencyHistogram) observe(d time.Duration) {
	i := bucketOf(d)
	l.counts[i].Add(1)
	l.sum.Add(int64(d))
}

// bucketOf returns the index of d's fanout latency bucket.
func bucketOf(d time.Duration) int {
	i := 0
	for i < len(fanoutBounds) && d > fanoutBounds[i] {
		i++
	}
	return i
}

// localStats is what one writer goroutine wrote since it last added it to
// its shared writeStats: plain counters, so that a delivery costs no atomic
// operation. The writer adds them up every localStatsMax writes and before
// it waits for work, so Stats lags a busy writer by at most that many.
type localStats struct {
	writes, frames, bytes int64
	counts                [len(fanoutBounds) + 1]uint64
	sum                   int64
}

// localStatsMax is how many writes a writer counts locally at most.
const localStatsMax = 256

// record counts one write as writeStats.record does, and reports whether
// the counts should now be added to the shared ones.
func (l *localStats) record(frames int, bytes int64, stamps []int64, now func() time.Time) bool {
	l.writes++
	l.frames += int64(frames)
	l.bytes += bytes
	var t int64
	for _, ts := range stamps {
		if ts == 0 {
			continue
		}
		if t == 0 {
			t = now().UnixNano()
		}
		d := time.Duration(t - ts)
		l.counts[bucketOf(d)]++
		l.sum += int64(d)
	}
	return l.writes >= localStatsMax
}

// addTo adds l to s and empties l.
func (l *localStats) addTo(s *writeStats) {
	if l.writes == 0 {
		return
	}
	s.frames.Add(l.frames)
	s.bytes.Add(l.bytes)
	for i, n := range l.counts {
		if n != 0 {
			s.fanout.counts[i].Add(n)
		}
	}
	if l.sum != 0 {
		s.fanout.sum.Add(l.sum)
	}
	*l = localStats{}
}

// LatencyHistogram is a snapshot of a latency histogram.
type LatencyHistogram struct {
	// Bounds are the buckets' upper bounds (inclusive), but for the last
	// bucket's, which has none.
	Bounds []time.Duration
	// Counts holds each bucket's observations (not cumulative): one more
	// than Bounds.
	Counts []uint64
	Sum    time.Duration
}

// Count is the number of observations.
func (l LatencyHistogram) Count() uint64 {
	var n uint64
	for _, c := range l.Counts {
		n += c
	}
	return n
}

// FanoutLatency returns the time from a publication entering the server to
// its frame being written, over every frame written to a socket (the
// writers' and the slow drains'). The buckets are read one after the other
// while writers go on counting, so the sum may hold an observation that the
// counts do not yet, or the reverse; the counts never go back.
func (h *Hub) FanoutLatency() LatencyHistogram {
	out := LatencyHistogram{Bounds: fanoutBounds[:], Counts: make([]uint64, len(fanoutBounds)+1)}
	h.eachWriteStats(func(s *writeStats) {
		for i := range s.fanout.counts {
			out.Counts[i] += s.fanout.counts[i].Load()
		}
		out.Sum += time.Duration(s.fanout.sum.Load())
	})
	return out
}

// writtenOut sums the frames and bytes every writer and slow drain wrote.
func (h *Hub) writtenOut() (frames, bytes int64) {
	h.eachWriteStats(func(s *writeStats) {
		frames += s.frames.Load()
		bytes += s.bytes.Load()
	})
	return frames, bytes
}

func (h *Hub) eachWriteStats(f func(*writeStats)) {
	for i := range h.writers {
		f(&h.writers[i].out)
	}
	f(&h.slowOut)
}
