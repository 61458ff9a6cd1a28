package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/alternatefutures/patd/internal/httpapi"
	"github.com/alternatefutures/patd/internal/logging"
	"github.com/alternatefutures/patd/internal/pattest"
)

// accessLine is what the tests read of an access-log line.
type accessLine struct {
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Route  string `json:"route"`
	Status int    `json:"status"`
	ID     string `json:"request_id"`
}

// accessLines returns the access-log lines written to logs so far.
func accessLines(t *testing.T, logs *pattest.LogBuffer) []accessLine {
	var out []accessLine
	for _, s := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if s == "" {
			continue
		}
		var a accessLine
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			t.Fatalf("log line is not JSON: %s", s)
		}
		if a.Msg == "request" {
			out = append(out, a)
		}
	}
	return out
}

// statusServer answers with the status named by ?s= (200 when none).
func statusServer(sample float64) (http.Handler, *pattest.LogBuffer) {
	logs := &pattest.LogBuffer{}
	answer := func(w http.ResponseWriter, r *http.Request) {
		status, err := strconv.Atoi(r.URL.Query().Get("s"))
		if err != nil {
			status = http.StatusOK
		}
		w.WriteHeader(status)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/validate", "/api/tokens/validate", "/tokens/validate"} {
		mux.HandleFunc("POST "+p, answer)
	}
	mux.HandleFunc("GET /api/tokens", answer)
	// The production logger: JSON at INFO.
	h := httpapi.WithRequestInfo(logging.New(logs, slog.LevelInfo), nil, httpapi.AccessLog{ValidateSample: sample}, mux)
	return h, logs
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// The validate route's ordinary answers (200, 401, 429) are not logged when
// sampled out; its 5xx always are, at ERROR, and so are a caller's mistakes
// (400, 403). Other routes log every request.
func TestAccessLogValidateSampledOut(t *testing.T) {
	h, logs := statusServer(0)
	for _, path := range []string{"/validate", "/api/tokens/validate", "/tokens/validate"} {
		for _, s := range []string{"200", "401", "429"} {
			for range 50 {
				serve(h, http.MethodPost, path+"?s="+s)
			}
		}
	}
	if got := accessLines(t, logs); len(got) != 0 {
		t.Fatalf("sampled-out validate answers logged: %+v", got)
	}

	serve(h, http.MethodPost, "/validate?s=500")
	serve(h, http.MethodPost, "/tokens/validate?s=503")
	serve(h, http.MethodPost, "/validate?s=403")
	serve(h, http.MethodPost, "/validate?s=400")
	serve(h, http.MethodGet, "/api/tokens?s=200")
	serve(h, http.MethodGet, "/api/tokens?s=401")
	got := accessLines(t, logs)
	want := []accessLine{
		{Level: "ERROR", Route: "POST /validate", Status: 500},
		{Level: "ERROR", Route: "POST /tokens/validate", Status: 503},
		{Level: "INFO", Route: "POST /validate", Status: 403},
		{Level: "INFO", Route: "POST /validate", Status: 400},
		{Level: "INFO", Route: "GET /api/tokens", Status: 200},
		{Level: "INFO", Route: "GET /api/tokens", Status: 401},
	}
	if len(got) != len(want) {
		t.Fatalf("logged %+v, want %+v", got, want)
	}
	for i, w := range want {
		if got[i].Level != w.Level || got[i].Route != w.Route || got[i].Status != w.Status || got[i].ID == "" {
			t.Errorf("line %d: %+v, want %+v with a request id", i, got[i], w)
		}
	}
}

// At a sample of 1 every validate answer is logged; at 0.25, about a quarter.
func TestAccessLogValidateSampled(t *testing.T) {
	h, logs := statusServer(1)
	for range 20 {
		serve(h, http.MethodPost, "/validate")
		serve(h, http.MethodPost, "/validate?s=401")
	}
	if n := len(accessLines(t, logs)); n != 40 {
		t.Errorf("sample 1: %d lines for 40 answers", n)
	}

	h, logs = statusServer(0.25)
	const n = 4000
	for range n {
		serve(h, http.MethodPost, "/validate?s=401")
	}
	// Binomial(4000, 0.25): mean 1000, standard deviation 27; ±200 is over
	// seven of them.
	if got := len(accessLines(t, logs)); got < 800 || got > 1200 {
		t.Errorf("sample 0.25: %d lines for %d answers", got, n)
	}
}

// Request ids are unique, also when made concurrently, and have the shape
// the old random ones had (24 hex characters); a trusted proxy's id is kept.
func TestRequestIDsUnique(t *testing.T) {
	h, _ := statusServer(0)
	const workers, each = 8, 2000
	ids := make(chan string, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				ids <- serve(h, http.MethodPost, "/validate").Header().Get("X-Request-Id")
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("request id %q: want 24 hex characters", id)
		}
		if seen[id] {
			t.Fatalf("request id %q given twice", id)
		}
		seen[id] = true
	}

	trusted := httpapi.WithRequestInfo(logging.New(&pattest.LogBuffer{}, slog.LevelInfo),
		[]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, httpapi.AccessLog{}, http.NotFoundHandler())
	req := httptest.NewRequest(http.MethodGet, "/", nil) // from 192.0.2.1
	req.Header.Set("X-Request-Id", "proxy-given-id")
	w := httptest.NewRecorder()
	trusted.ServeHTTP(w, req)
	if got := w.Header().Get("X-Request-Id"); got != "proxy-given-id" {
		t.Errorf("a trusted proxy's id came back as %q", got)
	}
}
