package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	r := &Report{Scenario: "fanout", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seconds: 12.5,
		Server: "child process pid 1", Params: map[string]any{"n": 10}}
	r.add("deliveries_per_s", "deliveries/s", 123456.7, "deliveries/s")
	r.add("rss_per_conn", "server RSS per connection", 5000, "bytes").goal("<= 4096", func(v float64) bool { return v <= 4096 })
	r.add("cpu_per_million", "server CPU per million deliveries", math.NaN(), "CPU-s").goal("<= 1", func(v float64) bool { return v <= 1 })
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * 10 * time.Microsecond)
	}
	r.Latency = latencyReport(&h)
	r.problem("%d receivers lost their connection", 2)
	return r
}

func TestReportJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Scenario string
		Figures  []struct {
			Key   string
			Value *float64
			Met   *bool
		}
		Latency struct {
			Count uint64
			P50US float64 `json:"p50_us"`
			MaxUS float64 `json:"max_us"`
			Bins  []BinReport
		}
		Problems []string
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if back.Scenario != "fanout" || len(back.Figures) != 3 || len(back.Problems) != 1 {
		t.Fatalf("decoded %+v", back)
	}
	if f := back.Figures[0]; f.Key != "deliveries_per_s" || f.Value == nil || *f.Value != 123456.7 || f.Met != nil {
		t.Errorf("figure 0: %+v", f)
	}
	if f := back.Figures[1]; f.Met == nil || *f.Met {
		t.Errorf("5000 bytes should miss <= 4096: %+v", f)
	}
	if f := back.Figures[2]; f.Value != nil || f.Met != nil {
		t.Errorf("an unmeasured figure should be null and neither met nor missed: %+v", f)
	}
	if back.Latency.Count != 1000 || back.Latency.MaxUS != 10000 || math.Abs(back.Latency.P50US-5000) > 5000.0/64 {
		t.Errorf("latency %+v", back.Latency)
	}
	var sum uint64
	for _, b := range back.Latency.Bins {
		sum += b.Count
	}
	if sum != 1000 {
		t.Errorf("bins hold %d samples, want 1000", sum)
	}
}

func TestReportTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"deliveries/s", "123,457", "MISSED", "n/a", "problem: 2 receivers lost their connection"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestReportHTML(t *testing.T) {
	var buf bytes.Buffer
	r := sampleReport()
	r.Problems = append(r.Problems, "<script>alert(1)</script>")
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "<svg") || strings.Count(out, "<rect") != len(r.Latency.Bins) {
		t.Errorf("want one svg with %d bars:\n%s", len(r.Latency.Bins), out)
	}
	if strings.Contains(out, "<script>") {
		t.Error("a problem's text was not escaped")
	}
	if strings.Contains(out, "http://") && !strings.Contains(out, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("the page should load nothing from elsewhere")
	}
}

func TestFormatValue(t *testing.T) {
	v := func(x float64) *float64 { return &x }
	for _, c := range []struct {
		in   *float64
		want string
	}{{nil, "n/a"}, {v(0), "0"}, {v(3.14159), "3.14"}, {v(99.5), "99.5"}, {v(1234567.4), "1,234,567"}, {v(-2500), "-2,500"}, {v(100), "100"}} {
		if got := formatValue(c.in); got != c.want {
			t.Errorf("formatValue(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
