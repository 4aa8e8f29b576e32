// Package metrics exposes tablecast's Prometheus series. It reads the hub's
// counters when scraped and implements hub.Observer for what must be recorded
// as it happens (latency, messages by type).
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tablecast/tablecast/internal/hub"
)

const namespace = "tablecast"

// Metrics owns a registry with tablecast's series.
type Metrics struct {
	reg        *prometheus.Registry
	fanout     prometheus.Histogram
	messagesIn *prometheus.CounterVec
	deliveries *prometheus.CounterVec
}

var _ hub.Observer = (*Metrics)(nil)

// New returns the series that are recorded as they happen; RegisterHub adds
// those read from a hub.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "fanout_latency_seconds",
			Help:      "Time from a change entering the server (commit or admin publish) to its frame being written to a socket.",
			Buckets:   []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
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
	m.reg.MustRegister(m.fanout, m.messagesIn, m.deliveries,
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
	)
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveFanout implements hub.Observer.
func (m *Metrics) ObserveFanout(d time.Duration) { m.fanout.Observe(d.Seconds()) }

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
