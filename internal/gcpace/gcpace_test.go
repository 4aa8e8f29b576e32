package gcpace

import (
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name           string
		live, headroom uint64
		base, want     int
	}{
		{"small heap gets the headroom", 8 * mib, 32 * mib, 100, 400},
		{"rounded up", 12 * mib, 32 * mib, 100, 267},
		{"tiny heap: the runtime's minimum heap bounds it", 1 * mib, 32 * mib, 100, 825},
		{"large heap keeps the base", 64 * mib, 32 * mib, 100, 100},
		{"a larger base wins", 8 * mib, 32 * mib, 500, 500},
		{"bounded", 1 * mib, 512 * mib, 100, maxPercent},
		{"no live heap yet", 0, 32 * mib, 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentFor(tc.live, tc.headroom, tc.base); got != tc.want {
				t.Errorf("percentFor(%d, %d, %d) = %d, want %d", tc.live, tc.headroom, tc.base, got, tc.want)
			}
		})
	}
}

// TestPacesAfterEachCollection runs the real runtime: after a collection
// the GC percentage in force is the one the live heap and the headroom
// give, and Stop puts the old one back.
func TestPacesAfterEachCollection(t *testing.T) {
	t.Setenv("GOGC", "")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	p := newPacer(Config{Headroom: 256 << 20})
	if p == nil {
		t.Fatal("newPacer returned nil with a headroom and no GOGC")
	}
	paced := make(chan int, 16)
	p.onPace = func(pct int) { paced <- pct }
	tick := make(chan time.Time)
	p.tick = tick
	p.start()
	defer p.Stop() // on a failure too: a pacer left running would pace the later tests

	runtime.GC()
	var pct int
	select {
	case pct = <-paced:
	case <-time.After(10 * time.Second):
		t.Fatal("no pacing within 10s of a collection")
	}
	// The test binary's live heap is far below 256 MiB / 20.
	if pct != maxPercent {
		t.Errorf("paced to %d%%, want %d%%", pct, maxPercent)
	}
	if got := int(readUint(metricGOGC)); got != pct {
		t.Errorf("GC percentage in force %d, want the paced %d", got, pct)
	}
	// It arms itself again for the next collection.
	runtime.GC()
	select {
	case <-paced:
	case <-time.After(10 * time.Second):
		t.Fatal("no pacing after the second collection")
	}
	p.Stop()
	if got := int(readUint(metricGOGC)); got != 100 {
		t.Errorf("after Stop the GC percentage is %d, want 100 back", got)
	}
	// A collection after Stop paces nothing.
	runtime.GC()
	runtime.GC()
	if got := int(readUint(metricGOGC)); got != 100 {
		t.Errorf("after Stop and a collection the GC percentage is %d, want 100", got)
	}
	p.Stop() // twice is fine
}

func TestOff(t *testing.T) {
	for _, tc := range []struct {
		name, gogc string
		headroom   uint64
	}{
		{"no headroom", "", 0},
		{"GOGC set", "150", 32 << 20},
		{"GOGC off", "off", 32 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			if p := newPacer(Config{Headroom: tc.headroom}); p != nil {
				t.Fatalf("newPacer = %+v, want nil (off)", p)
			}
			p := Start(Config{Headroom: tc.headroom})
			p.Stop() // an off Pacer stops without effect
		})
	}
}

// TestQuiet feeds the allocation counter and the CPU time tick by tick.
func TestQuiet(t *testing.T) {
	const mib = 1 << 20
	const ms = time.Millisecond
	for _, tc := range []struct {
		name string
		// per tick, the bytes allocated since the previous one
		rates []uint64
		// per tick, the CPU time used since the previous one (none if
		// shorter than rates)
		cpu []time.Duration
		// the ticks (1-based) at which memory is released
		want []int
	}{
		{"busy then quiet: released once", []uint64{20 * mib, 5, 0, 0, 0, 0, 0}, nil, []int{4}},
		{"quiet needs three ticks in a row", []uint64{20 * mib, 0, 0, 2 * mib, 0, 0, 0}, nil, []int{7}},
		{"too little allocated to release", []uint64{4 * mib, 0, 0, 0, 0}, nil, nil},
		{"slow allocation adds up", []uint64{mib - 1, mib - 1, mib - 1, mib - 1, mib - 1, mib - 1, mib - 1, mib - 1, mib - 1}, nil, []int{9}},
		{"released again after more work", []uint64{20 * mib, 0, 0, 0, 20 * mib, 0, 0, 0}, nil, []int{4, 8}},
		{"a light load that uses the CPU is not quiet", []uint64{20 * mib, 100 << 10, 100 << 10, 100 << 10, 100 << 10},
			[]time.Duration{900 * ms, 400 * ms, 400 * ms, 400 * ms, 400 * ms}, nil},
		{"quiet once the CPU rests too", []uint64{20 * mib, 100 << 10, 0, 0, 0},
			[]time.Duration{900 * ms, 400 * ms, 49 * ms, 10 * ms, 0}, []int{5}},
		{"CPU at the threshold is busy", []uint64{20 * mib, 0, 0, 0, 0},
			[]time.Duration{0, quietCPU, 0, 0, 0}, []int{5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := quiet{headroom: 16 * mib, last: 1000, lastCPU: time.Second}
			total, cpu := uint64(1000), time.Second
			var got []int
			for i, r := range tc.rates {
				total += r
				if i < len(tc.cpu) {
					cpu += tc.cpu[i]
				}
				if q.tick(total, cpu) {
					got = append(got, i+1)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("released at ticks %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWatchReleasesAndStops runs watch's goroutine: a quiet stretch after
// work releases memory, and Stop ends the goroutine (goleak checks).
func TestWatchReleasesAndStops(t *testing.T) {
	t.Setenv("GOGC", "")
	p := newPacer(Config{Headroom: 2})
	if p == nil {
		t.Fatal("newPacer returned nil")
	}
	tick := make(chan time.Time)
	p.tick = tick
	var allocs atomic.Uint64
	p.allocs = allocs.Load
	p.cpu = func() time.Duration { return 0 }
	released := make(chan struct{}, 1)
	p.release = func() { released <- struct{}{} }
	p.start()
	defer p.Stop()

	// The first tick settles watch's first read of the counter (it
	// runs once the goroutine has started); then half the headroom is
	// allocated, then the server is quiet.
	tick <- time.Time{}
	allocs.Store(10)
	for range quietTicks - 1 {
		tick <- time.Time{}
	}
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("no release after a quiet stretch")
	}
}
