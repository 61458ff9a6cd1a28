package webhooks

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alternatefutures/patd/db"
)

// metrics of webhook delivery.
type metrics struct {
	attempts *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, q *db.Queries) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patd_webhook_delivery_attempts_total",
			Help: "Webhook delivery attempts by outcome: delivered, failed (tried again later) or dead (attempts used up: dead-lettered).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "patd_webhook_delivery_latency_seconds",
			Help:    "Time from the change (its transaction) to the receiver's 2xx.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 36000},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.latency, &stateCollector{q: q})
	}
	return m
}

func (m *metrics) attempt(outcome string) { m.attempts.WithLabelValues(outcome).Inc() }

// stateCollector reports how many deliveries are pending, delivered and
// dead, read from PostgreSQL when scraped: dead letters stay visible until
// they are pruned, whichever replica dead-lettered them.
type stateCollector struct{ q *db.Queries }

var stateDesc = prometheus.NewDesc("patd_webhook_deliveries",
	"Webhook deliveries in the outbox by state (pending, delivered, dead).", []string{"state"}, nil)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- stateDesc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rows, err := c.q.CountWebhookDeliveries(ctx)
	if err != nil {
		return // the pool's own metrics and /readyz tell of a database that does not answer
	}
	counts := map[string]int64{stateDead: 0, statePending: 0, stateDelivered: 0}
	for _, r := range rows {
		counts[r.State] = r.N
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, float64(n), state)
	}
}
