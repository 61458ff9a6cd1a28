package graph

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/apollofederatedtracingv1"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/alternatefutures/patd/internal/logging"
)

// useRouterExtensions adds what routers and operators get from each
// operation: one page read per user however many representations name them
// (dedupe.go), Apollo federated traces when traced, and OpenTelemetry spans
// when tp is not nil.
func useRouterExtensions(srv *handler.Server, tp trace.TracerProvider, traced bool) {
	srv.AroundOperations(memoizePages)
	if traced {
		// Error messages in traces are masked (the default): whoever
		// sends the header gets no more than the answer's errors.
		srv.Use(&apollofederatedtracingv1.Tracer{})
	}
	if tp != nil {
		srv.Use(newOperationSpans(tp))
	}
}

// wantsFederatedTrace reports whether a router asks for an Apollo federated
// trace of this fetch (apollo-federation-include-trace: ftv1), the test the
// tracer itself makes.
func wantsFederatedTrace(h http.Header) bool {
	return h.Get("Apollo-Federation-Include-Trace") == "ftv1"
}

// operationSpans records an OpenTelemetry span per GraphQL operation, a
// child of the request's span and the parent of what its resolvers do (SQL,
// Redis). The span is named like the operations metric, by the operation
// type and first root field ("query personalAccessTokens"): names from the
// schema keep span names few. The client's operation name is an attribute.
type operationSpans struct {
	tracer trace.Tracer
}

const tracerName = "github.com/alternatefutures/patd/graph"

func newOperationSpans(tp trace.TracerProvider) operationSpans {
	return operationSpans{tracer: tp.Tracer(tracerName)}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = operationSpans{}

func (operationSpans) ExtensionName() string                   { return "OpenTelemetry" }
func (operationSpans) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationSpans) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	var attrs []attribute.KeyValue
	if oc.Operation != nil {
		attrs = append(attrs, attribute.String("graphql.operation.type", string(oc.Operation.Operation)))
	}
	if oc.Operation != nil && oc.Operation.Name != "" {
		// The client chooses it: redacted like the logs, in case a token
		// was put in it.
		attrs = append(attrs, attribute.String("graphql.operation.name", logging.Redact(oc.Operation.Name)))
	}
	ctx, span := o.tracer.Start(ctx, operationLabel(oc), trace.WithAttributes(attrs...))
	// The executor runs the resolvers when the response handler is called,
	// with the context given to next (which holds the span): end the span
	// once that first response is made. patd has no subscriptions, so there
	// is never a second one.
	respond := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := respond(ctx)
		endOperationSpan(span, resp)
		return resp
	}
}

// endOperationSpan records the error codes of resp and ends span. Only a
// failure of patd's own (an internal error, a dependency unavailable) marks
// the span as an error; the client's mistakes (unauthenticated, bad input,
// limits) are answers, as 4xx statuses are for HTTP server spans.
func endOperationSpan(span trace.Span, resp *graphql.Response) {
	defer span.End()
	if resp == nil || len(resp.Errors) == 0 {
		return
	}
	codesSeen := make([]string, 0, len(resp.Errors))
	failed := false
	for _, e := range resp.Errors {
		c, _ := e.Extensions["code"].(string)
		codesSeen = append(codesSeen, c)
		if c == codeInternal || c == codeUnavailable {
			failed = true
		}
	}
	span.SetAttributes(attribute.StringSlice("graphql.error.codes", codesSeen))
	if failed {
		span.SetStatus(codes.Error, "internal error")
	}
}
