// Package gcpace paces Go's garbage collector for the server.
//
// Go's default pacing (GOGC=100) starts a collection when the heap has grown
// by as much as was live after the last one. A tablecast node holds little:
// under a stream of submits its live heap is a few MiB while it allocates
// tens of MiB a second, so it collected more than ten times a second and
// spent about a tenth of its CPU doing so (docs/benchmarks.md, session 8).
// A Pacer gives the heap a floor of headroom instead: after each collection
// it sets the GC percentage so that the next one starts no sooner than
// Headroom bytes later (and never sooner than GOGC=100 would).
//
// Headroom alone would leave up to that much garbage in an idle server's
// memory until the runtime's two-minute forced collection, and keep it from
// the operating system after that. So when the server goes quiet (three
// seconds in a row, each allocating less than quietBytes and using less
// than quietCPU of processor time), a Pacer collects and returns the free
// memory to the operating system once, if at least half the headroom was
// allocated since it last did. Allocation alone does not tell idle from a
// light, steady load: a paced fan-out to 2,000 sockets allocated about
// 130 KB/s, an idle server answering 10,000 sockets' heartbeats 30-140 KB/s.
// Releasing under that load cost about 86 ms of CPU on one P, in the middle
// of the deliveries (their maximum latency, median of five runs: 96 ms with
// such releases, 52 ms without); the CPU time tells the two apart.
//
// A GOGC variable in the environment is the operator's choice: the Pacer
// then does nothing. GOMEMLIMIT still holds: the runtime collects sooner
// than the percentage says when the limit requires it.
package gcpace

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Config configures a Pacer.
type Config struct {
	// Headroom is the least the heap grows between two collections, in
	// bytes; 0 turns the Pacer off.
	Headroom uint64
	// Logger reports what the Pacer does at debug level; nil for none.
	Logger *slog.Logger
}

const (
	// maxPercent bounds the percentage set.
	maxPercent = 2000
	// quietTick is how often the allocation rate is read; quietTicks
	// ticks in a row under quietBytes each make the server quiet.
	quietTick  = time.Second
	quietTicks = 3
	quietBytes = 1 << 20
	quietCPU   = 50 * time.Millisecond // per tick: 5% of one CPU
	// minHeap is the runtime's least heap goal at GOGC=100.
	minHeap = 4 << 20
)

const (
	metricLive   = "/gc/heap/live:bytes"
	metricAllocs = "/gc/heap/allocs:bytes"
	metricGOGC   = "/gc/gogc:percent"
)

// Pacer paces the collector from Start until Stop. A Pacer that is off
// (no headroom, or GOGC set) does nothing; Stop is still safe to call.
type Pacer struct {
	headroom uint64
	log      *slog.Logger

	// mu serialises pacing (on the runtime's cleanup goroutine) with Stop.
	mu      sync.Mutex
	base    int // the percentage in force at Start, restored by Stop
	current int
	stopped bool
	onPace  func(percent int) // tests: called after each pacing, under mu

	// The quiet release's goroutine and what it reads; tests replace
	// tick, allocs, cpu and release.
	tick    <-chan time.Time
	allocs  func() uint64
	cpu     func() time.Duration // the process's CPU time so far
	release func()
	ticker  *time.Ticker
	stop    chan struct{}
	done    chan struct{}
}

// Start starts pacing the collector, unless cfg.Headroom is 0 or the
// environment sets GOGC. Call Stop when the server stops.
func Start(cfg Config) *Pacer {
	p := newPacer(cfg)
	if p == nil {
		return &Pacer{}
	}
	p.ticker = time.NewTicker(quietTick)
	p.tick = p.ticker.C
	p.start()
	return p
}

// newPacer returns a Pacer for cfg with the runtime's readers, not yet
// started, or nil if it would be off.
func newPacer(cfg Config) *Pacer {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Headroom == 0 {
		return nil
	}
	if v := os.Getenv("GOGC"); v != "" {
		log.Info("GOGC is set: the garbage collector is paced by it, not by the GC headroom", "GOGC", v)
		return nil
	}
	base := int(readUint(metricGOGC))
	return &Pacer{
		headroom: cfg.Headroom,
		log:      log,
		base:     base,
		current:  base,
		allocs:   func() uint64 { return readUint(metricAllocs) },
		cpu:      processCPU,
		release:  debug.FreeOSMemory,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

func (p *Pacer) start() {
	p.arm()
	go p.watch()
}

// Stop stops pacing, restores the percentage in force at Start and waits
// for the Pacer's goroutine to end.
func (p *Pacer) Stop() {
	if p.stop == nil {
		return
	}
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	if p.current != p.base {
		debug.SetGCPercent(p.base)
		p.current = p.base
	}
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	if p.ticker != nil {
		p.ticker.Stop()
	}
}

// sentinel is allocated once per collection; its cleanup paces the next
// one. It holds a pointer so that the tiny allocator does not share its
// block with other objects, whose reachability would delay the cleanup.
type sentinel struct{ _ *byte }

// arm makes the runtime call pace once the next collection has run.
func (p *Pacer) arm() {
	runtime.AddCleanup(new(sentinel), (*Pacer).pace, p)
}

// pace runs after a collection: it sets the percentage for the next one
// from the live heap the collection left, and arms itself again.
func (p *Pacer) pace() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	pct := percentFor(readUint(metricLive), p.headroom, p.base)
	if pct != p.current {
		debug.SetGCPercent(pct)
		p.current = pct
	}
	// Armed before anyone is told, so that a collection that follows the
	// news (TestPacesAfterEachCollection's second) has a sentinel to free.
	p.arm()
	if p.onPace != nil {
		p.onPace(pct)
	}
}

// percentFor returns the GC percentage that makes the next collection
// start headroom bytes past a live heap of live bytes: at least base, at
// most maxPercent (or base, if base is larger).
//
// The runtime never sets a heap goal below its minimum heap (4 MiB) times
// the percentage over 100, so for a small live heap the percentage is
// also kept at or under what puts that minimum at live + headroom.
func percentFor(live, headroom uint64, base int) int {
	if live == 0 {
		return base
	}
	pct := (headroom*100 + live - 1) / live
	pct = min(pct, (live+headroom)*100/minHeap, maxPercent)
	return max(base, int(pct))
}

// watch returns free memory to the operating system when quiet says so.
func (p *Pacer) watch() {
	defer close(p.done)
	q := quiet{headroom: p.headroom, last: p.allocs(), lastCPU: p.cpu()}
	for {
		select {
		case <-p.stop:
			return
		case <-p.tick:
		}
		if q.tick(p.allocs(), p.cpu()) {
			p.log.Debug("quiet: returning free memory to the operating system")
			p.release()
		}
	}
}

// quiet tells, tick by tick, when the server has gone quiet after having
// allocated at least half the headroom since the last release.
type quiet struct {
	headroom uint64
	last     uint64        // the allocation counter at the last tick
	lastCPU  time.Duration // the process's CPU time at the last tick
	since    uint64        // allocated since the last release
	ticks    int           // quiet ticks in a row
}

// tick takes the allocation counter's value and the process's CPU time at
// a tick and reports whether to release now. A CPU time that cannot be read
// (0 throughout) leaves allocation alone to decide.
func (q *quiet) tick(allocs uint64, cpu time.Duration) bool {
	d := allocs - q.last
	q.last = allocs
	q.since += d
	used := cpu - q.lastCPU
	q.lastCPU = cpu
	if d >= quietBytes || used >= quietCPU {
		q.ticks = 0
		return false
	}
	q.ticks++
	if q.ticks < quietTicks || q.since < q.headroom/2 {
		return false
	}
	q.since = 0
	return true
}

// readUint reads one uint64 runtime metric.
func readUint(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
