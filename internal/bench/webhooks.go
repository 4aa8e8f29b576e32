package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The webhooks scenario: a receiver in this process takes every call; the
// REST writes' latency is measured without webhooks, then with 1, 10 and
// 100 webhooks on the table (--hooks), each stage writing --writes rows
// and waiting until every webhook has every event: events delivered per
// second, and what webhooks add to a write's p50 and p99.

// DefaultHookWrites is the rows each stage writes.
const DefaultHookWrites = 500

// hookReceiver counts the events each webhook delivered.
type hookReceiver struct {
	srv    *http.Server
	ln     net.Listener
	events atomic.Int64
	mu     sync.Mutex
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

	prog.notef("webhooks: %d REST writes without webhooks", writes)
	base, err := write("none")
	if err != nil {
		return err
	}
	rep.add("write_p50_no_webhooks", "REST write p50, no webhooks", ms(base.Quantile(0.5)), "ms")
	rep.add("write_p99_no_webhooks", "REST write p99, no webhooks", ms(base.Quantile(0.99)), "ms")

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
		start := time.Now()
		h, err := write(strconv.Itoa(n))
		if err != nil {
			return err
		}
		if err := rcv.wait(ctx, before+int64(writes*n)); err != nil {
			rep.problem("%d webhooks: %v", n, err)
			return err
		}
		took := time.Since(start).Seconds()
		s := strconv.Itoa(n)
		rep.add("webhook_events_per_s_"+s, "webhook events delivered/s, "+s+" webhooks", float64(writes*n)/took, "/s")
		rep.add("write_p50_webhooks_"+s, "REST write p50, "+s+" webhooks", ms(h.Quantile(0.5)), "ms")
		rep.add("write_p99_webhooks_"+s, "REST write p99, "+s+" webhooks", ms(h.Quantile(0.99)), "ms")
	}
	return nil
}

// hookCounts are the webhook counts of the stages, ascending.
func (o *Options) hookCounts() []int {
	if len(o.Hooks) == 0 {
		return []int{1, 10, 100}
	}
	return o.Hooks
}
