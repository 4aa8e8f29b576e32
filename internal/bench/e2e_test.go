package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tablecast/tablecast/pkg/client"
)

// runInProcess runs a scenario against an in-process server and checks
// that it stopped everything it started.
func runInProcess(t *testing.T, args ...string) (*Report, string) {
	t.Helper()
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	o, rep, out := runArgs(t, append(args, "--in-process", "--timeout", "20s")...)
	if err := writeOutputs(o, rep); err != nil {
		t.Fatal(err)
	}
	return rep, out
}

// runArgs runs bench with args, its output in out, within 30s.
func runArgs(t *testing.T, args ...string) (o Options, rep *Report, out string) {
	t.Helper()
	o, err := ParseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	o.Stdout, o.Stderr = &buf, &buf
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err = Run(ctx, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	return o, rep, buf.String()
}

func value(t *testing.T, r *Report, key string) float64 {
	t.Helper()
	f, ok := r.Figure(key)
	if !ok || f.Value == nil {
		t.Fatalf("no figure %s in %+v", key, r.Figures)
	}
	return *f.Value
}

func TestIdleEndToEnd(t *testing.T) {
	rep, out := runInProcess(t, "idle", "-n", "50")
	if got := value(t, rep, "connections"); got != 50 {
		t.Errorf("connections = %v, want 50", got)
	}
	if got := value(t, rep, "server_subscriptions"); got != 50 {
		t.Errorf("server subscriptions = %v, want 50", got)
	}
	if value(t, rep, "connect_rate") <= 0 {
		t.Error("no connect rate")
	}
	if !strings.Contains(out, "connecting: 50/50") {
		t.Errorf("no progress line:\n%s", out)
	}
}

func TestFanoutEndToEnd(t *testing.T) {
	dir := t.TempDir()
	rep, out := runInProcess(t, "fanout", "-n", "20", "-m", "20", "--baseline",
		"--json", filepath.Join(dir, "r.json"), "--html", filepath.Join(dir, "r.html"))
	for key, want := range map[string]float64{
		"subscribers": 20, "published": 20, "deliveries": 400, "slow_consumer_disconnects": 0, "clients_disconnected": 0,
	} {
		if got := value(t, rep, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if rep.Latency == nil || rep.Latency.Count != 400 || rep.Latency.P50US <= 0 {
		t.Errorf("latency: %+v", rep.Latency)
	}
	if rep.BaselineLatency == nil || rep.BaselineLatency.Count != 400 {
		t.Errorf("baseline latency: %+v", rep.BaselineLatency)
	}
	if rep.PublishLatency == nil || rep.PublishLatency.Count != 20 || value(t, rep, "publish_latency_p50_ms") <= 0 {
		t.Errorf("publish latency: %+v", rep.PublishLatency)
	}
	if rep.Params["publisher"] != "in-process" {
		t.Errorf("with --in-process the publisher runs in-process: %v", rep.Params)
	}
	if value(t, rep, "percent_of_baseline") <= 0 {
		t.Error("no percentage of the baseline")
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems: %v\n%s", rep.Problems, out)
	}
	var back Report
	b, err := os.ReadFile(filepath.Join(dir, "r.json"))
	if err != nil || json.Unmarshal(b, &back) != nil || back.Scenario != "fanout" || len(back.Figures) != len(rep.Figures) {
		t.Errorf("--json file: %v\n%s", err, b)
	}
	page, err := os.ReadFile(filepath.Join(dir, "r.html"))
	if err != nil || strings.Count(string(page), "<svg") != 2 {
		t.Errorf("--html file should hold two histograms: %v\n%s", err, page)
	}
}

func TestFanoutPublishersAndRate(t *testing.T) {
	rep, _ := runInProcess(t, "fanout", "-n", "10", "-m", "30", "--publishers", "3", "--rate", "300")
	if got := value(t, rep, "deliveries"); got != 300 {
		t.Errorf("deliveries = %v, want 300", got)
	}
	// 30 messages at 300/s take at least 29 intervals of 1/300 s.
	if got := value(t, rep, "publish_rate"); got > 330 {
		t.Errorf("publish rate %v/s is above --rate 300", got)
	}
}

// bench ops, inserts alone and with deletes: every client's copy ends
// equal to the stored row.
func TestOpsEndToEnd(t *testing.T) {
	for _, extra := range [][]string{nil, {"--deletes"}} {
		t.Run(fmt.Sprint(extra), func(t *testing.T) {
			args := append([]string{"ops", "-n", "6", "--docs", "2", "--duration", "1s", "--warmup", "200ms", "--sharedb", ""}, extra...)
			rep, _ := runInProcess(t, args...)
			if got := value(t, rep, "clients"); got != 6 {
				t.Errorf("clients = %v, want 6", got)
			}
			if value(t, rep, "acked_ops") <= 0 {
				t.Error("no op acknowledged")
			}
			if got := value(t, rep, "copies_differing"); got != 0 {
				t.Errorf("copies differing = %v, want 0", got)
			}
			// Versions stored: one per acknowledged op (some before the
			// warm-up), plus the setup's writes.
			if value(t, rep, "stored_versions") < value(t, rep, "acked_ops") {
				t.Errorf("stored versions %v below acked ops %v", value(t, rep, "stored_versions"), value(t, rep, "acked_ops"))
			}
		})
	}
}

// With --deletes every third edit of a client deletes a character: two
// inserts and a delete leave a cell one longer, alternately in each cell.
func TestOpsClientDeletes(t *testing.T) {
	for _, deletes := range []bool{false, true} {
		o := &opsClient{fields: [2]string{"1", "2"}, rng: rand.New(rand.NewPCG(1, 1)), deletes: deletes,
			doc: client.NewOTDoc(map[string]any{"fields": map[string]any{"1": "abc", "2": "abc"}}, 1)}
		for range 6 {
			if err := o.localOp(); err != nil {
				t.Fatal(err)
			}
		}
		fields := o.doc.Data().(map[string]any)["fields"].(map[string]any)
		want := 6 // 3 + 3 inserts
		if deletes {
			want = 4 // 3 + 2 inserts - 1
		}
		for _, k := range []string{"1", "2"} {
			if got := len(fields[k].(string)); got != want {
				t.Errorf("deletes %v: cell %s has %d characters, want %d", deletes, k, got, want)
			}
		}
	}
}
