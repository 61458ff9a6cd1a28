package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/alternatefutures/patd/internal/httpapi"
)

// Routes answers what an http.ServeMux of the same routes answers (the
// route's handler, with the pattern and path values; redirects), except for
// requests no route takes, which get JSON: 404, or 405 with the mux's Allow.
// Outside, the request's Pattern is the route's, "" when none.
func TestRoutesAnswerAsTheMuxInJSON(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.Pattern + " id=" + r.PathValue("id")))
	})
	rt, mux := httpapi.NewRoutes(), http.NewServeMux()
	for _, p := range []string{"POST /validate", "GET /tokens", "GET /tokens/limits", "DELETE /tokens/{id}", "GET /assets/{file...}", "/metrics"} {
		rt.Handle(p, echo)
		mux.Handle(p, echo)
	}
	for _, tt := range []struct {
		method, target string
		status         int
		pattern        string // seen outside once served
	}{
		{"POST", "/validate", 200, "POST /validate"},
		{"DELETE", "/tokens/abc", 200, "DELETE /tokens/{id}"},
		{"HEAD", "/tokens/limits", 200, "GET /tokens/limits"},
		{"PUT", "/metrics", 200, "/metrics"},
		{"GET", "/assets/a/b.js", 200, "GET /assets/{file...}"},
		{"GET", "/assets", 307, "GET /assets/{file...}"}, // to /assets/
		{"POST", "/x/../validate", 307, "POST /validate"},
		{"GET", "/nope", 404, ""},
		{"GET", "/", 404, ""},
		{"DELETE", "/validate", 405, ""},
		{"PUT", "/tokens/limits", 405, ""},
		{"POST", "/tokens/abc", 405, ""},
		{"CONNECT", "example.com:443", 404, ""}, // a host, no path
	} {
		name := tt.method + " " + tt.target
		want := httptest.NewRecorder()
		mux.ServeHTTP(want, request(tt.method, tt.target))
		got := httptest.NewRecorder()
		req := request(tt.method, tt.target)
		rt.ServeHTTP(got, req)
		if got.Code != tt.status || want.Code != tt.status {
			t.Errorf("%s: status %d (the mux: %d), want %d", name, got.Code, want.Code, tt.status)
		}
		if req.Pattern != tt.pattern {
			t.Errorf("%s: pattern %q, want %q", name, req.Pattern, tt.pattern)
		}
		if got.Header().Get("Allow") != want.Header().Get("Allow") || got.Header().Get("Location") != want.Header().Get("Location") {
			t.Errorf("%s: Allow %q, Location %q; the mux: %q, %q", name, got.Header().Get("Allow"), got.Header().Get("Location"),
				want.Header().Get("Allow"), want.Header().Get("Location"))
		}
		switch tt.status {
		case 404, 405:
			var e struct{ Error, Code string }
			if err := json.Unmarshal(got.Body.Bytes(), &e); err != nil || e.Error == "" ||
				e.Code != map[int]string{404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}[tt.status] || got.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s: %s %s, want a JSON error", name, got.Header().Get("Content-Type"), got.Body)
			}
		default:
			if got.Body.String() != want.Body.String() {
				t.Errorf("%s: %q, the mux: %q", name, got.Body, want.Body)
			}
		}
	}
}

// request is a request as the server makes it: a CONNECT target is a host.
func request(method, target string) *http.Request {
	if method != http.MethodConnect {
		return httptest.NewRequest(method, target, nil)
	}
	r := httptest.NewRequest(method, "/", nil)
	r.URL, r.RequestURI, r.Host = &url.URL{Host: target}, target, target
	return r
}
