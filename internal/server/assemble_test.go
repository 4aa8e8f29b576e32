package server

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tablecast/tablecast/internal/config"
)

func TestClosersRunLastFirstOnce(t *testing.T) {
	var got []int
	var c closers
	for i := range 3 {
		c.push(func() { got = append(got, i) })
	}
	c.run()
	c.run() // cleared: nothing runs twice
	if want := []int{2, 1, 0}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}

// A node whose assembly fails part way (here at the broker, after the
// verifier, the store and the history are up) releases everything it
// built: no goroutine is left behind.
func TestNewReleasesWhatItBuiltOnFailure(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg, err := config.Load([]string{"--jwt-secret", "assemble-test", "--database-url", "sqlite://:memory:",
		"--redis-url", "redis://127.0.0.1:6379/not-a-db"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(context.Background(), cfg, Options{})
	if err == nil {
		_ = n.Shutdown(context.Background())
		t.Fatal("New succeeded with a bad Redis URL")
	}
	if !strings.HasPrefix(err.Error(), "server: TABLECAST_REDIS_URL: ") {
		t.Fatalf("error %q, want it to name the setting once", err)
	}
}
