package telemetry

import (
	"context"
	"testing"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, false},
		{map[string]string{"OTEL_SERVICE_NAME": "patd"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "false"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "otlp"}, true},
	} {
		if got := enabled(envOf(tc.env)); got != tc.want {
			t.Errorf("enabled(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

func TestProtocol(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		want    string
		wantErr bool
	}{
		{nil, protocolHTTP, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, protocolGRPC, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, protocolHTTP, false},
		// The traces-specific variable wins.
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, protocolHTTP, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, protocolGRPC, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "", true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"}, "", true},
	} {
		got, err := protocol(envOf(tc.env))
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("protocol(%v) = %q, %v; want %q (error %v)", tc.env, got, err, tc.want, tc.wantErr)
		}
	}
}

// Without an endpoint there is no provider at all, whatever else is set.
func TestFromEnvOff(t *testing.T) {
	tp, err := FromEnv(context.Background(), envOf(map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}), "test")
	if tp != nil || err != nil {
		t.Fatalf("FromEnv without an endpoint = %v, %v; want nil, nil", tp, err)
	}
}

func TestSQLName(t *testing.T) {
	for stmt, want := range map[string]string{
		"-- name: ListTokens :many\nSELECT 1":  "ListTokens",
		"-- name: TouchTokens :exec\nUPDATE x": "TouchTokens",
		"begin":                                "BEGIN",
		"  select 1":                           "SELECT",
		"":                                     "SQL",
	} {
		if got := sqlName(stmt); got != want {
			t.Errorf("sqlName(%q) = %q, want %q", stmt, got, want)
		}
	}
}
