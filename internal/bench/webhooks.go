package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The webhooks scenario: a receiver in this process takes every call; the
// REST writes' latency is measured without webhooks, then with 1, 10 and
// 100 webhooks on the table (--hooks), each stage writing --writes rows
// and waiting until every webhook has every event: events delivered per
// second, how long after its write each event arrived, and what webhooks
// add to a write's p50 and p99. Each stage also
// reports the server's CPU (cores used while it ran, and per delivered
// event). A last stage, the control, deletes the webhooks and writes again
// while this process burns the CPU the 100-webhook stage added (server and
// receiver): if writes slow down as much there, what webhooks cost the
// write path is the machine's cores, not a coupling in the write path.

// DefaultHookWrites is the rows each stage writes.
const DefaultHookWrites = 500

// hookReceiver counts the events delivered, and how long after its write
// each arrived (its payload's timestamp, the server's clock at the write:
// the same machine's).
type hookReceiver struct {
	srv    *http.Server
	ln     net.Listener
	events atomic.Int64
	mu     sync.Mutex
	lag    Histogram // under mu
	signal chan struct{}
}

func newHookReceiver() (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &hookReceiver{ln: ln, signal: make(chan struct{}, 1)}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		n := int64(1)
		if len(b) > 0 && b[0] == '[' {
			var arr []json.RawMessage
			_ = json.Unmarshal(b, &arr)
			n = int64(len(arr))
		}
		r.record(b, time.Now())
		r.events.Add(n)
		select {
		case r.signal <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// record records the delivery latency of the events of body, received
// at now.
func (r *hookReceiver) record(body []byte, now time.Time) {
	const key = `"timestamp":"`
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		i := bytes.Index(body, []byte(key))
		if i < 0 {
			return
		}
		body = body[i+len(key):]
		end := bytes.IndexByte(body, '"')
		if end < 0 {
			return
		}
		if at, err := time.Parse(time.RFC3339Nano, string(body[:end])); err == nil {
			r.lag.Record(now.Sub(at))
		}
	}
}

// takeLag returns the delivery latencies recorded since the last call.
func (r *hookReceiver) takeLag() Histogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.lag
	r.lag = Histogram{}
	return h
}

func (r *hookReceiver) url() string { return "http://" + r.ln.Addr().String() + "/hook" }

func (r *hookReceiver) close() { _ = r.srv.Close() }

// wait waits until the receiver has counted want events, or ctx ends.
func (r *hookReceiver) wait(ctx context.Context, want int64) error {
	for r.events.Load() < want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d webhook events delivered: %w", r.events.Load(), want, ctx.Err())
		case <-r.signal:
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func runWebhooks(ctx context.Context, o Options, t *target, prog *progress, rep *Report) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	owner, setup, err := ownedTable(ctx, o, t, t.httpc, 1, "webhooks")
	if err != nil {
		return err
	}
	rcv, err := newHookReceiver()
	if err != nil {
		return err
	}
	defer rcv.close()
	writes := o.Writes
	if writes == 0 {
		writes = DefaultHookWrites
	}
	rowsPath := "/api/tables/" + strconv.FormatInt(setup.Table, 10) + "/rows"
	key := strconv.FormatInt(setup.Fields[0], 10)
	write := func(stage string) (*Histogram, error) {
		var mu sync.Mutex
		var all Histogram
		var next atomic.Int64
		var firstErr error
		var wg sync.WaitGroup
		for range o.Writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var h Histogram
				for i := next.Add(1); i <= int64(writes) && ctx.Err() == nil; i = next.Add(1) {
					start := time.Now()
					err := owner.callJSON(ctx, http.MethodPost, rowsPath,
						map[string]any{"fields": map[string]any{key: stage + " " + strconv.FormatInt(i, 10)}}, nil)
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					h.Record(time.Since(start))
				}
				mu.Lock()
				all.Merge(&h)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return &all, firstErr
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

	// cpu is the server's and this process's CPU-seconds so far.
	cpu := func() (server, self float64) { return t.cpu(), cpuOf(os.Getpid()) }

	prog.notef("webhooks: %d REST writes without webhooks", writes)
	start := time.Now()
	srv0, self0 := cpu()
	base, err := write("none")
	if err != nil {
		return err
	}
	srv1, self1 := cpu()
	took := time.Since(start).Seconds()
	baseCores, baseSelf := (srv1-srv0)/took, (self1-self0)/took
	perWrite := (srv1 - srv0) / float64(writes) // the server's CPU of a write alone
	p50 := ms(base.Quantile(0.5))
	rep.add("write_p50_no_webhooks", "REST write p50, no webhooks", p50, "ms")
	rep.add("write_p99_no_webhooks", "REST write p99, no webhooks", ms(base.Quantile(0.99)), "ms")
	rep.add("server_cores_no_webhooks", "server CPU, no webhooks", baseCores, "cores")
	var extra float64 // the cores the last stage added, server and this process

	var ids []int64
	for _, n := range o.hookCounts() {
		for len(ids) < n {
			var h struct {
				ID int64 `json:"id"`
			}
			if err := owner.callJSON(ctx, http.MethodPost, "/api/tables/"+strconv.FormatInt(setup.Table, 10)+"/webhooks",
				map[string]any{"url": rcv.url(), "events": []string{"rows.created"}}, &h); err != nil {
				return err
			}
			ids = append(ids, h.ID)
		}
		prog.notef("webhooks: %d REST writes with %d webhooks", writes, n)
		before := rcv.events.Load()
		rcv.takeLag()
		start := time.Now()
		srv0, self0 := cpu()
		h, err := write(strconv.Itoa(n))
		if err != nil {
			return err
		}
		wrote := time.Since(start).Seconds()
		srvW, selfW := cpu()
		if err := rcv.wait(ctx, before+int64(writes*n)); err != nil {
			rep.problem("%d webhooks: %v", n, err)
			return err
		}
		took := time.Since(start).Seconds()
		srv1, _ := cpu()
		s := strconv.Itoa(n)
		rep.add("webhook_events_per_s_"+s, "webhook events delivered/s, "+s+" webhooks", float64(writes*n)/took, "/s")
		rep.add("write_p50_webhooks_"+s, "REST write p50, "+s+" webhooks", ms(h.Quantile(0.5)), "ms")
		rep.add("write_p99_webhooks_"+s, "REST write p99, "+s+" webhooks", ms(h.Quantile(0.99)), "ms")
		rep.add("write_p50_ratio_webhooks_"+s, "write p50 with "+s+" webhooks / without", ms(h.Quantile(0.5))/p50, "x")
		lag := rcv.takeLag()
		rep.add("webhook_delivery_p50_"+s, "webhook delivery latency p50 (write to receiver), "+s+" webhooks", ms(lag.Quantile(0.5)), "ms")
		rep.add("webhook_delivery_p99_"+s, "webhook delivery latency p99, "+s+" webhooks", ms(lag.Quantile(0.99)), "ms")
		rep.add("server_cores_webhooks_"+s, "server CPU while writing, "+s+" webhooks", (srvW-srv0)/wrote, "cores")
		rep.add("server_cpu_per_event_"+s, "server CPU per delivered event, "+s+" webhooks",
			(srv1-srv0-perWrite*float64(writes))/float64(writes*n)*1e6, "µs")
		extra = max((srvW-srv0)/wrote-baseCores, 0) + max((selfW-self0)/wrote-baseSelf, 0)
	}
	if math.IsNaN(extra) || extra <= 0 {
		return nil // in process: the server's CPU is unknown
	}
	// The control: no webhooks, the same added CPU burnt here.
	for _, id := range ids {
		if err := owner.callJSON(ctx, http.MethodDelete, "/api/webhooks/"+strconv.FormatInt(id, 10), nil, nil); err != nil {
			return err
		}
	}
	prog.notef("webhooks: %d REST writes without webhooks, %.2f cores burnt in this process (control)", writes, extra)
	stop := burn(extra)
	srv0, _ = cpu()
	start = time.Now()
	ctl, err := write("control")
	srv1, _ = cpu()
	took = time.Since(start).Seconds()
	stop()
	if err != nil {
		return err
	}
	rep.add("control_burn_cores", "control: cores burnt by the bench, no webhooks", extra, "cores")
	rep.add("write_p50_control", "REST write p50, control", ms(ctl.Quantile(0.5)), "ms")
	rep.add("write_p99_control", "REST write p99, control", ms(ctl.Quantile(0.99)), "ms")
	rep.add("write_p50_ratio_control", "write p50 control / without", ms(ctl.Quantile(0.5))/p50, "x")
	rep.add("server_cores_control", "server CPU, control", (srv1-srv0)/took, "cores")
	return nil
}

// burn keeps cores CPU busy in this process (goroutines spinning a share
// of every 10ms) until the returned stop is called.
func burn(cores float64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	const slice = 10 * time.Millisecond
	for left := cores; left > 0.01; left-- {
		busy := time.Duration(min(left, 1) * float64(slice))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				for end := time.Now().Add(busy); time.Now().Before(end); {
				}
				if busy < slice {
					time.Sleep(slice - busy)
				}
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// hookCounts are the webhook counts of the stages, ascending.
func (o *Options) hookCounts() []int {
	if len(o.Hooks) == 0 {
		return []int{1, 10, 100}
	}
	return o.Hooks
}
