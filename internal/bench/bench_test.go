package bench

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tablecast/tablecast/pkg/client"
)

func TestParseArgsDefaults(t *testing.T) {
	o, err := ParseArgs([]string{"fanout"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Scenario != "fanout" || o.Conns != DefaultConns || o.Messages != DefaultMessages || o.Size != DefaultSize ||
		o.Timeout != DefaultTimeout || o.Rate != 0 || o.Baseline || o.InProcess || o.Dialers != DefaultDialers {
		t.Fatalf("defaults: %+v", o)
	}
	if len(o.SourceAddrs) != 8 || o.SourceAddrs[0] != "127.0.0.2" || o.SourceAddrs[7] != "127.0.0.9" {
		t.Fatalf("source addresses: %v", o.SourceAddrs)
	}
}

func TestParseArgsOrders(t *testing.T) {
	for _, args := range [][]string{
		{"fanout", "-n", "10000", "-m", "200", "--baseline", "--rate", "50", "--timeout", "30s"},
		{"-n", "10000", "fanout", "-m", "200", "--baseline", "--rate=50", "-timeout", "30s"},
	} {
		o, err := ParseArgs(args)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if o.Scenario != "fanout" || o.Conns != 10000 || o.Messages != 200 || !o.Baseline || o.Rate != 50 || o.Timeout != 30*time.Second {
			t.Errorf("%v: %+v", args, o)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no scenario"},
		{[]string{"soak"}, "unknown scenario"},
		{[]string{"idle", "extra"}, "unexpected argument"},
		{[]string{"idle", "-n", "0"}, "-n must be at least 1"},
		{[]string{"fanout", "-s", "10"}, "-s must be"},
		{[]string{"fanout", "--url", "http://127.0.0.1:3000"}, "--jwt-secret"},
		{[]string{"fanout", "--url", "http://127.0.0.1:3000", "--jwt-secret", "x"}, "--api-key"},
		{[]string{"idle", "--url", "ws://x", "--jwt-secret", "x"}, "want http://host:port"},
		{[]string{"idle", "--server-pid", "12"}, "go with --url"},
		{[]string{"idle", "--channel", "a b"}, "--channel"},
		{[]string{"idle", "--source-addrs", "127.0.0.9-127.0.0.2"}, "not a range"},
		{[]string{"idle", "--bogus"}, "not defined"},
		{[]string{"ops", "--edited-narrow"}, "goes with --wide"},
		{[]string{"ops", "--nodes", "2", "--redis-url", "redis://127.0.0.1:6379/0"}, "needs a PostgreSQL --database-url"},
		{[]string{"ops", "--doc-per-node"}, "goes with ops --nodes"},
		{[]string{"ops", "--sharedb-postgres", "mysql://x/y"}, "wants a postgres:// URL"},
		{[]string{"ops", "--sharedb", "", "--sharedb-postgres", "postgres://x/y"}, "goes with ops and the ShareDB peer"},
		{[]string{"rows", "--sharedb-postgres", "postgres://x/y"}, "goes with ops"},
		{[]string{"ops", "--nodes", "3", "--redis-url", "redis://127.0.0.1:6379/0", "--database-url", "postgres://x/y", "--doc-per-node"}, "a multiple of N"},
	} {
		_, err := ParseArgs(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.args, err, c.want)
		}
	}
	if _, err := ParseArgs([]string{"idle", "--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestParseAddrs(t *testing.T) {
	got, err := parseAddrs("127.0.0.2-127.0.0.4, 10.0.0.1")
	if err != nil || strings.Join(got, " ") != "127.0.0.2 127.0.0.3 127.0.0.4 10.0.0.1" {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := parseAddrs("none"); err != nil || got != nil {
		t.Fatalf("none: %v %v", got, err)
	}
	if _, err := parseAddrs("localhost"); err == nil {
		t.Fatal("a host name should be refused")
	}
}

func TestPayload(t *testing.T) {
	for _, size := range []int{minSize, 100, 4096} {
		p := makePayload([]byte("prefix"), 1795308211123456789, 123456, size)
		if len(p)-len("prefix") != size {
			t.Errorf("size %d: got %d bytes: %s", size, len(p)-len("prefix"), p)
		}
		stamp, ok := parseStamp(p[len("prefix"):])
		if !ok || stamp != 1795308211123456789 {
			t.Errorf("size %d: stamp %d %v", size, stamp, ok)
		}
	}
	for _, bad := range []string{"", `{"t":}`, `{"t":12`, `{"x":1,"t":2}`, `{"t":1x,`} {
		if _, ok := parseStamp([]byte(bad)); ok {
			t.Errorf("parseStamp(%q) should fail", bad)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader("# HELP go_goroutines x\ngo_goroutines 12\n" +
		"go_gc_duration_seconds{quantile=\"0.5\"} 0.1\ngo_memstats_heap_alloc_bytes 3.5e+06\nbroken\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["go_goroutines"] != 12 || m["go_memstats_heap_alloc_bytes"] != 3.5e6 || len(m) != 2 {
		t.Fatalf("%v", m)
	}
}

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(2)
	_, _ = b.Write([]byte("one\ntwo\nthr"))
	_, _ = b.Write([]byte("ee\nfour"))
	if got := strings.Join(b.lines(), "|"); got != "two|three|four" {
		t.Fatalf("lines = %q", got)
	}
}

func TestRateLimited(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("submit: %w", &client.ServerError{Code: 429, Message: "rate limit exceeded"}), true},
		{&client.ServerError{Code: 409, Message: "conflict"}, false},
		{errors.New("server error 429"), false},
		{nil, false},
	} {
		if got := rateLimited(tc.err); got != tc.want {
			t.Errorf("rateLimited(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	for _, external := range []bool{false, true} {
		msg := errRateLimited(4, external).Error()
		if !strings.Contains(msg, "4 clients") || !strings.Contains(msg, "TABLECAST_RATE_LIMIT") ||
			strings.Contains(msg, "the bench starts") == external {
			t.Errorf("external %v: the explanation %q does not say how to lift the limit of that server", external, msg)
		}
	}
}
