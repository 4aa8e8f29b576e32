package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/tablecast/tablecast/pkg/client"
)

// The rows scenario's comparison (issue 18): at --rate 0, how many
// deliveries per second the server sustains for row events, against what
// bench fanout's load makes it sustain on the same sockets, the same
// server and messages of the same size, in the same run; and the
// write-to-socket latency at the rate reached and at half of it.
const goalRowsToFanout = 0.85

// fanoutPass subscribes the run's sockets to the app channel as well and
// publishes messages payloads of size bytes through the admin API, as
// bench fanout does (its publisher, one request at a time, as fast as the
// server answers).
func (r *rowsRun) fanoutPass(ctx context.Context, messages, size int) (*fanoutPassResult, error) {
	o, t := r.o, r.t
	o.Messages, o.Size, o.Rate = messages, min(max(size, minSize), maxSize), 0
	if _, err := r.p.subscribe(ctx, o.Channel, o.Dialers, r.prog); err != nil {
		return nil, fmt.Errorf("rows: fanout pass: %w", err)
	}
	s := newSink(o.Channel, len(r.p.clients))
	live := make([]bool, len(r.p.clients))
	for i, c := range r.p.clients {
		live[i] = c != nil && !r.ended[i].Load()
	}
	r.setRoute(func(i int, m *client.Message) { s.deliver(i, m) })
	defer r.setRoute(nil)
	pub, err := startPublisher(ctx, o, t)
	if err != nil {
		return nil, fmt.Errorf("rows: fanout pass: %w", err)
	}
	defer func() {
		if err := pub.stop(); err != nil {
			r.prog.notef("fanout publisher: %v", err)
		}
	}()
	r.prog.notef("fanout pass: %d messages of %d bytes, publisher: %s", o.Messages, o.Size, pub.where)

	res := &runResult{receivers: 0, cpu: math.NaN()}
	for _, ok := range live {
		if ok {
			res.receivers++
		}
	}
	cpu0, benchCPU0 := t.cpu(), cpuOf(os.Getpid())
	end := r.prog.phase("delivering", int64(res.receivers*o.Messages), s.rec.Count)
	res.start = time.Now()
	pub.begin()
	pr := pub.await(ctx, s.mostReceived)
	res.pubTook, res.pubCalls = pr.took, pr.calls
	res.published, res.publishErr = pr.published, withOutput(pr.err, "publisher", pub.log())
	res.waitErr = s.waitDelivered(ctx, live, res.published)
	end()
	res.cpu = t.cpu() - cpu0
	out := &fanoutPassResult{runResult: res, benchCPU: cpuOf(os.Getpid()) - benchCPU0}
	r.setRoute(nil)
	if err := res.tally(s, live); err != nil {
		return out, fmt.Errorf("rows: fanout pass: %w", err)
	}
	return out, nil
}

// fanoutPassResult is the fanout pass's result and the bench process's
// CPU during it (its clients read every delivery).
type fanoutPassResult struct {
	*runResult
	benchCPU float64
}

// cpuPerDelivery is the server's and the bench process's CPU per delivery,
// microseconds: on a machine whose cores the clients share with the
// server, what one delivery costs the machine.
func cpuPerDelivery(serverCPU, benchCPU float64, delivered int64) float64 {
	if delivered == 0 {
		return math.NaN()
	}
	return (serverCPU + benchCPU) / float64(delivered) * 1e6
}

// reportFanoutPass adds the fanout pass's figures and the ratio of the
// first pass's deliveries/s to its.
func reportFanoutPass(rep *Report, o Options, rows *rowsOutcome, fan *fanoutPassResult) {
	rep.add("message_bytes", "ops' data, mean (the fanout pass's payload)", float64(rows.messageSize()), "bytes")
	rep.add("fanout_published", "fanout pass: messages published", float64(fan.published), "")
	rep.add("fanout_publish_rate", "fanout pass: publish rate (admin API)", rate(fan.published, fan.pubTook), "messages/s")
	rep.add("fanout_deliveries", "fanout pass: deliveries", float64(fan.delivered), "").goal(strconv.FormatInt(fan.expected, 10),
		func(v float64) bool { return int64(v) >= fan.expected })
	rep.add("fanout_deliveries_per_s", "fanout pass: deliveries/s (same sockets and server)", fan.perSecond(), "deliveries/s")
	rep.add("fanout_cpu_per_million", "fanout pass: server CPU per million deliveries", fan.cpuPerMillion(), "CPU-s")
	rowsCost := cpuPerDelivery(rows.serverCPU, rows.benchCPU, rows.delivered)
	fanCost := cpuPerDelivery(fan.cpu, fan.benchCPU, fan.delivered)
	rep.add("machine_us_per_delivery", "rows: server and bench CPU per delivery", rowsCost, "µs")
	rep.add("fanout_machine_us_per_delivery", "fanout pass: server and bench CPU per delivery", fanCost, "µs")
	rep.add("fanout_to_rows_cost", "fanout pass CPU per delivery / rows' (server and bench)", fanCost/rowsCost, "")
	addLatency(rep, "fanout_", "fanout pass: latency", fan.hist)
	rep.add("rows_to_fanout", "rows deliveries/s / fanout pass deliveries/s", rows.deliveriesPerSecond()/fan.perSecond(), "").
		goal(fmt.Sprintf(">= %g", goalRowsToFanout), func(v float64) bool { return v >= goalRowsToFanout })
	fan.report(rep, "fanout pass", o.Timeout)
}

// reportHalf adds the figures of the pass at half the first pass's rate.
func (r *rowsOutcome) reportHalf(rep *Report) {
	chk := r.check
	zero := func(v float64) bool { return v == 0 }
	rep.add("half_writes_per_s", "half rate: writes/s", r.writesPerSecond(), "writes/s")
	rep.add("half_write_latency_p99_ms", "half rate: REST write latency p99", callMillis(r.writes.calls, 0.99), "ms")
	rep.add("half_deliveries_per_s", "half rate: deliveries/s", r.deliveriesPerSecond(), "deliveries/s")
	addLatency(rep, "half_", "half rate: write-to-socket latency", r.hist)
	cpuPerM := math.NaN()
	if r.delivered > 0 {
		cpuPerM = r.serverCPU / float64(r.delivered) * 1e6
	}
	rep.add("half_cpu_per_million", "half rate: server CPU per million deliveries", cpuPerM, "CPU-s")
	rep.add("half_exactly_once", "half rate: subscribers that saw every write once, in gapless offset order", float64(chk.exact), "").
		goal(strconv.Itoa(chk.subscribers), func(v float64) bool { return int(v) == chk.subscribers && chk.subscribers > 0 })
	rep.add("half_missing", "half rate: committed writes a subscriber did not see", float64(chk.missing), "").goal("0", zero)
	rep.add("half_duplicates", "half rate: duplicates", float64(chk.again), "").goal("0", zero)
	if r.waitErr != nil {
		rep.problem("rows, half rate: %v", r.waitErr)
	}
	for _, e := range chk.examples {
		rep.problem("rows, half rate: %s", e)
	}
}
