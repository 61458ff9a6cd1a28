package telemetry

import (
	"net/http"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Handler wraps h, patd's whole handler, in a server span per request that
// continues the caller's traceparent. Spans are named by the route of mux
// that will serve the request ("POST /graphql", "DELETE /tokens/{id}"),
// never by the raw path, which holds ids. Probes and scrapes (/healthz,
// /readyz, /metrics) get no span: they come every few seconds and say
// nothing about a request.
func Handler(tp trace.TracerProvider, mux *http.ServeMux, h http.Handler) http.Handler {
	traced := otelhttp.NewHandler(h, "patd",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// otelhttp takes the span's name and http.route from the request's
		// Pattern, which only the mux sets, on its own copy of the request:
		// look the route up first, on a copy of ours.
		if _, pattern := mux.Handler(r); pattern != "" {
			r = r.WithContext(r.Context())
			r.Pattern = pattern
		}
		traced.ServeHTTP(w, r)
	})
}

// SQLTracer is a pgx tracer that records a span per statement under the
// caller's span, named after the sqlc query ("query ListTokens"; "prepare
// ListTokens" the first time a connection sees it). Statement text is
// recorded, never the parameters (they include token hashes and user ids).
// Pool waits are not traced: the pool's stats are in /metrics. otelpgx
// itself records nothing outside a recording span, so unlike Redis's this
// needs no childrenOnly.
func SQLTracer(tp trace.TracerProvider) pgx.QueryTracer {
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(tp),
		otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelpgx.WithSpanNameFunc(sqlName),
		otelpgx.WithQuerySpanNamePrefix(),
		otelpgx.WithDisableAcquireTracer(),
	)
}

// sqlName is the name sqlc gives a statement (its first line is
// "-- name: ListTokens :many"), else the statement's first word.
func sqlName(stmt string) string {
	if rest, ok := strings.CutPrefix(stmt, "-- name: "); ok {
		if name, _, ok := strings.Cut(rest, " "); ok && name != "" {
			return name
		}
	}
	for _, w := range strings.Fields(stmt) {
		return strings.ToUpper(w)
	}
	return "SQL"
}

// InstrumentRedis records a span per Redis command (or pipeline) under the
// caller's span. Arguments are not recorded: they name users and tokens, and
// the scripts' source would fill every span.
func InstrumentRedis(rdb redis.UniversalClient, tp trace.TracerProvider) error {
	return redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(childrenOnly(tp)),
		redisotel.WithDBStatement(false),
	)
}
