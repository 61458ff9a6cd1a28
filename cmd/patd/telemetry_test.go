package main

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/pattest"
)

// receiver keeps the OTLP export requests it was sent.
type receiver struct {
	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
}

func (rc *receiver) add(req *coltracepb.ExportTraceServiceRequest) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests = append(rc.requests, req)
}

// httpReceiver is an OTLP/HTTP receiver: POST /v1/traces with a protobuf
// ExportTraceServiceRequest, as a collector takes it.
func httpReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	rc := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP/HTTP receiver: %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if err != nil {
			t.Errorf("OTLP/HTTP receiver: undecodable export: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.add(&req)
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

type grpcTraceService struct {
	coltracepb.UnimplementedTraceServiceServer
	rc *receiver
}

func (s grpcTraceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.rc.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// grpcReceiver is an OTLP/gRPC receiver on a loopback port.
func grpcReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	rc := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, grpcTraceService{rc: rc})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return rc, "http://" + ln.Addr().String()
}

// exportedSpan is a span as the receiver got it.
type exportedSpan struct {
	name, service   string
	traceID, parent string
}

func (rc *receiver) spans() []exportedSpan {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []exportedSpan
	for _, req := range rc.requests {
		for _, rs := range req.GetResourceSpans() {
			service := stringAttr(rs.GetResource().GetAttributes(), "service.name")
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					out = append(out, exportedSpan{
						name: s.GetName(), service: service,
						traceID: hex.EncodeToString(s.GetTraceId()), parent: hex.EncodeToString(s.GetParentSpanId()),
					})
				}
			}
		}
	}
	return out
}

func stringAttr(attrs []*commonpb.KeyValue, key string) string {
	for _, a := range attrs {
		if a.GetKey() == key {
			return a.GetValue().GetStringValue()
		}
	}
	return ""
}

// serveTraced runs `patd serve` with the environment set by the caller, sends
// one traced GraphQL request, and stops it as SIGTERM would; the spans are
// exported by then.
func serveTraced(t *testing.T, traceID, parentID string) {
	t.Helper()
	const jwtSecret = "otel-test-jwt-secret-0123456789abcdef"
	port := pattest.FreePort(t)
	t.Setenv("PORT", strconv.Itoa(port))
	t.Setenv("JWT_SECRET", jwtSecret)
	t.Setenv("AUTH_SERVICE_SECRET", "otel-test-service-secret-0123456789abcdef")

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	srv := startServe(t, base)

	jwt, err := auth.SignSession(auth.JWTConfig{Secret: []byte(jwtSecret), Issuer: "alternatefutures-auth", Audience: "alternatefutures-app"}, "user-otlp", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql",
		strings.NewReader(`{"query":"query Listing { personalAccessTokens { totalCount } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"totalCount":0`) {
		t.Fatalf("GraphQL: %d %s", resp.StatusCode, body)
	}

	if err := srv.stop(t, 30*time.Second); err != nil {
		t.Fatalf("serve: %v\n%s", err, srv.errOut.String())
	}
}

// checkExported checks that the request's trace reached the receiver whole:
// the caller's trace continued, and the HTTP, GraphQL and SQL spans in it.
func checkExported(t *testing.T, rc *receiver, traceID, parentID, service string) {
	t.Helper()
	spans := rc.spans()
	byName := map[string]exportedSpan{}
	for _, s := range spans {
		if s.traceID == traceID {
			byName[s.name] = s
		}
	}
	for _, name := range []string{"POST /graphql", "query personalAccessTokens", "query ListTokens"} {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no span %q in trace %s; exported: %+v", name, traceID, spans)
			continue
		}
		if s.service != service {
			t.Errorf("span %q: service.name %q, want %q", name, s.service, service)
		}
	}
	if s := byName["POST /graphql"]; s.parent != parentID {
		t.Errorf("the HTTP span's parent is %q, want the caller's %s", s.parent, parentID)
	}
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set (and no protocol: http/protobuf),
// serve exports its spans to an OTLP/HTTP receiver, service.name patd.
func TestServeExportsTracesOverOTLPHTTP(t *testing.T) {
	cleanEnv(t, pattest.Database(t))
	rc, url := httpReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	const traceID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	serveTraced(t, traceID, parentID)
	checkExported(t, rc, traceID, parentID, "patd")
}

// OTEL_EXPORTER_OTLP_PROTOCOL=grpc exports over gRPC; OTEL_SERVICE_NAME
// names the service.
func TestServeExportsTracesOverOTLPGRPC(t *testing.T) {
	cleanEnv(t, pattest.Database(t))
	rc, url := grpcReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_SERVICE_NAME", "patd-eu")
	const traceID, parentID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	serveTraced(t, traceID, parentID)
	checkExported(t, rc, traceID, parentID, "patd-eu")
}

// An unknown protocol stops serve at start, naming the variable.
func TestServeRefusesUnknownOTLPProtocol(t *testing.T) {
	cleanEnv(t, pattest.Database(t))
	t.Setenv("JWT_SECRET", "otel-test-jwt-secret-0123456789abcdef")
	t.Setenv("AUTH_SERVICE_SECRET", "otel-test-service-secret-0123456789abcdef")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	_, _, err := runPatd(t, "serve")
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Fatalf("serve with OTEL_EXPORTER_OTLP_PROTOCOL=http/json: %v", err)
	}
}
