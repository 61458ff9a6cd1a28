package loadgen

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRun reads every kind of answer net/http writes (a length, chunked, a
// closed connection) and counts statuses, successes and bodies right.
func TestRun(t *testing.T) {
	var served atomic.Int64
	big := strings.Repeat("x", 100_000) // over net/http's buffer: chunked
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1)
		body, _ := io.ReadAll(r.Body)
		switch string(body) {
		case "big":
			_, _ = io.WriteString(w, big)
		case "close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		default:
			if n%2 == 0 {
				w.WriteHeader(http.StatusUnauthorized)
			}
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	res := Run(context.Background(), Config{
		Addr: addr, Connections: 1, Duration: 200 * time.Millisecond,
		Request: func(_ int, dst []byte) []byte { return Post(dst, "/", []byte("plain")) },
	})
	if res.Requests < 10 || res.Errors != 0 {
		t.Fatalf("requests %d, errors %d (%v)", res.Requests, res.Errors, res.FirstError)
	}
	// One connection in a closed loop: statuses alternate.
	if res.Status[200]+res.Status[401] != res.Requests || res.Failed != res.Status[401] || res.Status[401] == 0 {
		t.Errorf("statuses %v, failed %d", res.Status, res.Failed)
	}
	if res.Quantile(50) <= 0 || res.RPS() <= 0 {
		t.Errorf("p50 %v, rps %v", res.Quantile(50), res.RPS())
	}

	var sawBig atomic.Bool
	res = Run(context.Background(), Config{
		Addr: addr, Connections: 2, Duration: 200 * time.Millisecond, ReadBody: true,
		Request: func(_ int, dst []byte) []byte { return Post(dst, "/", []byte("big")) },
		Check: func(status int, body []byte) bool {
			ok := status == 200 && bytes.Equal(body, []byte(big))
			if ok {
				sawBig.Store(true)
			}
			return ok
		},
	})
	if res.Requests == 0 || res.Failed != 0 || res.Errors != 0 || !sawBig.Load() {
		t.Errorf("chunked: requests %d, failed %d, errors %d (%v)", res.Requests, res.Failed, res.Errors, res.FirstError)
	}

	res = Run(context.Background(), Config{
		Addr: addr, Connections: 1, Duration: 200 * time.Millisecond, ReadBody: true,
		Request: func(_ int, dst []byte) []byte { return Post(dst, "/", []byte("close")) },
		Check:   func(status int, body []byte) bool { return status == 200 && string(body) == "bye" },
	})
	if res.Requests < 2 || res.Failed != 0 || res.Errors != 0 {
		t.Errorf("Connection: close: requests %d, failed %d, errors %d (%v)", res.Requests, res.Failed, res.Errors, res.FirstError)
	}
}

// TestRunServerGone counts requests without an answer as errors, and stops on
// time anyway.
func TestRunServerGone(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	start := time.Now()
	res := Run(context.Background(), Config{
		Addr: addr, Connections: 2, Duration: 100 * time.Millisecond,
		Request: func(_ int, dst []byte) []byte { return Post(dst, "/", nil) },
	})
	if res.Errors == 0 || res.Requests != 0 || res.FirstError == nil {
		t.Errorf("errors %d, requests %d, first %v", res.Errors, res.Requests, res.FirstError)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}
