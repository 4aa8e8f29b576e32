package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tablecast/tablecast/internal/webhook"
)

// Webhooks records the webhook dispatcher's work, by webhook id.
type Webhooks struct {
	delivered, failed, retries, dead, pauses *prometheus.CounterVec
	lag                                      *prometheus.GaugeVec
}

var _ webhook.Observer = (*Webhooks)(nil)

// Webhooks returns the webhook series, registered once.
func (m *Metrics) Webhooks() *Webhooks {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help},
			append([]string{"webhook"}, labels...))
	}
	w := &Webhooks{
		delivered: counter("webhook_events_delivered_total", "Events a webhook's receiver took (a batch counts its events)."),
		failed:    counter("webhook_calls_failed_total", "Webhook calls that failed, by HTTP status (0: no answer).", "status"),
		retries:   counter("webhook_retries_total", "Webhook calls retried after a failure."),
		dead:      counter("webhook_dead_letters_total", "Events a webhook gave up on and put in its dead letters."),
		pauses:    counter("webhook_pauses_total", "Times a webhook paused after a failed delivery."),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "webhook_lag_events",
			Help: "Events of its table a webhook delivered by this node has not delivered yet."}, []string{"webhook"}),
	}
	m.reg.MustRegister(w.delivered, w.failed, w.retries, w.dead, w.pauses, w.lag)
	return w
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func (w *Webhooks) Delivered(webhookID int64, events int) {
	w.delivered.WithLabelValues(id(webhookID)).Add(float64(events))
}

func (w *Webhooks) Failed(webhookID int64, status int) {
	w.failed.WithLabelValues(id(webhookID), strconv.Itoa(status)).Inc()
}

func (w *Webhooks) Retried(webhookID int64) { w.retries.WithLabelValues(id(webhookID)).Inc() }

func (w *Webhooks) DeadLettered(webhookID int64, events int) {
	w.dead.WithLabelValues(id(webhookID)).Add(float64(events))
}

func (w *Webhooks) Paused(webhookID int64) { w.pauses.WithLabelValues(id(webhookID)).Inc() }

func (w *Webhooks) Lag(webhookID int64, lag uint64) {
	w.lag.WithLabelValues(id(webhookID)).Set(float64(lag))
}

// Gone drops the lag of a webhook this node no longer delivers (another
// node reports it).
func (w *Webhooks) Gone(webhookID int64) { w.lag.DeleteLabelValues(id(webhookID)) }
