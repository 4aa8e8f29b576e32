// Package redistest gives tests a Redis key prefix of their own on the
// server named by TABLECAST_TEST_REDIS, so that runs and tests sharing a
// Redis never meet; the keys are deleted when the test ends. Without the
// variable (or without an answer from the server) a test is skipped with a
// message saying how to enable it, except under CI=true, where it fails.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Env names the variable holding the Redis URL.
const Env = "TABLECAST_TEST_REDIS"

// Prefix returns the Redis URL and a fresh key prefix for tb, whose keys
// are deleted when tb ends.
func Prefix(tb testing.TB) (url, prefix string) {
	tb.Helper()
	url = os.Getenv(Env)
	fail := tb.Skipf
	if os.Getenv("CI") == "true" {
		fail = tb.Fatalf
	}
	if url == "" {
		fail("%s is not set: Redis is not tested. Set it, for example %s=redis://127.0.0.1:6379/0", Env, Env)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("%s: %v", Env, err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		fail("Redis at %s: %v", url, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix = "tctest:" + os.Getenv("TABLECAST_TEST_RUN_ID") + ":" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		c := redis.NewClient(opts)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return url, prefix
}

// Client returns a client of the test Redis, closed when tb ends, and a
// fresh prefix (see Prefix).
func Client(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	url, prefix := Prefix(tb)
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c, prefix
}
