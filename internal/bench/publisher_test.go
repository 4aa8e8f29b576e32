package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/pkg/client"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain lets this test binary stand in for `tablecast` when bench
// starts a helper process (childProc runs os.Executable with "bench" and a
// hidden scenario), so the child paths run in tests too.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		if err := Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startTestServer starts an in-process server for a test; stop ends it.
func startTestServer(t *testing.T) (srv *target, stop func()) {
	t.Helper()
	tgt, err := startTarget(context.Background(), Options{InProcess: true, Publishers: 1}, newProgress(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	return tgt, func() {
		if err := tgt.stop(); err != nil {
			t.Error(err)
		}
	}
}

// TestFanoutChildProcesses runs fanout the default way, with the publisher
// and the baseline sender in child processes, against a server given by
// --url.
func TestFanoutChildProcesses(t *testing.T) {
	// A race-enabled child would sleep 1s at exit.
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv, stop := startTestServer(t)
	defer stop()
	_, rep, out := runArgs(t, "fanout", "-n", "10", "-m", "15", "--publishers", "2", "--baseline",
		"--url", srv.base.String(), "--api-key", srv.apiKey, "--jwt-secret", srv.jwtSecret, "--timeout", "20s")
	for key, want := range map[string]float64{"published": 15, "deliveries": 150, "clients_disconnected": 0} {
		if got := value(t, rep, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if !strings.Contains(out, "publisher: child process pid ") || rep.Params["publisher"] != "child process" {
		t.Errorf("the publisher should run in a child process:\n%s", out)
	}
	if p50, p99 := value(t, rep, "publish_latency_p50_ms"), value(t, rep, "publish_latency_p99_ms"); p50 <= 0 || p99 < p50 {
		t.Errorf("publish latency p50 %v, p99 %v", p50, p99)
	}
	if rep.PublishLatency == nil || rep.PublishLatency.Count != 15 {
		t.Errorf("publish latency: %+v", rep.PublishLatency)
	}
	if rep.Latency == nil || rep.Latency.Count != 150 || rep.BaselineLatency == nil || rep.BaselineLatency.Count != 150 {
		t.Errorf("latency %+v, baseline latency %+v", rep.Latency, rep.BaselineLatency)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems: %v\n%s", rep.Problems, out)
	}
}

// publisherChild runs runPublisherChild against srv with the arguments
// given; it returns its stdin, its stdout lines and its result.
func publisherChild(t *testing.T, srv *target, args ...string) (io.WriteCloser, *bufio.Scanner, <-chan error) {
	t.Helper()
	o, err := ParseArgs(append([]string{publisherScenario, "--url", srv.base.String()}, args...))
	if err != nil {
		t.Fatal(err)
	}
	o.APIKey = srv.apiKey
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := runPublisherChild(context.Background(), o, inR, outW)
		_ = outW.CloseWithError(err)
		done <- err
	}()
	lines := bufio.NewScanner(outR)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("first line %q, want ready (%v)", lines.Text(), lines.Err())
	}
	return inW, lines, done
}

func TestPublisherChild(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv, stop := startTestServer(t)
	defer stop()

	// A whole run: every message, and a duration for each call.
	in, lines, done := publisherChild(t, srv, "-m", "5", "--publishers", "2")
	_, _ = io.WriteString(in, "go\n")
	if !lines.Scan() {
		t.Fatalf("no result: %v", lines.Err())
	}
	r := parsePublishLine(lines.Text())
	if r.err != nil || r.published != 5 || r.took <= 0 || r.calls == nil || r.calls.Count != 5 || r.calls.P50US <= 0 {
		t.Fatalf("result %+v from %s", r, lines.Text())
	}
	_ = in.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Closing stdin while it publishes stops it, with what it did so far.
	watcher := subscribeWatcher(t, srv)
	defer watcher.Close()
	in, lines, done = publisherChild(t, srv, "-m", "1000", "--rate", "50")
	_, _ = io.WriteString(in, "go\n")
	// Stop it once it has published something: a second message means the
	// first call returned (one publisher publishes one message at a time).
	for i := 0; i < 2; i++ {
		select {
		case <-watcher.Messages():
		case <-time.After(10 * time.Second):
			t.Fatal("nothing published")
		}
	}
	_ = in.Close()
	if !lines.Scan() {
		t.Fatalf("no result: %v", lines.Err())
	}
	r = parsePublishLine(lines.Text())
	if r.err == nil || r.published < 1 || r.published >= 1000 {
		t.Fatalf("stopped run: %+v from %s", r, lines.Text())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPublisherChildRefuses(t *testing.T) {
	o, err := ParseArgs([]string{publisherScenario, "--url", "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	err = runPublisherChild(context.Background(), o, strings.NewReader("go\n"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), publisherKeyEnv) {
		t.Errorf("without an API key: %v", err)
	}
	o.APIKey = "k"
	var out bytes.Buffer
	err = runPublisherChild(context.Background(), o, strings.NewReader("go\n"), &out)
	if err == nil || out.Len() != 0 {
		t.Errorf("an unreachable server should fail before ready: %v, %q", err, out.String())
	}
	if _, err := ParseArgs([]string{publisherScenario}); err == nil || !strings.Contains(err.Error(), "needs --url") {
		t.Errorf("without --url: %v", err)
	}
}

func TestPublishWire(t *testing.T) {
	calls := &LatencyReport{Count: 3, P50US: 120, P99US: 900}
	for _, c := range []struct {
		in       publishResult
		timedOut bool
	}{
		{publishResult{published: 3, took: time.Second, calls: calls}, false},
		{publishResult{published: 2, took: time.Second, err: errors.New("message 2: HTTP 500: boom")}, false},
		{publishResult{published: 1, err: fmt.Errorf("message 1: %w", context.DeadlineExceeded)}, true},
	} {
		b, err := json.Marshal(c.in.wire())
		if err != nil {
			t.Fatal(err)
		}
		got := parsePublishLine(string(b))
		if got.published != c.in.published || got.took != c.in.took || (got.calls == nil) != (c.in.calls == nil) {
			t.Errorf("%s: %+v", b, got)
		}
		if (got.err == nil) != (c.in.err == nil) || errors.Is(got.err, context.DeadlineExceeded) != c.timedOut {
			t.Errorf("%s: error %v", b, got.err)
		}
		if c.in.err != nil && !strings.Contains(got.err.Error(), "message") {
			t.Errorf("%s: the error should keep its words: %v", b, got.err)
		}
	}
	if r := parsePublishLine(""); r.err == nil {
		t.Error("an empty line should be an error")
	}
	if r := parsePublishLine("published 3"); r.err == nil {
		t.Error("a line that is not JSON should be an error")
	}
	if callMillis(calls, 0.5) != 0.12 || callMillis(calls, 0.99) != 0.9 {
		t.Errorf("callMillis: %v %v", callMillis(calls, 0.5), callMillis(calls, 0.99))
	}
}

// subscribeWatcher connects a client to srv subscribed to the bench channel.
func subscribeWatcher(t *testing.T, srv *target) *client.Client {
	t.Helper()
	tok, err := auth.Sign([]byte(srv.jwtSecret), auth.Claims{Subject: "watcher", Channels: []string{DefaultChannel}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ws := *srv.base
	ws.Scheme, ws.Path = "ws", "/api/ws/socket"
	c, err := client.Dial(context.Background(), client.Config{URL: ws.String(), Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Subscribe(context.Background(), DefaultChannel, ""); err != nil {
		t.Fatal(err)
	}
	return c
}
