// Package metrics defines patd's Prometheus metrics. Every method is safe on a
// nil *Metrics, so code under test can run without a registry.
package metrics

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the collectors patd updates.
type Metrics struct {
	validations     *prometheus.CounterVec
	validateLatency prometheus.Histogram
	cache           *prometheus.CounterVec
	limiter         *prometheus.CounterVec
	graphql         *prometheus.CounterVec
	lastUsedFlushes *prometheus.CounterVec
	authFailures    *prometheus.CounterVec
	txRetries       *prometheus.CounterVec

	// Pre-bound children keep the validate path free of label hashing.
	byCode   map[string]prometheus.Counter
	cacheHit prometheus.Counter
	cacheMis prometheus.Counter
	decision map[[2]string]prometheus.Counter
}

// Validation outcomes known in advance; others are bound on first use.
var validationCodes = []string{"VALID", "NOT_FOUND", "EXPIRED", "MALFORMED", "RATE_LIMITED", "UNAVAILABLE"}

// New registers patd's collectors, the Go runtime's and the process's with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patd_validations_total", Help: "Token validations by outcome code.",
		}, []string{"code"}),
		validateLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "patd_validate_duration_seconds",
			Help:    "Time to answer POST /validate, from request to response.",
			Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .1, .5, 1},
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patd_validation_cache_lookups_total", Help: "Validation cache lookups by result (hit, miss).",
		}, []string{"result"}),
		limiter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patd_limiter_decisions_total", Help: "Rate limiter decisions by limit (create, validate) and decision (allow, deny, error).",
		}, []string{"limit", "decision"}),
		graphql: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patd_graphql_operations_total", Help: "GraphQL operations by type and first root field (e.g. \"query personalAccessTokens\") and outcome (ok, error).",
		}, []string{"operation", "outcome"}),
		lastUsedFlushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patd_last_used_flushes_total", Help: "lastUsedAt write statements (of up to 1,000 tokens each) by outcome (ok, error).",
		}, []string{"outcome"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patd_auth_failures_total", Help: "Failed bearer authentications on GraphQL and REST by outcome (invalid: checked and refused; refused: not checked, the client address failed too often).",
		}, []string{"outcome"}),
		txRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patd_db_transaction_retries_total", Help: "Transactions run again after PostgreSQL aborted them, by reason (deadlock, serialization_failure).",
		}, []string{"reason"}),
		byCode: map[string]prometheus.Counter{},
	}
	// Present at zero from the start, so that a rate over them is defined.
	for _, r := range []string{"deadlock", "serialization_failure"} {
		m.txRetries.WithLabelValues(r)
	}
	for _, c := range validationCodes {
		m.byCode[c] = m.validations.WithLabelValues(c)
	}
	m.decision = map[[2]string]prometheus.Counter{}
	for _, l := range []string{"create", "validate"} {
		for _, d := range []string{"allow", "deny", "error"} {
			m.decision[[2]string{l, d}] = m.limiter.WithLabelValues(l, d)
		}
	}
	m.cacheHit = m.cache.WithLabelValues("hit")
	m.cacheMis = m.cache.WithLabelValues("miss")
	reg.MustRegister(m.validations, m.validateLatency, m.cache, m.limiter, m.graphql, m.lastUsedFlushes, m.authFailures, m.txRetries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// AuthFailure counts a failed authentication by outcome.
func (m *Metrics) AuthFailure(outcome string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(outcome).Inc()
}

// Validated counts one validation outcome.
func (m *Metrics) Validated(code string) {
	if m == nil {
		return
	}
	if c, ok := m.byCode[code]; ok {
		c.Inc()
		return
	}
	m.validations.WithLabelValues(code).Inc()
}

// ValidateLatency observes the time one validate request took.
func (m *Metrics) ValidateLatency(d time.Duration) {
	if m != nil {
		m.validateLatency.Observe(d.Seconds())
	}
}

// CacheLookup counts a validation cache hit or miss.
func (m *Metrics) CacheLookup(hit bool) {
	switch {
	case m == nil:
	case hit:
		m.cacheHit.Inc()
	default:
		m.cacheMis.Inc()
	}
}

// LimiterDecision counts one decision of a limiter.
func (m *Metrics) LimiterDecision(limit, decision string) {
	if m == nil {
		return
	}
	if c, ok := m.decision[[2]string{limit, decision}]; ok {
		c.Inc()
		return
	}
	m.limiter.WithLabelValues(limit, decision).Inc()
}

// GraphQLOperation counts one GraphQL operation.
func (m *Metrics) GraphQLOperation(name string, ok bool) {
	if m == nil {
		return
	}
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	m.graphql.WithLabelValues(name, outcome).Inc()
}

// LastUsedFlush counts one lastUsedAt write statement.
func (m *Metrics) LastUsedFlush(err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.lastUsedFlushes.WithLabelValues(outcome).Inc()
}

// TransactionRetry counts one transaction run again after PostgreSQL aborted
// it for reason.
func (m *Metrics) TransactionRetry(reason string) {
	if m != nil {
		m.txRetries.WithLabelValues(reason).Inc()
	}
}

// RegisterCacheEntries exports how many answers the validation cache holds
// (expired ones not yet dropped included), read from entries.
func RegisterCacheEntries(reg prometheus.Registerer, entries func() int) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "patd_validation_cache_entries",
		Help: "Answers the validation cache holds, expired ones not yet dropped included.",
	}, func() float64 { return float64(entries()) }))
}

// RegisterPool exports the connection pool's statistics.
func RegisterPool(reg prometheus.Registerer, pool *pgxpool.Pool) {
	reg.MustRegister(poolCollector{pool})
}

type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolAcquired = prometheus.NewDesc("patd_db_pool_acquired_connections", "Connections in use.", nil, nil)
	poolIdle     = prometheus.NewDesc("patd_db_pool_idle_connections", "Idle connections.", nil, nil)
	poolTotal    = prometheus.NewDesc("patd_db_pool_total_connections", "Open connections.", nil, nil)
	poolMax      = prometheus.NewDesc("patd_db_pool_max_connections", "Most connections the pool may open.", nil, nil)
	poolWaits    = prometheus.NewDesc("patd_db_pool_acquire_waits_total", "Acquires that had to wait for a connection.", nil, nil)
	poolWaitTime = prometheus.NewDesc("patd_db_pool_acquire_wait_seconds_total", "Time spent waiting for connections.", nil, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolWaits, poolWaitTime} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitTime, prometheus.CounterValue, s.AcquireDuration().Seconds())
}
