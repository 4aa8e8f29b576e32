package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Goals of the idle scenario (the issue's).
const (
	goalRSSPerConn        = 4096 // bytes
	goalGoroutinesPerConn = 0.01 // "about zero"
)

// runIdle opens N connections, subscribes each to one channel, lets them
// idle, and measures what they cost the server.
func runIdle(ctx context.Context, o Options, t *target, prog *progress, rep *Report) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	before := t.sample(ctx)
	cc := clientConfig{
		url: t.wsURL(), secret: t.jwtSecret, channel: o.Channel, sources: t.sources,
		readBuffer: o.ReadBuffer, messageBuffer: o.MessageBuffer, tokenTTL: o.Timeout + time.Hour,
	}
	p, connTook, err := openPool(ctx, cc, o.Conns, o.Dialers, prog)
	if p == nil {
		return err
	}
	defer p.close()
	dialed := p.connected()
	var subTook time.Duration
	if err == nil {
		subTook, err = p.subscribe(ctx, o.Channel, o.Dialers, prog)
	}
	n := p.connected()

	if err == nil && o.Hold > 0 {
		prog.notef("holding %d idle connections for %s", n, o.Hold)
		sleep(ctx, o.Hold)
	}
	var after serverSample
	if err == nil {
		prog.notef("measuring the server: RSS once steady, then heap after a forced garbage collection")
		after = t.sample(ctx)
	}
	var stats serverStats
	statsErr := errors.New("not read")
	if err == nil {
		stats, statsErr = t.stats(ctx)
	}

	rep.add("connections", "connections open", float64(n), "").goal(fmt.Sprintf("%d", o.Conns),
		func(v float64) bool { return int(v) == o.Conns })
	rep.add("connect_rate", "connect rate (upgrade + JWT check)", rate(dialed, connTook), "handshakes/s")
	rep.add("connect_seconds", "time to connect all", connTook.Seconds(), "s")
	rep.add("subscribe_rate", "subscribe rate", rate(n, subTook), "subscribes/s")
	rss := perConn(before.RSS, after.RSS, n)
	rep.add("rss_per_conn", "server RSS per connection", rss, "bytes").goal("<= 4096",
		func(v float64) bool { return v <= goalRSSPerConn })
	rep.add("heap_per_conn", "server Go heap per connection", perConn(before.Heap, after.Heap, n), "bytes")
	rep.add("goroutines_per_conn", "server goroutines per connection", perConn(before.Goroutines, after.Goroutines, n), "").
		goal("~0", func(v float64) bool { return v <= goalGoroutinesPerConn })
	rep.add("rss_before", "server RSS before", before.RSS/(1<<20), "MiB")
	rep.add("rss_after", "server RSS after", after.RSS/(1<<20), "MiB")
	rep.add("goroutines_before", "server goroutines before", before.Goroutines, "")
	rep.add("goroutines_after", "server goroutines after", after.Goroutines, "")
	if statsErr == nil {
		rep.add("server_connections", "server's count of connections", float64(stats.Connections), "")
		rep.add("server_subscriptions", "server's count of subscriptions", float64(stats.Subscriptions), "")
	}

	p.reportErrors(rep)
	if t.node != nil {
		rep.problem("in-process server: RSS, heap and goroutines would include the clients, so they are not reported")
	} else if err == nil && (!before.GCForced || !after.GCForced) {
		rep.problem("could not make the server collect garbage before sampling: heap figures include garbage")
	}
	if t.node == nil && t.pid == 0 {
		rep.problem("no server process id (--server-pid): RSS is not reported")
	}
	if err != nil {
		rep.problem("stopped early: %v", err)
		return fmt.Errorf("idle: %w", err)
	}
	if n < o.Conns {
		return fmt.Errorf("idle: %d of %d connections failed", o.Conns-n, o.Conns)
	}
	return nil
}

// rate is n per d, NaN for an empty interval.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return math.NaN()
	}
	return float64(n) / d.Seconds()
}
