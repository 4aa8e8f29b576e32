package bench

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Histogram counts durations in log-linear buckets: exact below 64ns, then
// 32 buckets per power of two, so a quantile is off by at most 1/64 of its
// value (about 1.6%). Its size is fixed whatever the number of samples,
// which matters at tens of millions of deliveries. The zero value is empty
// and ready; it is not safe for concurrent use (Recorder is).
type Histogram struct {
	counts []uint64 // allocated on first use
	n      uint64
	sum    float64 // nanoseconds, for the mean
	min    int64
	max    int64
}

const (
	subBits    = 5
	subBuckets = 1 << subBits
	// numBuckets covers every non-negative int64: the largest shift is
	// 63-subBits-1, and each shift adds subBuckets buckets above the first
	// 2*subBuckets exact ones.
	numBuckets = (63 - subBits + 1) * subBuckets
)

// bucketOf returns the bucket index of a non-negative value.
func bucketOf(v int64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits - 1 // v>>shift is in [32, 64)
	return shift*subBuckets + int(v>>shift)
}

// bucketBounds returns the smallest and largest value of bucket i.
func bucketBounds(i int) (lo, hi int64) {
	if i < 2*subBuckets {
		return int64(i), int64(i)
	}
	shift := i/subBuckets - 1
	m := int64(i%subBuckets + subBuckets)
	lo = m << shift
	return lo, lo + (int64(1) << shift) - 1
}

// Record adds one duration; negative ones (clock steps) count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest sample, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the average sample.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the q-quantile (0 < q <= 1): the middle of the bucket
// holding the sample of rank ceil(q*n), kept within the exact min and max.
// An empty histogram answers 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(i)
			mid := lo + (hi-lo)/2
			return time.Duration(min(max(mid, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Bin is a range of the histogram for a chart: [Low, High] and its count.
type Bin struct {
	Low   time.Duration
	High  time.Duration
	Count uint64
}

// Bins groups the buckets into perOctave bins per power of two (a divisor
// of 32), from the first non-empty bin to the last; the exact buckets below
// 64ns are folded into one bin.
func (h *Histogram) Bins(perOctave int) []Bin {
	if h.n == 0 {
		return nil
	}
	if perOctave <= 0 || subBuckets%perOctave != 0 {
		perOctave = 4
	}
	width := subBuckets / perOctave
	var bins []Bin
	add := func(from, to int) { // buckets [from, to)
		var b Bin
		b.Low, _ = durBounds(from)
		_, b.High = durBounds(to - 1)
		for i := from; i < to; i++ {
			b.Count += h.counts[i]
		}
		bins = append(bins, b)
	}
	add(0, 2*subBuckets)
	for from := 2 * subBuckets; from < numBuckets; from += width {
		add(from, from+width)
	}
	first, last := -1, -1
	for i, b := range bins {
		if b.Count > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return bins[first : last+1]
}

func durBounds(i int) (time.Duration, time.Duration) {
	lo, hi := bucketBounds(i)
	return time.Duration(lo), time.Duration(hi)
}

// recorderShards spreads concurrent recording over independent locks.
const recorderShards = 16

// Recorder is a Histogram safe for concurrent use, sharded so that
// thousands of receiving goroutines do not queue on one lock. It also
// counts deliveries and keeps the time of the latest one.
type Recorder struct {
	shards [recorderShards]recorderShard
}

type recorderShard struct {
	mu    sync.Mutex
	h     Histogram
	count atomic.Int64
	last  atomic.Int64 // UnixNano of the latest delivery
	_     [64]byte     // keeps neighbouring shards off one cache line
}

// Record adds one latency observed at time at (UnixNano) by receiver key
// (any integer; receivers with different keys rarely share a lock).
func (r *Recorder) Record(key int, d time.Duration, at int64) {
	s := &r.shards[uint(key)%recorderShards]
	s.mu.Lock()
	s.h.Record(d)
	s.mu.Unlock()
	s.count.Add(1)
	for {
		old := s.last.Load()
		if at <= old || s.last.CompareAndSwap(old, at) {
			return
		}
	}
}

// Count returns the number of deliveries recorded so far.
func (r *Recorder) Count() int64 {
	var n int64
	for i := range r.shards {
		n += r.shards[i].count.Load()
	}
	return n
}

// Last returns the time of the latest delivery (zero time if none).
func (r *Recorder) Last() time.Time {
	var last int64
	for i := range r.shards {
		last = max(last, r.shards[i].last.Load())
	}
	if last == 0 {
		return time.Time{}
	}
	return time.Unix(0, last)
}

// Snapshot merges the shards into one Histogram.
func (r *Recorder) Snapshot() *Histogram {
	var h Histogram
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		h.Merge(&s.h)
		s.mu.Unlock()
	}
	return &h
}
