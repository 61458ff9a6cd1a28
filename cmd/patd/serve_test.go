package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

// serving is a `patd serve` run by a test.
type serving struct {
	out, errOut bytes.Buffer // what serve wrote: read them once it has stopped
	cancel      context.CancelFunc
	done        chan error
	stopped     bool // stop was called
	err         error
}

// startServe runs `patd serve` with the environment the caller has set, and
// returns once base answers /readyz. Serve runs until stop, or until the test
// ends, when an error it ends with fails the test.
func startServe(t *testing.T, base string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, []string{"serve"}, &s.out, &s.errOut) }()
	t.Cleanup(func() {
		if s.stopped {
			return
		}
		if err := s.stop(t, 30*time.Second); err != nil {
			t.Errorf("serve ended with %v\n%s", err, s.errOut.String())
		}
	})
	pattest.WaitReady(t, base, 20*time.Second)
	return s
}

// stop ends serve as SIGTERM would (the context main cancels on it) and
// returns the error it ended with, failing t if it takes longer than within.
func (s *serving) stop(t *testing.T, within time.Duration) error {
	t.Helper()
	if !s.stopped {
		s.stopped = true
		s.cancel()
		select {
		case s.err = <-s.done:
		case <-time.After(within):
			t.Fatal("serve did not stop")
		}
	}
	return s.err
}

// Production refuses to start half-configured, naming what is missing.
func TestServeRefusesMissingSecrets(t *testing.T) {
	cleanEnv(t, pattest.Database(t))
	_, _, err := runPatd(t, "serve")
	if err == nil || !strings.Contains(err.Error(), "JWT_SECRET") || !strings.Contains(err.Error(), "AUTH_SERVICE_SECRET") {
		t.Fatalf("serve without secrets: %v", err)
	}
}

// SIGTERM (the context main cancels on it) lets an in-flight request finish
// and ends serve with no error, so the process exits 0.
func TestServeShutsDownCleanly(t *testing.T) {
	cleanEnv(t, pattest.Database(t))
	port := pattest.FreePort(t)
	t.Setenv("PORT", strconv.Itoa(port))
	t.Setenv("PATD_ENV", "development") // generates secrets, prints help
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	srv := startServe(t, base)
	// A slow request in flight when the signal comes still gets its answer.
	slow := make(chan int, 1)
	go func() {
		body := strings.NewReader(`{"query":"{ __typename }"}`)
		resp, err := http.Post(base+"/graphql", "application/json", &slowReader{r: body, delay: 500 * time.Millisecond})
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond)
	if err := srv.stop(t, 15*time.Second); err != nil {
		t.Fatalf("serve ended with %v", err)
	}
	if status := <-slow; status != http.StatusOK {
		t.Errorf("the in-flight request got %d", status)
	}
	if !strings.Contains(srv.out.String(), "export JWT=") {
		t.Errorf("development mode printed no dev JWT:\n%s", srv.out.String())
	}
}

// BIND_ADDR chooses the address the HTTP port listens on, and METRICS_ADDR
// moves /metrics off it onto a listener of its own: the public port then
// answers 404, in JSON like every other answer.
func TestServeBindAndMetricsAddr(t *testing.T) {
	cleanEnv(t, pattest.Database(t))
	port, metricsPort := strconv.Itoa(pattest.FreePort(t)), strconv.Itoa(pattest.FreePort(t))
	t.Setenv("PORT", port)
	t.Setenv("PATD_ENV", "development")
	// Another loopback address (Linux routes all of 127/8 to lo), so that
	// the default address 127.0.0.1 can be seen not to listen.
	t.Setenv("BIND_ADDR", "127.0.0.2")
	t.Setenv("METRICS_ADDR", "127.0.0.1:"+metricsPort)
	public := "http://127.0.0.2:" + port
	startServe(t, public)
	if resp, err := http.Get("http://127.0.0.1:" + port + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("BIND_ADDR=127.0.0.2, yet 127.0.0.1:%s answers %s", port, resp.Status)
	}

	status, ctype, body := get(t, public+"/metrics")
	if status != http.StatusNotFound || !strings.HasPrefix(ctype, "application/json") || strings.Contains(body, "patd_") {
		t.Errorf("public /metrics with METRICS_ADDR set: %d %s %.200s", status, ctype, body)
	}
	status, _, body = get(t, "http://127.0.0.1:"+metricsPort+"/metrics")
	if status != http.StatusOK || !strings.Contains(body, "patd_db_pool_max_connections") {
		t.Errorf("METRICS_ADDR /metrics: %d %.200s", status, body)
	}
	status, ctype, _ = get(t, "http://127.0.0.1:"+metricsPort+"/graphql")
	if status != http.StatusNotFound || !strings.HasPrefix(ctype, "application/json") {
		t.Errorf("METRICS_ADDR serves more than /metrics: /graphql answers %d %s", status, ctype)
	}
}

func get(t *testing.T, url string) (status int, contentType, body string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// slowReader delays the first read, keeping a request in flight.
type slowReader struct {
	r     *strings.Reader
	delay time.Duration
	slept bool
}

func (s *slowReader) Read(p []byte) (int, error) {
	if !s.slept {
		time.Sleep(s.delay)
		s.slept = true
	}
	return s.r.Read(p)
}
