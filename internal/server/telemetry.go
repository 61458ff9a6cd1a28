package server

import (
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"

	"github.com/alternatefutures/patd/internal/telemetry"
)

// queryTracer is the pgx tracer of a replica: the caller's (tests count
// statements with it), OpenTelemetry's when tracing is on, or both.
func queryTracer(opts Options) pgx.QueryTracer {
	if opts.TracerProvider == nil {
		return opts.QueryTracer
	}
	sql := telemetry.SQLTracer(opts.TracerProvider)
	if opts.QueryTracer == nil {
		return sql
	}
	return multitracer.New(opts.QueryTracer, sql)
}

// traced wraps h, the replica's handler, in a span per request when tracing
// is on; mux names the spans by route.
func (s *Server) traced(mux *http.ServeMux, h http.Handler) http.Handler {
	if s.tracer == nil {
		return h
	}
	return telemetry.Handler(s.tracer, mux, h)
}
