package bench

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a scenario measured: printed as a table, written as JSON
// (--json) and as an HTML page (--html).
type Report struct {
	Scenario string         `json:"scenario"`
	Started  time.Time      `json:"started"`
	Seconds  float64        `json:"seconds"` // wall time of the whole run
	Server   string         `json:"server"`  // what was measured: child process, in-process, or a URL
	Params   map[string]any `json:"params"`
	Figures  []Figure       `json:"figures"`
	// Latency is tablecast's delivery latency; BaselineLatency the raw TCP
	// fan-out's (fanout --baseline).
	Latency         *LatencyReport `json:"latency,omitempty"`
	BaselineLatency *LatencyReport `json:"baseline_latency,omitempty"`
	// PublishLatency is how long the fanout publisher's admin API calls
	// took, from the payload's timestamp to the answer.
	PublishLatency *LatencyReport `json:"publish_latency,omitempty"`
	// WriteLatency is how long the rows scenario's REST writes took, from
	// the cell's timestamp to the answer.
	WriteLatency *LatencyReport `json:"write_latency,omitempty"`
	// RecoveryTime is, per client of the recover scenario, the time from
	// the release of the reconnected clients' subscribes to that client
	// holding its reply and every replayed event.
	RecoveryTime *LatencyReport `json:"recovery_time,omitempty"`
	// Problems are what went wrong or missed a goal, in words.
	Problems []string `json:"problems,omitempty"`
	// ServerLog is the tail of the server child's output, when it wrote any.
	ServerLog []string `json:"server_log,omitempty"`
}

// Figure is one measured value. Value is nil when it could not be measured
// (for example RSS of a server whose process is not known).
type Figure struct {
	Key   string   `json:"key"`
	Label string   `json:"label"`
	Value *float64 `json:"value"`
	Unit  string   `json:"unit,omitempty"`
	Goal  string   `json:"goal,omitempty"`
	Met   *bool    `json:"met,omitempty"`
}

// LatencyReport summarises a Histogram in microseconds.
type LatencyReport struct {
	Count  uint64      `json:"count"`
	MeanUS float64     `json:"mean_us"`
	P50US  float64     `json:"p50_us"`
	P95US  float64     `json:"p95_us"`
	P99US  float64     `json:"p99_us"`
	MaxUS  float64     `json:"max_us"`
	Bins   []BinReport `json:"bins"`
}

// BinReport is one bar of the latency histogram.
type BinReport struct {
	LowUS  float64 `json:"low_us"`
	HighUS float64 `json:"high_us"`
	Count  uint64  `json:"count"`
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// latencyReport summarises h; nil when it is empty.
func latencyReport(h *Histogram) *LatencyReport {
	if h == nil || h.Count() == 0 {
		return nil
	}
	r := &LatencyReport{
		Count:  h.Count(),
		MeanUS: micros(h.Mean()),
		P50US:  micros(h.Quantile(0.50)),
		P95US:  micros(h.Quantile(0.95)),
		P99US:  micros(h.Quantile(0.99)),
		MaxUS:  micros(h.Max()),
	}
	for _, b := range h.Bins(4) {
		r.Bins = append(r.Bins, BinReport{LowUS: micros(b.Low), HighUS: micros(b.High), Count: b.Count})
	}
	return r
}

// add appends a figure; a NaN value means "not measured".
func (r *Report) add(key, label string, v float64, unit string) *Figure {
	f := Figure{Key: key, Label: label, Unit: unit}
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		f.Value = &v
	}
	r.Figures = append(r.Figures, f)
	return &r.Figures[len(r.Figures)-1]
}

// goal sets the figure's goal and whether the value meets it; an
// unmeasured value meets nothing and misses nothing.
func (f *Figure) goal(text string, ok func(v float64) bool) {
	f.Goal = text
	if f.Value != nil {
		met := ok(*f.Value)
		f.Met = &met
	}
}

// problem records something that went wrong, in words.
func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Figure returns the figure with the given key.
func (r *Report) Figure(key string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Key == key {
			return f, true
		}
	}
	return Figure{}, false
}

// formatValue writes v for people: whole numbers at 100 and above with
// thousands separators, smaller ones with three significant digits.
func formatValue(v *float64) string {
	if v == nil {
		return "n/a"
	}
	x := *v
	if math.Abs(x) < 100 {
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
	s := strconv.FormatInt(int64(math.Round(math.Abs(x))), 10)
	var b strings.Builder
	if x < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func metText(f Figure) string {
	switch {
	case f.Met == nil:
		return ""
	case *f.Met:
		return "ok"
	default:
		return "MISSED"
	}
}

// WriteTable prints the report as an aligned table.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "\ntablecast bench %s (%s, %.1fs)\n", r.Scenario, r.Server, r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tunit\tgoal\t")
	for _, f := range r.Figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Label, formatValue(f.Value), f.Unit, f.Goal, metText(f))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	if len(r.ServerLog) > 0 {
		fmt.Fprintf(w, "server log (last %d lines):\n", len(r.ServerLog))
		for _, l := range r.ServerLog {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeFile creates path and writes into it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// chart is the geometry of one SVG histogram, computed here so that the
// template only places shapes.
type chart struct {
	Title         string
	Width, Height int
	Bars          []bar
	Ticks         []tick
	Summary       string
}

type bar struct {
	X, Y, W, H float64
	Tip        string
}

type tick struct {
	X     float64
	Label string
}

const (
	chartWidth  = 720
	chartHeight = 260
	chartLeft   = 40
	chartBottom = 30
	chartTop    = 10
)

// newChart lays out the bins of l as bars of equal width (the bins are
// already on a logarithmic scale), with a label under every fourth bar.
func newChart(title string, l *LatencyReport) *chart {
	if l == nil || len(l.Bins) == 0 {
		return nil
	}
	c := &chart{Title: title, Width: chartWidth, Height: chartHeight,
		Summary: fmt.Sprintf("%d deliveries: p50 %s, p95 %s, p99 %s, max %s", l.Count,
			fmtMicros(l.P50US), fmtMicros(l.P95US), fmtMicros(l.P99US), fmtMicros(l.MaxUS))}
	var top uint64
	for _, b := range l.Bins {
		top = max(top, b.Count)
	}
	plotW := float64(chartWidth - chartLeft - 10)
	plotH := float64(chartHeight - chartBottom - chartTop)
	w := plotW / float64(len(l.Bins))
	for i, b := range l.Bins {
		h := plotH * float64(b.Count) / float64(top)
		x := chartLeft + float64(i)*w
		c.Bars = append(c.Bars, bar{X: x, Y: chartTop + plotH - h, W: math.Max(w-1, 1), H: h,
			Tip: fmt.Sprintf("%s to %s: %d", fmtMicros(b.LowUS), fmtMicros(b.HighUS), b.Count)})
		if i%4 == 0 {
			c.Ticks = append(c.Ticks, tick{X: x, Label: fmtMicros(b.LowUS)})
		}
	}
	return c
}

// fmtMicros writes a duration given in microseconds with a suitable unit.
func fmtMicros(us float64) string {
	switch {
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'g', 3, 64) + "s"
	case us >= 1e3:
		return strconv.FormatFloat(us/1e3, 'g', 3, 64) + "ms"
	default:
		return strconv.FormatFloat(us, 'g', 3, 64) + "µs"
	}
}

var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"value": formatValue,
	"met":   metText,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>tablecast bench {{.R.Scenario}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}
td.v{text-align:right;font-variant-numeric:tabular-nums}.MISSED{color:#b00;font-weight:bold}.ok{color:#070}
svg{border:1px solid #ddd;margin:.5em 0}rect{fill:#3a7bd5}text{font-size:11px;fill:#444}
</style></head><body>
<h1>tablecast bench {{.R.Scenario}}</h1>
<p>{{.R.Started.Format "2006-01-02 15:04:05 MST"}}, {{printf "%.1f" .R.Seconds}}s, server: {{.R.Server}}</p>
<p>{{range $k, $v := .R.Params}}{{$k}}={{$v}} {{end}}</p>
<table><tr><th>figure</th><th>value</th><th>unit</th><th>goal</th><th></th></tr>
{{range .R.Figures}}<tr><td>{{.Label}}</td><td class="v">{{value .Value}}</td><td>{{.Unit}}</td><td>{{.Goal}}</td><td class="{{met .}}">{{met .}}</td></tr>
{{end}}</table>
{{range .R.Problems}}<p class="MISSED">problem: {{.}}</p>{{end}}
{{range .Charts}}<h2>{{.Title}}</h2><p>{{.Summary}}</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
{{range .Bars}}<rect x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .Y}}" width="{{printf "%.1f" .W}}" height="{{printf "%.1f" .H}}"><title>{{.Tip}}</title></rect>
{{end}}{{range .Ticks}}<text x="{{printf "%.1f" .X}}" y="{{$.LabelY}}">{{.Label}}</text>
{{end}}</svg>
{{end}}</body></html>
`))

// WriteHTML writes a self-contained page: the figures and an SVG latency
// histogram for tablecast (and for the baseline when there is one).
func (r *Report) WriteHTML(w io.Writer) error {
	var charts []*chart
	if c := newChart("Delivery latency (tablecast)", r.Latency); c != nil {
		charts = append(charts, c)
	}
	if c := newChart("Delivery latency (raw TCP baseline)", r.BaselineLatency); c != nil {
		charts = append(charts, c)
	}
	if c := newChart("REST write latency", r.WriteLatency); c != nil {
		c.Summary = strings.Replace(c.Summary, "deliveries", "requests", 1)
		charts = append(charts, c)
	}
	if c := newChart("Time to recover, per client", r.RecoveryTime); c != nil {
		c.Summary = strings.Replace(c.Summary, "deliveries", "clients", 1)
		charts = append(charts, c)
	}
	return htmlPage.Execute(w, struct {
		R      *Report
		Charts []*chart
		LabelY int
	}{r, charts, chartHeight - 10})
}
