package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRowsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	rep, out := runInProcess(t, "rows", "-n", "20", "--writes", "50", "--rows", "5", "--writers", "3",
		"--rate", "500", "--html", filepath.Join(dir, "r.html"))
	for key, want := range map[string]float64{
		"subscribers": 20, "writes": 50, "deliveries": 1000, "exactly_once": 20, "offset_gaps": 0,
		"duplicates": 0, "missing": 0, "clients_disconnected": 0, "slow_consumer_disconnects": 0,
	} {
		if got := value(t, rep, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	// The table's stream: 3 field creations and 5 row creations (one batch
	// event each or per row), then the 50 updates.
	if top := value(t, rep, "stream_top"); top < 50 {
		t.Errorf("stream top %v, want at least the 50 updates", top)
	}
	if rep.Latency == nil || rep.Latency.Count != 1000 || rep.Latency.P99US <= 0 {
		t.Errorf("latency: %+v", rep.Latency)
	}
	if rep.WriteLatency == nil || rep.WriteLatency.Count != 50 || value(t, rep, "write_latency_p50_ms") <= 0 {
		t.Errorf("write latency: %+v", rep.WriteLatency)
	}
	// 50 writes at 500/s take at least 49 intervals of 2ms.
	if got := value(t, rep, "writes_per_s"); got > 550 {
		t.Errorf("writes/s %v is above --rate 500", got)
	}
	if rep.Params["writer"] != "in-process" || rep.Params["database"] != "sqlite (temporary file)" {
		t.Errorf("params: %v", rep.Params)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems: %v\n%s", rep.Problems, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "r.html"))
	if err != nil || strings.Count(string(page), "<svg") != 2 {
		t.Errorf("--html file should hold the delivery and the REST histograms: %v", err)
	}
}

// TestRowsCompare: a small rows run at --rate 0, in-process, with its
// comparison: the same sockets take the writes, bench fanout's load, and
// the writes at half the rate, each exactly once.
func TestRowsCompare(t *testing.T) {
	rep, out := runInProcess(t, "rows", "-n", "10", "--rate", "0", "--writes", "40", "--rows", "5", "--window", "3")
	for key, want := range map[string]float64{
		"subscribers": 10, "writes": 40, "deliveries": 400, "exactly_once": 10, "offset_gaps": 0, "duplicates": 0,
		"missing": 0, "fanout_published": 40, "fanout_deliveries": 400, "half_exactly_once": 10, "half_missing": 0,
	} {
		if got := value(t, rep, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	for _, key := range []string{"rows_to_fanout", "half_writes_per_s", "half_latency_p99_ms", "latency_p99_ms", "message_bytes"} {
		if v := value(t, rep, key); !(v > 0) {
			t.Errorf("%s = %v, want a positive figure", key, v)
		}
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems: %v\n%s", rep.Problems, out)
	}
}

func TestRowsForDuration(t *testing.T) {
	rep, out := runInProcess(t, "rows", "-n", "5", "--duration", "300ms", "--rate", "100", "--rows", "3", "--writers", "2")
	writes := value(t, rep, "writes")
	// 300ms at 100/s: at most the writes due at 0, 10, ..., 290ms; fewer
	// when the writers fall behind (a slow machine, the race detector).
	if writes < 1 || writes > 30 {
		t.Errorf("writes = %v, want 1 to 30", writes)
	}
	if got := value(t, rep, "exactly_once"); got != 5 || value(t, rep, "deliveries") != 5*writes {
		t.Errorf("exactly once %v, deliveries %v\n%s", got, value(t, rep, "deliveries"), out)
	}
}

func TestRecoverEndToEnd(t *testing.T) {
	dir := t.TempDir()
	rep, out := runInProcess(t, "recover", "-n", "30", "-e", "10", "--rows", "4",
		"--html", filepath.Join(dir, "r.html"))
	for key, want := range map[string]float64{
		"clients": 30, "events": 10, "replayed_min": 10, "replayed_max": 10, "recovered_in_order": 30, "recovered_false": 0,
	} {
		if got := value(t, rep, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if value(t, rep, "recover_seconds") <= 0 || rep.RecoveryTime == nil || rep.RecoveryTime.Count != 30 {
		t.Errorf("recovery time: %+v", rep.RecoveryTime)
	}
	// The server serves recent events from memory, and shares the reads of
	// clients recovering the same range at once: never one read per client.
	if reads := value(t, rep, "store_reads"); reads < 0 || reads >= 30 {
		t.Errorf("store reads = %v, want fewer than one per client (30)", reads)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems: %v\n%s", rep.Problems, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "r.html"))
	if err != nil || !strings.Contains(string(page), "Time to recover") {
		t.Errorf("--html file should hold the recovery histogram: %v", err)
	}
}

func TestCell(t *testing.T) {
	v := appendCell(nil, 42, 1795308211123456789)
	data := []byte(`{"v":3,"op":[{"p":["fields","7"],"od":"s41t1795308211000000000","oi":"` + string(v) + `"}]}`)
	seq, stamp, ok := parseCell(data)
	if !ok || seq != 42 || stamp != 1795308211123456789 {
		t.Fatalf("parseCell = %d %d %v", seq, stamp, ok)
	}
	for _, bad := range []string{`{"oi":"s12"}`, `{"oi":"s12t"}`, `{"oi":"st1"}`, `{"oi":"x"}`, `{"od":"s1t2"}`, `{"oi":"s1t2x"}`} {
		if _, _, ok := parseCell([]byte(bad)); ok {
			t.Errorf("parseCell(%s) should fail", bad)
		}
	}
}

func TestBitset(t *testing.T) {
	var b bitset
	if b.set(3) || b.set(200) || !b.set(3) || !b.has(200) || b.has(4) || b.has(10000) {
		t.Fatalf("bitset: %v", b)
	}
}

func TestParseArgsTableDefaults(t *testing.T) {
	o, err := ParseArgs([]string{"rows"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Conns != DefaultTableConns || o.Rate != DefaultRowsRate || o.Writers != DefaultTableWriters || o.Rows != DefaultRows ||
		o.Duration != DefaultDuration || o.Writes != 0 || o.databaseURL() != defaultDatabase {
		t.Fatalf("rows defaults: %+v", o)
	}
	for _, c := range []struct {
		args            []string
		writers, window int
	}{
		{[]string{"rows", "--rate", "0"}, DefaultRowsMaxWriters, DefaultRowsWindow},
		{[]string{"rows", "--rate", "0", "--writers", "3", "--window", "0"}, 3, 0},
		{[]string{"pages"}, DefaultTableWriters, DefaultRowsWindow},
	} {
		o, err := ParseArgs(c.args)
		if err != nil || o.Writers != c.writers || o.Window != c.window {
			t.Errorf("%v: writers %d, window %d (%v); want %d, %d", c.args, o.Writers, o.Window, err, c.writers, c.window)
		}
	}
	o, err = ParseArgs([]string{"recover", "-n", "7", "-e", "3", "--database-url", "postgres://u:secret@db/x"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Conns != 7 || o.Events != 3 || o.Rate != 0 || strings.Contains(o.databaseLabel(), "secret") {
		t.Fatalf("recover: %+v %s", o, o.databaseLabel())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"rows", "--writers", "0"}, "--writers"},
		{[]string{"rows", "--duration", "0s"}, "--duration"},
		{[]string{"rows", "--window", "-1"}, "--window"},
		{[]string{"rows", "--database-url", "mysql://x"}, "--database-url"},
		{[]string{"rows", "--url", "http://127.0.0.1:1", "--jwt-secret", "x", "--database-url", "sqlite://x"}, "not with --url"},
		{[]string{rowsWriterScenario}, "needs --url"},
	} {
		if _, err := ParseArgs(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.args, err, c.want)
		}
	}
}

func TestWriteWire(t *testing.T) {
	r := writeResult{taken: 10, unsent: []int{8}, unconfirmed: []int{9}, took: time.Second}
	back := parseWriteLine(mustWire(t, r))
	if back.taken != 10 || back.confirmed() != 8 || back.took != time.Second || back.err != nil {
		t.Fatalf("round trip: %+v", back)
	}
	if parseWriteLine("").err == nil || parseWriteLine("{").err == nil {
		t.Fatal("a missing or broken line should be an error")
	}
}

func mustWire(t *testing.T, r writeResult) string {
	t.Helper()
	b, err := json.Marshal(r.wire())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
