package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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
	port := freePort(t)
	t.Setenv("PORT", strconv.Itoa(port))
	t.Setenv("PATD_ENV", "development") // generates secrets, prints help
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, &out, &errOut) }()

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	pattest.Eventually(t, 20*time.Second, func() (bool, string) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
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
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve ended with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if status := <-slow; status != http.StatusOK {
		t.Errorf("the in-flight request got %d", status)
	}
	if !strings.Contains(out.String(), "export JWT=") {
		t.Errorf("development mode printed no dev JWT:\n%s", out.String())
	}
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
