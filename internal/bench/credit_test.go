package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestCreditWaitsForRaise(t *testing.T) {
	c := newCredit(2)
	ctx := context.Background()
	c.wait(ctx, 1) // below the first window: at once
	went := make(chan struct{})
	go func() {
		c.wait(ctx, 4)
		close(went)
	}()
	c.raise(4) // write 4 still waits
	c.raise(3) // lower: nothing
	select {
	case <-went:
		t.Fatal("write 4 went with credit for writes below 4")
	case <-time.After(20 * time.Millisecond):
	}
	c.raise(5)
	<-went

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	c.wait(cancelled, 100) // returns: the context ended
	var none *credit
	none.wait(ctx, 1<<30) // no credit: never waits
}

func TestAllowLine(t *testing.T) {
	if n, ok := parseAllowLine(strings.TrimSuffix(allowLine(1234), "\n")); !ok || n != 1234 {
		t.Fatalf("round trip: %d %v", n, ok)
	}
	for _, bad := range []string{"", "go", "allow", "allow x", "allow -1", "allow 1 2"} {
		if _, ok := parseAllowLine(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestRowsWindowChildProcess runs rows at --rate 0 with a window of 2, the
// writers in a child process fed credit on its stdin: every write must
// still reach every subscriber, and the run must end (a lost "allow" line
// would stall it).
func TestRowsWindowChildProcess(t *testing.T) {
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv, stop := startTestServer(t)
	defer stop()
	_, rep, out := runArgs(t, "rows", "-n", "5", "--rate", "0", "--writes", "30", "--rows", "3", "--writers", "4",
		"--window", "2", "--compare=false", "--url", srv.base.String(), "--api-key", srv.apiKey,
		"--jwt-secret", srv.jwtSecret, "--timeout", "20s")
	for key, want := range map[string]float64{"writes": 30, "deliveries": 150, "exactly_once": 5, "missing": 0} {
		if got := value(t, rep, key); got != want {
			t.Errorf("%s = %v, want %v\n%s", key, got, want, out)
		}
	}
	if !strings.Contains(out, "child process pid") || !strings.Contains(out, "at most 2 ahead") {
		t.Errorf("want the writers in a child process, with the window:\n%s", out)
	}
}
