// Package telemetry sets up patd's OpenTelemetry tracing from the standard
// OTEL_* environment variables, and holds the small pieces the instrumented
// packages share. Nothing in it touches OpenTelemetry's global providers:
// when no exporter is configured patd builds no provider and instruments
// nothing, so tracing costs nothing unless it is asked for.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// defaultServiceName is service.name unless OTEL_SERVICE_NAME (or
// service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const defaultServiceName = "patd"

// Protocols of OTEL_EXPORTER_OTLP_PROTOCOL that patd exports over.
const (
	protocolHTTP = "http/protobuf"
	protocolGRPC = "grpc"
)

// propagator continues the caller's W3C trace context (traceparent,
// tracestate) and passes W3C baggage along.
var propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// enabled reports whether the environment asks for traces to be exported:
// an OTLP endpoint is set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT), and neither OTEL_SDK_DISABLED=true nor
// OTEL_TRACES_EXPORTER=none turns them off.
func enabled(lookupEnv func(string) (string, bool)) bool {
	env := func(k string) string { v, _ := lookupEnv(k); return strings.TrimSpace(v) }
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(env("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// protocol is the OTLP protocol the environment asks for:
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else
// http/protobuf.
func protocol(lookupEnv func(string) (string, bool)) (string, error) {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		v, _ := lookupEnv(k)
		switch v = strings.TrimSpace(v); v {
		case "":
			continue
		case protocolHTTP, protocolGRPC:
			return v, nil
		default:
			return "", fmt.Errorf("%s: want %s or %s, got %q", k, protocolHTTP, protocolGRPC, v)
		}
	}
	return protocolHTTP, nil
}

// FromEnv returns a tracer provider that exports over OTLP as the OTEL_*
// variables say, or nil (and no error) when they ask for no export. The
// exporters read the rest of their settings (endpoint, headers, timeout,
// TLS, compression) from the process environment, the SDK its sampler
// (OTEL_TRACES_SAMPLER), and the resource OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES. Shutdown exports what is still buffered.
func FromEnv(ctx context.Context, lookupEnv func(string) (string, bool), version string) (*sdktrace.TracerProvider, error) {
	if !enabled(lookupEnv) {
		return nil, nil
	}
	proto, err := protocol(lookupEnv)
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	switch proto {
	case protocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	default:
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry OTLP exporter: %w", err)
	}
	// Later options win: the defaults first, then what the environment says
	// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). Plain attribute keys,
	// not a semconv package: a schema URL different from the SDK's would
	// make the merge fail.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			attribute.String("service.name", defaultServiceName),
			attribute.String("service.version", version),
		),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// LogErrors sends the SDK's own errors (an export that failed) to log, as
// JSON lines like every other, instead of the SDK's default stderr logger.
// It sets OpenTelemetry's process-wide error handler: serve calls it once,
// and only when tracing is on.
func LogErrors(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("OpenTelemetry", "error", err)
	}))
}

// childrenOnly returns a provider whose tracers record a span only under a
// parent. Database and Redis calls are worth a span inside a request; patd's
// background loops (the validation rate syncs every 200 ms, the lastUsedAt
// flush every 10 s) would otherwise each start a trace of their own, many
// times a second on every replica.
func childrenOnly(tp trace.TracerProvider) trace.TracerProvider { return childrenOnlyProvider{tp: tp} }

type childrenOnlyProvider struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (c childrenOnlyProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{t: c.tp.Tracer(name, opts...)}
}

type childTracer struct {
	embedded.Tracer
	t trace.Tracer
}

func (c childTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// The span of an empty context: records nothing, ends nothing.
		return ctx, trace.SpanFromContext(ctx)
	}
	return c.t.Start(ctx, name, opts...)
}
