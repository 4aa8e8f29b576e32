package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/pkg/client"
)

// storeReadsMetric counts the outbox reads the server made to replay table
// events or fill gaps (internal/tablestream.Streams.Reads). Many clients
// recovering the same range at once share one read.
const storeReadsMetric = "tablecast_stream_store_reads_total"

// goalStoreReads is "a handful" (issue 3): the herd must not cost one read
// per client.
const goalStoreReads = 10

// recoverer is one reconnected client of the recover scenario. Its
// consumer goroutine alone writes count and gaps; they are read once it
// ended.
type recoverer struct {
	c       *client.Client
	since   client.Position // where its previous connection left off
	want    uint64          // the offset it must reach: since + E
	count   int             // ops read up to want
	gaps    int             // ops whose offset was not the previous one's + 1
	reached atomic.Int64    // UnixNano when it read the op at want; 0: not yet
	replyAt int64           // UnixNano of the subscribe reply
	reply   client.SubscribeResult
	err     error // of the subscribe
}

func (r *recoverer) consume(col string, reached *atomic.Int64) {
	prev := r.since.Offset
	for m := range r.c.Messages() {
		if m.Type != client.TypeOp || m.Collection != col || m.Offset == nil || *m.Offset > r.want {
			continue
		}
		if *m.Offset != prev+1 {
			r.gaps++
		}
		prev = *m.Offset
		r.count++
		if prev == r.want {
			r.reached.Store(time.Now().UnixNano())
			reached.Add(1)
		}
	}
}

// recovered reports whether the client got every missed event once, in
// order, and a reply saying so.
func (r *recoverer) recovered(events int) bool {
	return r.err == nil && r.reply.Recovered && r.reply.Offset == r.want &&
		r.count == events && r.gaps == 0 && r.reached.Load() != 0
}

// storeReads reads the server's outbox read count; NaN when /metrics does
// not have it.
func (t *target) storeReads(ctx context.Context) float64 {
	m, err := t.metrics(ctx)
	if err != nil {
		return math.NaN()
	}
	if v, ok := m[storeReadsMetric]; ok {
		return v
	}
	return math.NaN()
}

// runRecover subscribes N clients to one table's records, closes them all
// at once, writes E events through REST, reconnects them all and has them
// subscribe together from where they were, and measures the recovery.
func runRecover(ctx context.Context, o Options, t *target, prog *progress, rep *Report) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ttl := tokenTTL(o)
	httpc := adminClient(o.Writers)
	defer httpc.CloseIdleConnections()
	owner, setup, err := ownedTable(ctx, o, t, httpc, o.Rows, "recover")
	if err != nil {
		return err
	}
	col := setup.collection()
	prog.notef("table %d: %d rows; clients are the workspace's viewer %s", setup.Table, len(setup.Rows), benchViewer)
	cc := clientConfig{
		url: t.wsURL(), secret: t.jwtSecret, channel: o.Channel, sources: t.sources,
		readBuffer: o.ReadBuffer, messageBuffer: o.MessageBuffer, tokenTTL: ttl, user: benchViewer,
	}

	// The first connections: subscribe, note the position, leave together.
	first, _, err := openPool(ctx, cc, o.Conns, o.Dialers, prog)
	if first == nil {
		return err
	}
	if err == nil {
		_, err = first.subscribe(ctx, col, o.Dialers, prog)
	}
	first.reportErrors(rep)
	since := make([]*client.Position, len(first.clients))
	for i, c := range first.clients {
		if c == nil {
			continue
		}
		if pos, ok := c.Position(col); ok {
			since[i] = &pos
		}
	}
	closeStart := time.Now()
	first.close()
	closeTook := time.Since(closeStart)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	prog.notef("%d clients closed together in %.2fs", first.connected(), closeTook.Seconds())

	// The events they miss.
	wr := writeCells(ctx, owner, cellPlan{setup: setup, writers: o.Writers, writes: o.Events})
	if wr.err != nil || wr.confirmed() != o.Events {
		return fmt.Errorf("recover: writing %d events: %d confirmed: %v", o.Events, wr.confirmed(), wr.err)
	}
	prog.notef("%d events written through REST in %.2fs", o.Events, wr.took.Seconds())
	readsBefore := t.storeReads(ctx)

	// Back together: connect all, then release every subscribe at once.
	second, connTook, err := openPool(ctx, cc, o.Conns, o.Dialers, prog)
	if second == nil {
		return err
	}
	second.reportErrors(rep)
	var wg sync.WaitGroup
	closeAll := sync.OnceFunc(func() {
		second.close()
		wg.Wait()
	})
	defer closeAll()
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	var rs []*recoverer
	var reached atomic.Int64
	for i, c := range second.clients {
		if c == nil || since[i] == nil {
			continue
		}
		r := &recoverer{c: c, since: *since[i], want: since[i].Offset + uint64(o.Events)}
		rs = append(rs, r)
		wg.Go(func() { r.consume(col, &reached) })
	}
	if len(rs) == 0 {
		return errors.New("recover: no client both left and came back")
	}
	var ready, subs sync.WaitGroup
	release := make(chan struct{})
	for _, r := range rs {
		ready.Add(1)
		subs.Go(func() {
			ready.Done()
			<-release
			r.reply, r.err = r.c.SubscribeFrom(ctx, col, "", r.since)
			r.replyAt = time.Now().UnixNano()
		})
	}
	ready.Wait()
	end := prog.phase("recovering", int64(len(rs)), reached.Load)
	cpu0 := cpuOf(t.pid)
	t0 := time.Now()
	close(release)
	subs.Wait()
	answered := 0 // clients told recovered:true, which must all reach their offset
	for _, r := range rs {
		if r.err == nil && r.reply.Recovered {
			answered++
		}
	}
	waitErr := waitCount(ctx, &reached, int64(answered))
	end()
	cpu := cpuOf(t.pid) - cpu0
	reads := t.storeReads(ctx) - readsBefore
	closeAll() // the consumers end: their counts can be read

	var times Histogram
	var allTook time.Duration
	ok, notRecovered, minReplay, maxReplay, failed := 0, 0, math.MaxInt, 0, 0
	for _, r := range rs {
		minReplay, maxReplay = min(minReplay, r.count), max(maxReplay, r.count)
		switch {
		case r.err != nil:
			failed++
		case !r.reply.Recovered:
			notRecovered++
		}
		if r.recovered(o.Events) {
			ok++
			d := time.Duration(max(r.replyAt, r.reached.Load()) - t0.UnixNano())
			times.Record(d)
			allTook = max(allTook, d)
		}
	}
	n := len(rs)
	rep.add("clients", "clients", float64(n), "").goal(strconv.Itoa(o.Conns), func(v float64) bool { return int(v) == o.Conns })
	rep.add("events", "events missed (REST writes while away)", float64(o.Events), "")
	rep.add("disconnect_seconds", "time to close all", closeTook.Seconds(), "s")
	rep.add("reconnect_seconds", "time to reconnect all (before subscribing)", connTook.Seconds(), "s")
	allSecs := math.NaN()
	if ok == n {
		allSecs = allTook.Seconds()
	}
	rep.add("recover_seconds", "time until all recovered (from the subscribes' release)", allSecs, "s")
	ms := func(d time.Duration) float64 {
		if times.Count() == 0 {
			return math.NaN()
		}
		return float64(d) / float64(time.Millisecond)
	}
	rep.add("recover_p50_ms", "time to recover p50 (per client)", ms(times.Quantile(0.50)), "ms")
	rep.add("recover_p99_ms", "time to recover p99 (per client)", ms(times.Quantile(0.99)), "ms")
	rep.RecoveryTime = latencyReport(&times)
	eq := func(v float64) bool { return int(v) == o.Events }
	rep.add("replayed_min", "events replayed per client, fewest", float64(minReplay), "").goal(strconv.Itoa(o.Events), eq)
	rep.add("replayed_max", "events replayed per client, most", float64(maxReplay), "").goal(strconv.Itoa(o.Events), eq)
	rep.add("recovered_in_order", "clients that got every event once, in order, and recovered:true", float64(ok), "").
		goal(strconv.Itoa(n), func(v float64) bool { return int(v) == n })
	rep.add("recovered_false", "clients answered recovered:false", float64(notRecovered), "").goal("0",
		func(v float64) bool { return v == 0 })
	rep.add("server_cpu_seconds", "server CPU while recovering", cpu, "CPU-s")
	rep.add("store_reads", "outbox reads by the server ("+storeReadsMetric+")", reads, "").
		goal("<= "+strconv.Itoa(goalStoreReads), func(v float64) bool { return v <= goalStoreReads })

	if math.IsNaN(reads) {
		rep.problem("recover: the server's /metrics has no %s: store reads are not reported", storeReadsMetric)
	}
	if failed > 0 {
		rep.problem("recover: %d subscribes with since failed", failed)
	}
	if waitErr != nil {
		rep.problem("recover: %v", waitErr)
		return fmt.Errorf("recover: %w", waitErr)
	}
	if ok < n {
		return fmt.Errorf("recover: %d of %d clients did not recover every event in order", n-ok, n)
	}
	return nil
}

// waitCount waits until c reaches want, or ctx ends.
func waitCount(ctx context.Context, c *atomic.Int64, want int64) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for c.Load() < want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d clients had every event: %w", c.Load(), want, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}
