package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	prevHi := int64(-1)
	for i := range numBuckets {
		lo, hi := bucketBounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d is [%d, %d], previous ended at %d", i, lo, hi, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d: bucketOf(%d)=%d, bucketOf(%d)=%d", i, lo, bucketOf(lo), hi, bucketOf(hi))
		}
		prevHi = hi
	}
	if prevHi != math.MaxInt64 {
		t.Fatalf("the last bucket ends at %d, want MaxInt64", prevHi)
	}
}

func TestQuantilesMatchSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, gen := range map[string]func() time.Duration{
		"uniform 0-10ms":  func() time.Duration { return time.Duration(rng.Int64N(int64(10 * time.Millisecond))) },
		"exponential 1ms": func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(time.Millisecond)) },
		"small integers":  func() time.Duration { return time.Duration(rng.IntN(50)) },
	} {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			samples := make([]time.Duration, 20000)
			for i := range samples {
				samples[i] = gen()
				h.Record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999} {
				exact := samples[int(math.Ceil(q*float64(len(samples))))-1]
				got := h.Quantile(q)
				if diff := math.Abs(float64(got - exact)); diff > float64(exact)/64+1 {
					t.Errorf("q%.3f = %v, exact %v (off by %.2f%%)", q, got, exact, 100*diff/float64(exact))
				}
			}
			if h.Quantile(1) != samples[len(samples)-1] || h.Max() != samples[len(samples)-1] {
				t.Errorf("max = %v, want %v", h.Max(), samples[len(samples)-1])
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Bins(4) != nil {
		t.Fatal("an empty histogram should answer zeros")
	}
	h.Record(-5 * time.Millisecond) // a clock step
	h.Record(3 * time.Millisecond)
	if h.Count() != 2 || h.Quantile(0.5) != 0 || h.Max() != 3*time.Millisecond {
		t.Fatalf("count %d p50 %v max %v", h.Count(), h.Quantile(0.5), h.Max())
	}
	var sum uint64
	for _, b := range h.Bins(4) {
		sum += b.Count
	}
	if sum != 2 {
		t.Fatalf("bins hold %d samples, want 2", sum)
	}
}

func TestMerge(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	a.Merge(&Histogram{}) // empty: no change
	for _, q := range []float64{0.1, 0.5, 0.99, 1} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %v, direct %v", q, a.Quantile(q), all.Quantile(q))
		}
	}
	if a.Count() != all.Count() || a.Mean() != all.Mean() {
		t.Errorf("merged count %d mean %v, direct %d %v", a.Count(), a.Mean(), all.Count(), all.Mean())
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var r Recorder
	var wg sync.WaitGroup
	base := time.Now().UnixNano()
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				r.Record(g, time.Duration(i)*time.Microsecond, base+int64(g*1000+i))
			}
		}()
	}
	wg.Wait()
	if r.Count() != 8000 || r.Snapshot().Count() != 8000 {
		t.Fatalf("count %d, snapshot %d, want 8000", r.Count(), r.Snapshot().Count())
	}
	if got := r.Last().UnixNano(); got != base+7999 {
		t.Fatalf("last = %d, want %d", got, base+7999)
	}
}
