package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// tablecast's fanout publisher is the goroutines that POST
// /api/ws/broadcast/channel. It runs in a child process of its own,
// `tablecast bench fanout-publisher`, like the baseline's sender: in the
// bench process it would wait in the run queue behind the thousands of
// receiving goroutines (measured on 2 cores with 10,000 subscribers: about
// 135ms per admin call, 7 publishes/s), and the run would measure the load
// generator rather than the server. With --in-process (tests) it runs in
// the bench process.

// publisherScenario is the hidden scenario the publisher child runs.
const publisherScenario = "fanout-publisher"

// publisherKeyEnv carries the admin API key to the publisher child: the
// environment, unlike the command line, is not readable by every user of
// the machine.
const publisherKeyEnv = "TABLECAST_BENCH_API_KEY"

// publishResult is what a publisher did.
type publishResult struct {
	published int
	took      time.Duration  // from the start to the last answer
	calls     *LatencyReport // how long the admin API calls took; nil: none answered
	err       error
}

// publishWire is a publishResult as the child prints it: one JSON line.
type publishWire struct {
	Published int            `json:"published"`
	TookNS    int64          `json:"took_ns"`
	Calls     *LatencyReport `json:"calls,omitempty"`
	childError
}

func (r publishResult) wire() publishWire {
	return publishWire{Published: r.published, TookNS: int64(r.took), Calls: r.calls, childError: wireError(r.err)}
}

// parsePublishLine reads the child's result line.
func parsePublishLine(line string) publishResult {
	var w publishWire
	if err := decodeResultLine("fanout publisher", line, &w); err != nil {
		return publishResult{err: err}
	}
	return publishResult{published: w.Published, took: time.Duration(w.TookNS), calls: w.Calls, err: w.err()}
}

// publishAll publishes o.Messages messages to the channel through the
// admin API, one request at a time per publisher (o.Publishers of them),
// at o.Rate in all or as fast as the server answers. Each payload's
// timestamp is taken just before its request, and the request's duration
// is measured from that timestamp to the answer. It stops at the first
// failed request: a message that may or may not have gone out makes the
// expected count unknowable.
func publishAll(ctx context.Context, t *target, o Options) publishResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prefix := []byte(`{"channel":"` + o.Channel + `","message":`)
	n := max(o.Publishers, 1)
	hists := make([]Histogram, n) // one per publisher: no lock between them
	pace := newPacer(o.Rate)
	start := time.Now()
	var next, published atomic.Int64
	var errOnce sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			body := make([]byte, 0, len(prefix)+o.Size+64)
			for {
				i := int(next.Add(1) - 1)
				if i >= o.Messages {
					return
				}
				pace.wait(ctx, i)
				if ctx.Err() != nil {
					return
				}
				sent := time.Now()
				body = append(body[:0], prefix...)
				body = makePayload(body, sent.UnixNano(), i, o.Size)
				body = append(body, '}')
				if err := t.do(ctx, http.MethodPost, "/api/ws/broadcast/channel", body, nil); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("message %d: %w", i, err) })
					cancel()
					return
				}
				hists[w].Record(time.Since(sent))
				published.Add(1)
			}
		})
	}
	wg.Wait()
	r := publishResult{published: int(published.Load()), took: time.Since(start), err: firstErr}
	if r.err == nil && r.published < o.Messages {
		r.err = ctx.Err()
	}
	var calls Histogram
	for i := range hists {
		calls.Merge(&hists[i])
	}
	r.calls = latencyReport(&calls)
	return r
}

// adminClient is the HTTP client of the admin API calls: it keeps a
// connection per publisher.
func adminClient(publishers int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: max(4, publishers),
		DisableCompression:  true,
	}}
}

// warmUp opens n keep-alive connections to the server (n requests to
// /healthz at once), so that the first publishes do not pay for TCP
// handshakes.
func (t *target) warmUp(ctx context.Context, n int) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = t.do(ctx, http.MethodGet, "/healthz", nil, nil) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runPublisherChild is `tablecast bench fanout-publisher --url URL ...`
// with the API key in $TABLECAST_BENCH_API_KEY: it connects, prints
// "ready", waits for "go" on stdin, publishes, prints its publishWire as
// one JSON line, and exits when stdin closes. Stdin closing while it
// publishes stops it.
func runPublisherChild(ctx context.Context, o Options, stdin io.Reader, stdout io.Writer) error {
	if o.APIKey == "" {
		return fmt.Errorf("%s: no admin API key in $%s", publisherScenario, publisherKeyEnv)
	}
	return runChild(ctx, childRun{name: publisherScenario, url: o.URL, apiKey: o.APIKey, conns: o.Publishers, timeout: o.Timeout},
		stdin, stdout, func(ctx context.Context, t *target) any { return publishAll(ctx, t, o).wire() })
}

// publisherHandle drives a publisher, here or in a child process.
type publisherHandle struct {
	where  string             // for people: "in-process", "child process pid N"
	pid    int                // the child's; 0 in-process
	begin  func()             // start publishing
	cancel func()             // ask it to stop early
	done   chan publishResult // one value once publishing ended
	stop   func() error       // release everything
	log    func() []string    // the child's stderr
}

func startPublisher(ctx context.Context, o Options, t *target) (*publisherHandle, error) {
	if o.InProcess {
		return startLocalPublisher(ctx, o, t), nil
	}
	return startChildPublisher(o, t)
}

func startLocalPublisher(ctx context.Context, o Options, t *target) *publisherHandle {
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	began := false
	h := &publisherHandle{where: "in-process", cancel: cancel, done: make(chan publishResult, 1),
		log: func() []string { return nil }}
	h.begin = func() {
		began = true
		go func() {
			defer close(finished)
			h.done <- publishAll(ctx, t, o)
		}()
	}
	h.stop = func() error {
		cancel()
		if began {
			<-finished
		}
		return nil
	}
	return h
}

func startChildPublisher(o Options, t *target) (*publisherHandle, error) {
	c, err := startChildProc("fanout publisher", []string{publisherScenario, "--url", t.base.String(),
		"-m", strconv.Itoa(o.Messages), "-s", strconv.Itoa(o.Size),
		"--rate", strconv.FormatFloat(o.Rate, 'g', -1, 64), "--publishers", strconv.Itoa(o.Publishers),
		"--channel", o.Channel, "--timeout", o.Timeout.String()},
		[]string{publisherKeyEnv + "=" + t.apiKey})
	if err != nil {
		return nil, err
	}
	if c.ready != "ready" {
		return nil, c.fail()
	}
	h := &publisherHandle{where: "child process pid " + strconv.Itoa(c.pid), pid: c.pid,
		begin: c.begin, cancel: func() { _ = c.stdin.Close() }, done: make(chan publishResult, 1),
		stop: c.stop, log: c.logs.lines}
	go func() { h.done <- parsePublishLine(<-c.result) }()
	return h, nil
}

// await returns the publisher's result. When ctx ends first, it asks the
// publisher to stop and waits a little for its count; failing that, the
// count is fallback's (what the fastest receiver got).
func (h *publisherHandle) await(ctx context.Context, fallback func() int) publishResult {
	r, stopped, ok := awaitOrStop(ctx, h.done, h.cancel)
	switch {
	case !ok:
		return publishResult{published: fallback(), err: ctx.Err()}
	case stopped && r.err != nil:
		r.err = ctx.Err()
	}
	return r
}
