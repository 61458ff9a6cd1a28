package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/server"
)

// tracedReplica starts a replica whose spans go to an in-memory recorder.
func tracedReplica(t *testing.T) (*pattest.Replica, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return pattest.StartWith(t, pattest.Config(t), server.Options{TracerProvider: tp}), rec
}

// spansOf returns the ended spans of trace id, by span id.
func spansOf(rec *tracetest.SpanRecorder, id trace.TraceID) map[trace.SpanID]sdktrace.ReadOnlySpan {
	out := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == id {
			out[s.SpanContext().SpanID()] = s
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value
		}
	}
	return attribute.Value{}
}

// under reports whether s descends from ancestor within spans.
func under(spans map[trace.SpanID]sdktrace.ReadOnlySpan, s sdktrace.ReadOnlySpan, ancestor trace.SpanID) bool {
	for p := s.Parent().SpanID(); p.IsValid(); {
		if p == ancestor {
			return true
		}
		ps, ok := spans[p]
		if !ok {
			return false
		}
		p = ps.Parent().SpanID()
	}
	return false
}

func named(spans map[trace.SpanID]sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func one(t *testing.T, spans map[trace.SpanID]sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	got := named(spans, name)
	if len(got) != 1 {
		t.Fatalf("want one span %q, got %d; spans: %s", name, len(got), describe(spans))
	}
	return got[0]
}

func describe(spans map[trace.SpanID]sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for id, s := range spans {
		fmt.Fprintf(&b, "\n  %s %q (parent %s, kind %s)", id, s.Name(), s.Parent().SpanID(), s.SpanKind())
	}
	return b.String()
}

// A request that carries the caller's traceparent continues its trace: the
// HTTP server span is the caller's child, the GraphQL operation the HTTP
// span's, and the operation's SQL statements and Redis commands are under
// the operation.
func TestSpanTree(t *testing.T) {
	t.Parallel()
	r, rec := tracedReplica(t)
	jwt := r.JWT("user-traced")

	callerTrace, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	callerSpan, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	traceparent := "traceparent: 00-" + callerTrace.String() + "-" + callerSpan.String() + "-01"
	resp := r.Do(http.MethodPost, "/graphql", map[string]any{
		"query": `mutation Mint { createPersonalAccessToken(name: "traced") { id } }`,
	}, "Authorization: Bearer "+jwt, traceparent)
	var created struct {
		Data struct {
			C struct{ ID string } `json:"createPersonalAccessToken"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &created); err != nil || created.Data.C.ID == "" {
		t.Fatalf("create: %s", resp)
	}

	spans := spansOf(rec, callerTrace)
	httpSpan := one(t, spans, "POST /graphql")
	if httpSpan.Parent().SpanID() != callerSpan || !httpSpan.Parent().IsRemote() || httpSpan.SpanKind() != trace.SpanKindServer {
		t.Errorf("HTTP span: parent %s (remote %v), kind %s; want the caller's span %s", httpSpan.Parent().SpanID(),
			httpSpan.Parent().IsRemote(), httpSpan.SpanKind(), callerSpan)
	}
	if got := attr(httpSpan, "http.route").AsString(); got != "/graphql" {
		t.Errorf("http.route %q", got)
	}
	if got := attr(httpSpan, "http.response.status_code").AsInt64(); got != http.StatusOK {
		t.Errorf("http.response.status_code %d", got)
	}
	op := one(t, spans, "mutation createPersonalAccessToken")
	if op.Parent().SpanID() != httpSpan.SpanContext().SpanID() {
		t.Errorf("the GraphQL span's parent is %s, want the HTTP span", op.Parent().SpanID())
	}
	if attr(op, "graphql.operation.type").AsString() != "mutation" || attr(op, "graphql.operation.name").AsString() != "Mint" {
		t.Errorf("GraphQL span attributes: %v", op.Attributes())
	}
	for _, name := range []string{"LockUserTokens", "CountActiveTokens", "InsertToken", "InsertAuditEvent"} {
		s := one(t, spans, "query "+name)
		if !under(spans, s, op.SpanContext().SpanID()) || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("SQL span %s: kind %s, not under the GraphQL span", name, s.SpanKind())
		}
		if stmt := attr(s, "db.query.text").AsString(); !strings.Contains(stmt, "-- name: "+name+" ") {
			t.Errorf("SQL span %s: db.query.text %q", name, stmt)
		}
	}
	var redisSpans int
	for _, s := range spans {
		if attr(s, "db.system.name").AsString() == "redis" || attr(s, "db.system").AsString() == "redis" {
			redisSpans++
			if !under(spans, s, op.SpanContext().SpanID()) {
				t.Errorf("Redis span %q is not under the GraphQL span", s.Name())
			}
		}
	}
	if redisSpans == 0 {
		t.Errorf("no Redis span for the creation quota; spans: %s", describe(spans))
	}

	// A route with an id is named by its pattern, not by its path.
	deleted := r.Do(http.MethodDelete, "/tokens/"+created.Data.C.ID, nil, "Authorization: Bearer "+jwt, traceparent)
	if deleted.Status != http.StatusOK {
		t.Fatalf("delete: %s", deleted)
	}
	spans = spansOf(rec, callerTrace)
	del := one(t, spans, "DELETE /tokens/{id}")
	if attr(del, "http.route").AsString() != "/tokens/{id}" || !under(spans, one(t, spans, "query DeleteToken"), del.SpanContext().SpanID()) {
		t.Errorf("DELETE span: route %q; spans: %s", attr(del, "http.route").AsString(), describe(spans))
	}
	for _, s := range spans {
		if strings.Contains(s.Name(), created.Data.C.ID) {
			t.Errorf("span name %q holds the token id", s.Name())
		}
	}
}

// Only patd's own failures mark an operation span as an error; a client's
// mistake is an answer, with its code recorded.
func TestOperationSpanErrors(t *testing.T) {
	t.Parallel()
	r, rec := tracedReplica(t)
	resp := r.Do(http.MethodPost, "/graphql", map[string]any{"query": `{ personalAccessTokens { totalCount } }`})
	if resp.Status != http.StatusOK {
		t.Fatalf("%s", resp)
	}
	var op sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "query personalAccessTokens" {
			op = s
		}
	}
	if op == nil {
		t.Fatal("no span for the operation")
	}
	if got := attr(op, "graphql.error.codes").AsStringSlice(); len(got) != 1 || got[0] != "UNAUTHENTICATED" {
		t.Errorf("graphql.error.codes %v", got)
	}
	if op.Status().Code == codes.Error {
		t.Errorf("an unauthenticated request marked the span as failed: %v", op.Status())
	}
	if op.Parent().IsRemote() || !op.Parent().IsValid() {
		t.Errorf("without a traceparent the HTTP span starts the trace; the operation's parent is %v", op.Parent())
	}
}

// Probes get no span, and work outside a request (background jobs, which
// run every 200 ms) starts no trace of its own: every trace starts at an
// HTTP server span.
func TestOnlyRequestsStartTraces(t *testing.T) {
	t.Parallel()
	r, rec := tracedReplica(t)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if resp := r.Do(http.MethodGet, path, nil); resp.Status != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp)
		}
	}
	// A background job, run here so that it surely ran: SQL with no span
	// in its context.
	if _, _, err := r.Server.Maintenance.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp := r.Do(http.MethodPost, "/graphql", map[string]any{"query": `{ __typename }`}); resp.Status != http.StatusOK {
		t.Fatalf("%s", resp)
	}
	roots := 0
	for _, s := range rec.Ended() {
		if s.Parent().IsValid() {
			continue
		}
		roots++
		if s.SpanKind() != trace.SpanKindServer || s.Name() != "POST /graphql" {
			t.Errorf("a trace starts at %q (kind %s), want only the POST /graphql request", s.Name(), s.SpanKind())
		}
	}
	if roots != 1 {
		t.Errorf("want exactly one trace (the GraphQL request), got %d", roots)
	}
}
