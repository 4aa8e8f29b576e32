package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// runWriterChild is `tablecast bench rows-writer --url URL ...` with its
// writerSpec in $TABLECAST_BENCH_WRITER_SPEC: it opens its connections,
// prints "ready", waits for "go" on stdin, writes, prints its writeWire as
// one JSON line, and exits when stdin closes. Stdin closing while it
// writes stops it.
func runWriterChild(ctx context.Context, o Options, specJSON string, stdin io.Reader, stdout io.Writer) error {
	var spec writerSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil || spec.Token == "" || len(spec.Setup.Rows) == 0 {
		return fmt.Errorf("%s: no usable spec in $%s", rowsWriterScenario, writerSpecEnv)
	}
	plan := o.cellPlan(&spec.Setup)
	run := childRun{name: rowsWriterScenario, url: o.URL, conns: o.Writers, timeout: o.Timeout}
	if spec.Window > 0 {
		plan.credit = newCredit(spec.Window)
		run.line = func(line string) {
			if n, ok := parseAllowLine(line); ok {
				plan.credit.raise(n)
			}
		}
	}
	return runChild(ctx, run, stdin, stdout, func(ctx context.Context, t *target) any {
		rc := &restClient{base: t.base, httpc: t.httpc, token: spec.Token}
		return writeCells(ctx, rc, plan).wire()
	})
}

// writerHandle drives the rows writers, here or in a child process.
type writerHandle struct {
	where  string           // for people: "in-process", "child process pid N"
	begin  func()           // start writing
	allow  func(n int)      // with a window: writes below n may go
	cancel func()           // ask them to stop early
	done   chan writeResult // one value once writing ended
	stop   func() error     // release everything
	log    func() []string  // the child's stderr
}

// startWriters starts the writers; window > 0 makes them wait for credit
// (the first window writes go at once, allow lets more go).
func startWriters(ctx context.Context, o Options, t *target, token string, s *tableSetup, window int) (*writerHandle, error) {
	if o.InProcess {
		return startLocalWriters(ctx, o, t, token, s, window), nil
	}
	return startChildWriters(o, t, token, s, window)
}

func startLocalWriters(ctx context.Context, o Options, t *target, token string, s *tableSetup, window int) *writerHandle {
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	began := false
	plan := o.cellPlan(s)
	h := &writerHandle{where: "in-process", cancel: cancel, done: make(chan writeResult, 1),
		allow: func(int) {}, log: func() []string { return nil }}
	if window > 0 {
		plan.credit = newCredit(window)
		h.allow = plan.credit.raise
	}
	rc := &restClient{base: t.base, httpc: adminClient(o.Writers), token: token}
	h.begin = func() {
		began = true
		go func() {
			defer close(finished)
			h.done <- writeCells(ctx, rc, plan)
		}()
	}
	h.stop = func() error {
		cancel()
		if began {
			<-finished
		}
		rc.httpc.CloseIdleConnections()
		return nil
	}
	return h
}

func startChildWriters(o Options, t *target, token string, s *tableSetup, window int) (*writerHandle, error) {
	spec, err := json.Marshal(writerSpec{Token: token, Setup: *s, Window: window})
	if err != nil {
		return nil, err
	}
	args := []string{rowsWriterScenario, "--url", t.base.String(), "--writers", strconv.Itoa(o.Writers),
		"--rate", strconv.FormatFloat(o.Rate, 'g', -1, 64), "--writes", strconv.Itoa(o.Writes),
		"--duration", o.Duration.String(), "--timeout", o.Timeout.String()}
	c, err := startChildProc("rows writer", args, []string{writerSpecEnv + "=" + string(spec)})
	if err != nil {
		return nil, err
	}
	if c.ready != "ready" {
		return nil, c.fail()
	}
	h := &writerHandle{where: "child process pid " + strconv.Itoa(c.pid),
		begin: c.begin, cancel: func() { _ = c.stdin.Close() }, done: make(chan writeResult, 1),
		allow: func(n int) { _, _ = io.WriteString(c.stdin, allowLine(n)) },
		stop:  c.stop, log: c.logs.lines}
	go func() { h.done <- parseWriteLine(<-c.result) }()
	return h, nil
}

// await returns the writers' result. When ctx ends first, it asks them to
// stop and waits a little for their account.
func (h *writerHandle) await(ctx context.Context) writeResult {
	r, stopped, ok := awaitOrStop(ctx, h.done, h.cancel)
	switch {
	case !ok:
		return writeResult{err: fmt.Errorf("%w; the writers did not account for their writes", ctx.Err())}
	case stopped && r.err == nil:
		r.err = ctx.Err()
	}
	return r
}
