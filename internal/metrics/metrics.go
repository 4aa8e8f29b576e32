// Package metrics exposes tablecast's Prometheus series. It reads the hub's
// counters and its fanout latency histogram when scraped, and implements
// hub.Observer for what must be recorded as it happens (messages by type,
// deliveries by kind).
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tablecast/tablecast/internal/hub"
)

const namespace = "tablecast"

// Metrics owns a registry with tablecast's series.
type Metrics struct {
	reg        *prometheus.Registry
	messagesIn *prometheus.CounterVec
	deliveries *prometheus.CounterVec
}

var _ hub.Observer = (*Metrics)(nil)

// New returns the series that are recorded as they happen; RegisterHub adds
// those read from a hub.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "messages_in_total",
			Help:      "Client messages received, by type.",
		}, []string{"type"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "messages_out_total",
			Help:      "Publications queued on sockets, by type (one per receiving connection).",
		}, []string{"type"}),
	}
	m.reg.MustRegister(m.messagesIn, m.deliveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry lets other packages add their series (the store's, later).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RegisterHub adds the series read from h at scrape time.
func (m *Metrics) RegisterHub(h *hub.Hub) {
	gauge := func(name, help string, f func(hub.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help},
			func() float64 { return f(h.Stats()) })
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, f)
	}
	m.reg.MustRegister(
		gauge("connections", "Open sockets on this node.", func(s hub.Stats) float64 { return float64(s.Connections) }),
		gauge("users", "Distinct authenticated users on this node.", func(s hub.Stats) float64 { return float64(s.Users) }),
		gauge("channels", "Channels with at least one subscriber on this node.", func(s hub.Stats) float64 { return float64(s.Channels) }),
		gauge("subscriptions", "Subscriptions on this node.", func(s hub.Stats) float64 { return float64(s.Subscriptions) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "send_queue_bytes",
			Help: "Bytes waiting in every connection's send queue."}, func() float64 { return float64(h.QueuedBytes()) }),
		counter("frames_out_total", "WebSocket frames written, replies included.", func() float64 { return float64(h.Stats().MessagesOut) }),
		counter("bytes_out_total", "Bytes written to sockets.", func() float64 { return float64(h.Stats().BytesOut) }),
		counter("slow_consumer_disconnects_total", "Connections closed as slow consumers: their send queue overflowed (4002), or a write to them blocked for the write timeout.",
			func() float64 { return float64(h.Stats().DroppedSlow) }),
		counter("broker_publish_errors_total", "Publications the broker failed to take.", func() float64 { return float64(h.PublishErrors()) }),
		newFanoutCollector(h),
	)
}

// fanoutCollector reads the hub's fanout latency histogram at scrape time:
// the hub counts it per writer (a shared histogram would be written by every
// CPU on every delivery) and sums it when asked.
type fanoutCollector struct {
	desc *prometheus.Desc
	hub  *hub.Hub
}

func newFanoutCollector(h *hub.Hub) *fanoutCollector {
	return &fanoutCollector{hub: h, desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "fanout_latency_seconds"),
		"Time from a change entering the server (commit or admin publish) to its frame being written to a socket.", nil, nil)}
}

// Describe implements prometheus.Collector.
func (c *fanoutCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *fanoutCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.hub.FanoutLatency()
	buckets := make(map[float64]uint64, len(l.Bounds))
	var cum uint64
	for i, b := range l.Bounds {
		cum += l.Counts[i]
		buckets[b.Seconds()] = cum
	}
	ch <- prometheus.MustNewConstHistogram(c.desc, cum+l.Counts[len(l.Bounds)], l.Sum.Seconds(), buckets)
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// MessageIn implements hub.Observer.
func (m *Metrics) MessageIn(typ string) { m.messagesIn.WithLabelValues(typ).Inc() }

// Delivered implements hub.Observer.
func (m *Metrics) Delivered(kind hub.Kind, n int) {
	if n > 0 {
		m.deliveries.WithLabelValues(kind.String()).Add(float64(n))
	}
}

// RegisterCounterFunc adds a counter read from f at scrape time.
func (m *Metrics) RegisterCounterFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, f))
}

// RegisterGaugeFunc adds a gauge read from f at scrape time.
func (m *Metrics) RegisterGaugeFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, f))
}

// StoreTxHistogram returns the histogram of store transaction durations,
// labelled by kind ("write", "read").
func (m *Metrics) StoreTxHistogram() *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "store_tx_seconds",
		Help:      "Duration of table store transactions, commit included.",
		Buckets:   []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"kind"})
	m.reg.MustRegister(h)
	return h
}
