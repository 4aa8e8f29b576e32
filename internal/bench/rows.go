package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/pkg/client"
)

// Goal of the rows scenario (issue 3): REST commit to socket, p99, on SQLite.
const goalRowsP99 = 10 * time.Millisecond

// rowSub is what one subscriber saw during one pass of the rows scenario.
// Its connection's consumer goroutine alone writes the plain fields, under
// the connection's lock (rowsRun.locks); they are read once the pass ended.
type rowSub struct {
	live  bool          // subscribed when the pass began
	start uint64        // the offset the pass began at
	prev  uint64        // the offset of the previous op read
	last  atomic.Uint64 // the offset of the latest op it read
	ended *atomic.Bool  // its connection ended during the run
	count int           // ops read
	bytes int           // the ops' data, bytes
	gaps  int           // ops whose offset was not the previous one's + 1
	gap   [2]uint64     // the first gap: the offset expected, the one read
	bad   int           // ops without a readable cell
	again int           // ops carrying a write it had already seen
	seen  bitset        // the writes' sequence numbers it saw
}

// bitset is a growable set of small non-negative integers.
type bitset []uint64

// set adds i and reports whether it was there already.
func (b *bitset) set(i int) bool {
	w := i / 64
	for w >= len(*b) {
		*b = append(*b, 0)
	}
	had := (*b)[w]&(1<<(i%64)) != 0
	(*b)[w] |= 1 << (i % 64)
	return had
}

func (b bitset) has(i int) bool {
	w := i / 64
	return w < len(b) && b[w]&(1<<(i%64)) != 0
}

// handle takes one message of subscriber i.
func (s *rowSub) handle(i int, m *client.Message, col string, rec *Recorder) {
	if m.Type != client.TypeOp || m.Collection != col || m.Offset == nil || !s.live {
		return
	}
	off := *m.Offset
	if off != s.prev+1 {
		if s.gaps == 0 {
			s.gap = [2]uint64{s.prev + 1, off}
		}
		s.gaps++
	}
	s.prev = off
	s.count++
	s.bytes += len(m.Data)
	seq, stamp, ok := parseCell(m.Data)
	if !ok {
		s.bad++
		s.last.Store(off)
		return
	}
	now := time.Now().UnixNano()
	rec.Record(i, time.Duration(now-stamp), now)
	if s.seen.set(seq) {
		s.again++
	}
	s.last.Store(off)
}

// rowsCheck is the exactly-once check over every subscriber that stayed
// connected.
type rowsCheck struct {
	subscribers int // checked
	exact       int // saw every confirmed write once, offsets gapless to the top
	gaps        int // offset jumps, all subscribers
	again       int // writes seen twice
	missing     int // confirmed writes not seen, all subscribers
	short       int // subscribers whose last offset is below the top
	bad         int // ops without a readable cell
	examples    []string
}

func checkRows(subs []rowSub, w writeResult, top uint64) rowsCheck {
	unchecked := make(map[int]bool, len(w.unsent)+len(w.unconfirmed))
	for _, l := range [][]int{w.unsent, w.unconfirmed} {
		for _, i := range l {
			unchecked[i] = true
		}
	}
	var c rowsCheck
	for i := range subs {
		s := &subs[i]
		if !s.live || s.ended.Load() {
			continue
		}
		c.subscribers++
		missing := 0
		for seq := range w.taken {
			if !unchecked[seq] && !s.seen.has(seq) {
				missing++
			}
		}
		last := s.last.Load()
		if last < top {
			c.short++
		}
		c.gaps += s.gaps
		if s.gaps > 0 && len(c.examples) < 3 {
			c.examples = append(c.examples, fmt.Sprintf("subscriber %d: %d gaps, the first: offset %d came where %d was due",
				i, s.gaps, s.gap[1], s.gap[0]))
		}
		c.again += s.again
		c.missing += missing
		c.bad += s.bad
		if missing == 0 && s.gaps == 0 && s.again == 0 && s.bad == 0 && last == top && uint64(s.count) == top-s.start {
			c.exact++
		}
	}
	return c
}

// streamTop asks, with a query on the table's collection, for the offset
// of the table's stream: where every subscriber must end up.
func streamTop(ctx context.Context, c *client.Client, col string) (uint64, error) {
	reply, err := c.Request(ctx, client.Message{Type: client.TypeQuery, Collection: col, Data: json.RawMessage(`{"limit":1}`)})
	if err != nil {
		return 0, fmt.Errorf("query %s: %w", col, err)
	}
	var page struct {
		Offset uint64 `json:"offset"`
	}
	if err := json.Unmarshal(reply.Data, &page); err != nil {
		return 0, fmt.Errorf("query %s: %w", col, err)
	}
	return page.Offset, nil
}

// waitTop waits until every subscriber still connected has read up to top,
// or ctx ends.
func waitTop(ctx context.Context, subs []rowSub, top uint64) error {
	return waitCaughtUp(ctx, fmt.Sprintf("subscribers had not reached offset %d", top), func() (behind int) {
		for i := range subs {
			if s := &subs[i]; s.live && !s.ended.Load() && s.last.Load() < top {
				behind++
			}
		}
		return behind
	})
}

// waitCaughtUp checks every 20ms until behind counts none, or ctx ends;
// what says what those behind had not done.
func waitCaughtUp(ctx context.Context, what string, behind func() int) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := behind()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d %s: %w", n, what, ctx.Err())
		case <-tick.C:
		}
	}
}

// runRows subscribes N clients to one table's records, updates random
// cells through REST and measures how the changes reach the sockets. At
// --rate 0 (as fast as the server accepts) with --compare, two more passes
// follow on the same sockets: bench fanout's load (messages as large as
// the ops were) and the writes again at half the rate the first pass
// reached (rows_compare.go).
func runRows(ctx context.Context, o Options, t *target, prog *progress, rep *Report) error {
	passes := 1
	if o.Rate == 0 && o.Compare {
		passes = 3 // --timeout bounds each
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(passes)*o.Timeout)
	defer cancel()
	ttl := tokenTTL(o)
	owner, setup, err := ownedTable(ctx, o, t, t.httpc, o.Rows, "rows")
	if err != nil {
		return err
	}
	prog.notef("table %d: %d rows, %d text fields; subscribers are the workspace's viewer %s", setup.Table, len(setup.Rows), len(setup.Fields), benchViewer)

	r := &rowsRun{o: o, t: t, prog: prog, owner: owner, setup: setup, col: setup.collection()}
	cc := clientConfig{
		url: t.wsURL(), urls: t.wsURLs(), secret: t.jwtSecret, channel: o.Channel, sources: t.sources,
		readBuffer: o.ReadBuffer, messageBuffer: o.MessageBuffer, tokenTTL: ttl,
		user: benchViewer, clientLog: &r.clog,
	}
	p, _, err := openPool(ctx, cc, o.Conns, o.Dialers, prog)
	if p == nil {
		return err
	}
	r.p = p
	var closing atomic.Bool
	var wg sync.WaitGroup
	closeAll := sync.OnceFunc(func() {
		closing.Store(true)
		p.close()
		wg.Wait()
	})
	defer closeAll()
	defer p.reportErrors(rep)
	if err == nil {
		_, err = p.subscribe(ctx, r.col, o.Dialers, prog)
	}
	if err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	if p.connected() == 0 {
		return errors.New("rows: no client connected")
	}
	r.ended = make([]atomic.Bool, len(p.clients))
	r.locks = make([]sync.Mutex, len(p.clients))
	for i, c := range p.clients {
		if c == nil {
			continue
		}
		if pos, _ := c.Position(r.col); r.top == 0 || pos.Offset < r.top {
			r.top = pos.Offset
		}
		if r.asker == nil {
			r.asker = c
		}
		wg.Go(func() {
			for m := range c.Messages() {
				if closing.Load() {
					// A client being closed drops the frames that arrive
					// while its Messages channel is full: they would show
					// gaps that the server did not leave.
					continue
				}
				if h := r.route.Load(); h != nil {
					r.locks[i].Lock()
					(*h)(i, &m)
					r.locks[i].Unlock()
				}
			}
			if !closing.Load() {
				r.ended[i].Store(true)
				var ce *client.CloseError
				if errors.As(c.Err(), &ce) && ce.Code == client.CloseSlowConsumer {
					r.slow4002.Add(1)
				}
			}
		})
	}

	first, err := r.rowsPass(ctx, o.Rate)
	if first != nil {
		first.report(rep, o, t.node == nil)
	}
	if err != nil || o.Rate != 0 || !o.Compare {
		return err
	}
	if t.apiKey == "" {
		rep.problem("rows: no fanout pass without the server's admin API key (--api-key)")
	} else {
		fan, err := r.fanoutPass(ctx, max(first.writes.confirmed(), 1), first.messageSize())
		if fan != nil {
			reportFanoutPass(rep, o, first, fan)
		}
		if err != nil {
			return err
		}
	}
	// Half the rate the deliveries kept up with: the writes alone may
	// have gone faster, into the send queues.
	half := min(first.writesPerSecond(), first.deliveriesPerSecond()/float64(first.check.subscribers)) / 2
	if !(half > 0) {
		return errors.New("rows: the first pass reached no write rate to halve")
	}
	rep.add("sustained_writes_per_s", "writes/s the deliveries kept up with (deliveries/s per subscriber)", 2*half, "writes/s")
	second, err := r.rowsPass(ctx, half)
	if second != nil {
		second.reportHalf(rep)
	}
	return err
}

// rowsRun is what the passes of one rows run share: the table, the
// sockets, and where their messages go.
type rowsRun struct {
	o     Options
	t     *target
	prog  *progress
	owner *restClient
	setup *tableSetup
	col   string
	p     *pool
	asker *client.Client // a subscriber that also asks for the stream's top
	top   uint64         // the table stream's offset where the next pass begins

	// route takes each message read by connection i, under locks[i]: a
	// pass sets it, and once the pass is over takes every lock once, so
	// that nothing of the pass is still being counted when it reads the
	// counts.
	route    atomic.Pointer[func(i int, m *client.Message)]
	locks    []sync.Mutex
	ended    []atomic.Bool // connection i ended during the run
	clog     clientLogCounter
	slow4002 atomic.Int64
}

// setRoute hands the messages to h (nil: to nobody) and waits until no
// message is being handled by the previous route.
func (r *rowsRun) setRoute(h func(i int, m *client.Message)) {
	if h == nil {
		r.route.Store(nil)
	} else {
		r.route.Store(&h)
	}
	for i := range r.locks {
		// A barrier: the handler running under the lock has returned.
		r.locks[i].Lock()
		//lint:ignore SA2001 the empty section is the barrier
		r.locks[i].Unlock()
	}
}

// rowsPass writes at rate (0: as fast as the server accepts) and checks
// that every subscriber saw every committed write once, in order.
func (r *rowsRun) rowsPass(ctx context.Context, rate float64) (*rowsOutcome, error) {
	o, t, prog := r.o, r.t, r.prog
	o.Rate = rate
	subs := make([]rowSub, len(r.p.clients))
	n := 0
	for i, c := range r.p.clients {
		s := &subs[i]
		s.ended = &r.ended[i]
		if c == nil || s.ended.Load() {
			continue
		}
		s.live, s.start, s.prev = true, r.top, r.top
		s.last.Store(r.top)
		n++
	}
	if n == 0 {
		return nil, errors.New("rows: no subscriber left")
	}
	var rec Recorder
	r.setRoute(func(i int, m *client.Message) { subs[i].handle(i, m, r.col, &rec) })
	defer r.setRoute(nil)

	window := 0
	if rate == 0 {
		window = o.Window
	}
	writer, err := startWriters(ctx, o, t, r.owner.token, r.setup, window)
	if err != nil {
		return nil, fmt.Errorf("rows: %w", err)
	}
	defer func() {
		if err := writer.stop(); err != nil {
			prog.notef("rows writer: %v", err)
		}
	}()
	prog.notef("writers: %d, %s, rate %s", o.Writers, writer.where, rateLabel(rate))
	if window > 0 {
		prog.notef("window: the writes stay at most %d ahead of the slowest subscriber", window)
	}

	statsBefore, statsErr := t.stats(ctx)
	cpu0, benchCPU0 := t.cpu(), cpuOf(os.Getpid())
	planned := o.Writes
	if planned == 0 {
		planned = int(max(rate, DefaultRowsRate) * o.Duration.Seconds())
	}
	end := prog.phase("delivering", int64(planned*n), rec.Count)
	queuePeak := t.watchQueue(ctx)
	start := time.Now()
	writer.begin()
	stopFeed := func() {}
	if window > 0 {
		stopFeed = feedCredit(subs, window, writer.allow)
	}
	wr := writer.await(ctx)
	stopFeed()
	wr.err = withOutput(wr.err, "writer", writer.log())
	var top uint64
	var waitErr error
	if r.asker.Err() == nil {
		// Asked even when the run's time is up: the check needs the top.
		qctx, qcancel := afterCtx(ctx)
		top, waitErr = streamTop(qctx, r.asker, r.col)
		qcancel()
	} else {
		waitErr = fmt.Errorf("the subscriber asking for the stream's top lost its connection: %w", r.asker.Err())
	}
	if waitErr == nil {
		waitErr = waitTop(ctx, subs, top)
	}
	end()
	out := &rowsOutcome{subscribers: n, writes: wr, top: top, waitErr: waitErr, start: start,
		queuePeak: queuePeak(), duplicates: r.clog.duplicates.Load(), undecodable: r.clog.undecodable.Load()}
	out.serverCPU, out.benchCPU = t.cpu()-cpu0, cpuOf(os.Getpid())-benchCPU0
	out.seconds = time.Since(start).Seconds()
	out.slow = math.NaN()
	actx, acancel := afterCtx(ctx)
	defer acancel()
	if statsAfter, err := t.stats(actx); err == nil && statsErr == nil {
		out.slow = float64(statsAfter.DroppedSlow - statsBefore.DroppedSlow)
	} else {
		out.slow = float64(r.slow4002.Load())
	}
	r.setRoute(nil) // the pass's handlers are done: its counts can be read
	out.hist, out.delivered, out.last = rec.Snapshot(), rec.Count(), rec.Last()
	out.check = checkRows(subs, wr, top)
	for i := range subs {
		if subs[i].live && subs[i].ended.Load() {
			out.ended++
		}
		out.opBytes += int64(subs[i].bytes)
		out.ops += int64(subs[i].count)
	}
	r.top = top
	if err := errors.Join(wr.err, waitErr); err != nil {
		return out, fmt.Errorf("rows: %w", err)
	}
	return out, nil
}

// feedCredit lets the writers go window writes past what the slowest
// subscriber still connected has read, checking every millisecond, until
// the returned function is called (it waits for the checking to end).
// Each write is one event on the table's stream, so a subscriber's writes
// read are its offset's distance from the pass's start.
func feedCredit(subs []rowSub, window int, allow func(int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		allowed := window
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			slowest := uint64(math.MaxUint64) // stays so when none is left
			for i := range subs {
				if s := &subs[i]; s.live && !s.ended.Load() {
					slowest = min(slowest, s.last.Load()-s.start)
				}
			}
			if next := int(slowest) + window; slowest != math.MaxUint64 && next > allowed {
				allowed = next
				allow(allowed)
			}
		}
	})
	return sync.OnceFunc(func() {
		close(done)
		wg.Wait()
	})
}

func rateLabel(rate float64) string {
	if rate <= 0 {
		return "as fast as the server accepts"
	}
	return strconv.FormatFloat(rate, 'f', 1, 64) + "/s"
}

// rowsOutcome is what a rows run measured.
type rowsOutcome struct {
	subscribers int
	writes      writeResult
	top         uint64 // the table stream's offset after the writes
	waitErr     error  // not every subscriber reached top
	start       time.Time
	seconds     float64 // from start to the last delivery checked
	hist        *Histogram
	delivered   int64
	last        time.Time // the latest delivery
	serverCPU   float64   // CPU-seconds; NaN: unknown
	benchCPU    float64
	queuePeak   float64 // bytes
	slow        float64 // slow-consumer disconnects
	ended       int     // subscribers whose connection ended
	duplicates  int64   // dropped by the clients as already delivered
	undecodable int64   // frames the clients could not decode
	ops         int64   // ops read, all subscribers
	opBytes     int64   // their data, bytes
	check       rowsCheck
}

// messageSize is the mean size of the ops' data, bytes (at least minSize).
func (r *rowsOutcome) messageSize() int {
	if r.ops == 0 {
		return minSize
	}
	return max(int(r.opBytes/r.ops), minSize)
}

func (r *rowsOutcome) writesPerSecond() float64 { return rate(r.writes.confirmed(), r.writes.took) }

func (r *rowsOutcome) deliveriesPerSecond() float64 {
	if d := r.last.Sub(r.start); r.delivered > 0 && d > 0 {
		return float64(r.delivered) / d.Seconds()
	}
	return math.NaN()
}

func (r *rowsOutcome) report(rep *Report, o Options, separateServer bool) {
	wr, chk := r.writes, r.check
	confirmed := wr.confirmed()
	rep.add("subscribers", "subscribers", float64(r.subscribers), "")
	rep.add("writes", "writes committed (REST PATCH answered)", float64(confirmed), "")
	rep.add("writes_per_s", "writes/s", rate(confirmed, wr.took), "writes/s")
	rep.add("write_latency_p50_ms", "REST write latency p50", callMillis(wr.calls, 0.50), "ms")
	rep.add("write_latency_p99_ms", "REST write latency p99", callMillis(wr.calls, 0.99), "ms")
	rep.WriteLatency = wr.calls
	want := confirmed * chk.subscribers
	rep.add("deliveries", "deliveries", float64(r.delivered), "").goal(strconv.Itoa(want),
		func(v float64) bool { return int(v) >= want })
	rep.add("deliveries_per_s", "deliveries/s", r.deliveriesPerSecond(), "deliveries/s")
	addLatency(rep, "", "write-to-socket latency", r.hist)
	for i := range rep.Figures {
		if f := &rep.Figures[i]; f.Key == "latency_p99_ms" {
			f.goal("< 10", func(v float64) bool { return v < float64(goalRowsP99)/float64(time.Millisecond) })
		}
	}
	rep.Latency = latencyReport(r.hist)
	cpuPerM := math.NaN()
	if r.delivered > 0 {
		cpuPerM = r.serverCPU / float64(r.delivered) * 1e6
	}
	rep.add("cpu_per_million", "server CPU per million deliveries", cpuPerM, "CPU-s")
	rep.add("server_cores", "server CPU use", r.serverCPU/r.seconds, "cores")
	rep.add("cpu_ms_per_write", "server CPU per committed write", r.serverCPU/float64(confirmed)*1e3, "ms")
	if separateServer {
		rep.add("bench_cores", "bench CPU use (subscribers; writers too with --in-process)", r.benchCPU/r.seconds, "cores")
	}
	rep.add("server_queue_peak", "server send queues, largest total seen (sampled each second)", r.queuePeak/1024, "KiB")
	zero := func(v float64) bool { return v == 0 }
	rep.add("slow_consumer_disconnects", "slow-consumer disconnects (server)", r.slow, "").goal("0", zero)
	rep.add("clients_disconnected", "clients disconnected during the run", float64(r.ended), "").goal("0", zero)
	rep.add("exactly_once", "subscribers that saw every write once, in gapless offset order", float64(chk.exact), "").
		goal(strconv.Itoa(chk.subscribers), func(v float64) bool { return int(v) == chk.subscribers && chk.subscribers > 0 })
	rep.add("offset_gaps", "offset gaps or reorderings seen", float64(chk.gaps), "").goal("0", zero)
	rep.add("duplicates", "duplicates (same offset again, or the same write at two offsets)",
		float64(r.duplicates)+float64(chk.again), "").goal("0", zero)
	rep.add("missing", "committed writes a subscriber did not see", float64(chk.missing), "").goal("0", zero)
	rep.add("stream_top", "table stream offset at the end", float64(r.top), "")

	switch {
	case errors.Is(wr.err, context.DeadlineExceeded):
		rep.problem("rows: --timeout %s reached after %d writes", o.Timeout, confirmed)
	case wr.err != nil:
		rep.problem("rows: writing stopped: %v", wr.err)
	}
	if len(wr.unconfirmed) > 0 {
		rep.problem("rows: %d writes may or may not have been committed (their requests failed or were cut short); they are not checked", len(wr.unconfirmed))
	}
	if r.waitErr != nil {
		rep.problem("rows: %v", r.waitErr)
	}
	for _, e := range chk.examples {
		rep.problem("rows: %s", e)
	}
	if r.undecodable > 0 {
		rep.problem("rows: the clients could not decode %d frames", r.undecodable)
	}
	if chk.bad > 0 {
		rep.problem("rows: %d ops had no readable cell value", chk.bad)
	}
	if chk.short > 0 {
		rep.problem("rows: %d subscribers ended below the stream's offset %d", chk.short, r.top)
	}
	if r.ended > 0 {
		rep.problem("rows: %d subscribers lost their connection during the run", r.ended)
	}
}

// watchQueue samples the server's send queues (all connections' bytes,
// from /metrics) every second until the returned function is called, which
// returns the largest sample, NaN when there was none. It tells where a
// backlog sits: in the server's queues, or past them in the sockets and
// the clients.
func (t *target) watchQueue(ctx context.Context) func() float64 {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan float64, 1)
	go func() {
		peak := math.NaN()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- peak
				return
			case <-tick.C:
			}
			if m, err := t.metrics(ctx); err == nil {
				if v, ok := m["tablecast_send_queue_bytes"]; ok && !(v <= peak) {
					peak = v
				}
			}
		}
	}()
	return func() float64 {
		cancel()
		return <-done
	}
}
