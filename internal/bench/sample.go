package bench

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"
)

// serverSample is what can be read of the server's resources at one
// moment. A NaN field could not be read.
type serverSample struct {
	RSS        float64 // bytes, /proc/<pid>/status VmRSS once steady
	Heap       float64 // bytes, go_memstats_heap_alloc_bytes
	Goroutines float64 // go_goroutines
	GCForced   bool    // a garbage collection ran before Heap and Goroutines were read
}

// gcNudgeSize is the body of each request that makes the server collect
// garbage. It is small so that little garbage is made after the collection
// (which would count as heap), and below any sensible --max-body-size.
const gcNudgeSize = 128 << 10

// gcNudgeBody is a broadcast the admin API rejects (the channel name is
// not valid) after decoding it whole: garbage for the server, and nothing
// published or kept.
var gcNudgeBody = func() []byte {
	return []byte(`{"channel":"-bench gc-","message":"` + strings.Repeat("g", gcNudgeSize) + `"}`)
}()

// sample reads the server's RSS, then its heap and goroutines after a
// garbage collection, so that the heap per connection counts live memory
// rather than garbage. The server cannot be told to collect, so bench
// makes it allocate garbage (rejected admin requests) until
// go_gc_duration_seconds shows a new cycle; this needs the API key.
//
// RSS is read before that, once it has stopped changing: making the heap
// grow to its goal to trigger the collection raises RSS by the difference,
// which idle connections alone would not cost.
//
// Figures that need a process id or /metrics stay NaN without them;
// in-process, none of them would be the server's alone, so all stay NaN.
func (t *target) sample(ctx context.Context) serverSample {
	s := serverSample{RSS: math.NaN(), Heap: math.NaN(), Goroutines: math.NaN()}
	if t.node != nil {
		return s
	}
	if t.pid != 0 {
		s.RSS = t.settledRSS(ctx)
	}
	s.GCForced = t.forceGC(ctx) == nil
	// Let the sweeper finish what the cycle started.
	sleep(ctx, 300*time.Millisecond)
	if m, err := t.metrics(ctx); err == nil {
		if v, ok := m["go_memstats_heap_alloc_bytes"]; ok {
			s.Heap = v
		}
		if v, ok := m["go_goroutines"]; ok {
			s.Goroutines = v
		}
	}
	return s
}

// settledRSS reads the server's RSS every 250ms until it has stayed within
// 64 KiB of one value for rssSteadyFor (at most rssSettleMax), and returns
// the last reading; NaN if unreadable. A server that returns memory to the
// operating system once it goes quiet (tablecast after three seconds, see
// internal/gcpace) is read after it has done so.
func (t *target) settledRSS(ctx context.Context) float64 {
	read := func() (float64, error) {
		v, err := procRSS(t.pid)
		return float64(v), err
	}
	return settle(ctx, read, 250*time.Millisecond, rssSteadyFor, rssSettleMax)
}

const (
	rssSteadyFor = 4 * time.Second
	rssSettleMax = 20 * time.Second
)

// settle reads read every interval until its value has stayed within
// 64 KiB of the first reading of a stretch for steadyFor, or for at most
// max, and returns the last reading (NaN on an error).
func settle(ctx context.Context, read func() (float64, error), interval, steadyFor, max time.Duration) float64 {
	start, err := read()
	if err != nil {
		return math.NaN()
	}
	cur := start
	var stretch, total time.Duration
	for total < max && stretch < steadyFor && ctx.Err() == nil {
		sleep(ctx, interval)
		total += interval
		if cur, err = read(); err != nil {
			return math.NaN()
		}
		if d := cur - start; d >= 64<<10 || d <= -64<<10 {
			start, stretch = cur, 0
			continue
		}
		stretch += interval
	}
	return cur
}

// forceGC makes the server run one garbage collection (see sample).
func (t *target) forceGC(ctx context.Context) error {
	if t.apiKey == "" {
		return errors.New("no API key")
	}
	gcs := func() (float64, error) {
		m, err := t.metrics(ctx)
		if err != nil {
			return 0, err
		}
		n, ok := m["go_gc_duration_seconds_count"]
		if !ok {
			return 0, errors.New("no go_gc_duration_seconds_count in /metrics")
		}
		return n, nil
	}
	before, err := gcs()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for range 4000 {
		err := t.do(ctx, http.MethodPost, "/api/ws/broadcast/channel", gcNudgeBody, nil)
		var se *statusError
		if err != nil && !errors.As(err, &se) {
			return err // a 400 is the expected answer; anything else stops
		}
		n, err := gcs()
		if err != nil {
			return err
		}
		if n > before {
			return nil
		}
	}
	return errors.New("no garbage collection after 4000 requests")
}

// afterCtx is for reading the server's figures once a run ended, perhaps
// by its own deadline: ctx's values without its end, for 10 seconds.
func afterCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// perConn returns (after-before)/n, NaN when either is unknown.
func perConn(before, after float64, n int) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return (after - before) / float64(n)
}
