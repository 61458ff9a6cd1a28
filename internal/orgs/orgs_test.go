package orgs_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/orgs"
)

// authService stands in for the auth service: GET /organizations/{id}
// answers with the status that status() chooses, and counts requests.
func authService(t *testing.T, status func(r *http.Request) int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(status(r))
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestCheckAnswers(t *testing.T) {
	t.Parallel()
	srv, _ := authService(t, func(r *http.Request) int {
		if r.Header.Get("Authorization") != "Bearer user-jwt" {
			return http.StatusUnauthorized
		}
		switch r.URL.EscapedPath() {
		case "/organizations/member":
			return http.StatusOK
		case "/organizations/forbidden":
			return http.StatusForbidden
		case "/organizations/missing":
			return http.StatusNotFound
		case "/organizations/a%2Fb":
			return http.StatusOK
		}
		return http.StatusInternalServerError
	})
	c, err := orgs.New(srv.URL, time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		org     string
		authz   string
		wantErr error
	}{
		{"member", "Bearer user-jwt", nil},
		{"forbidden", "Bearer user-jwt", orgs.ErrNotMember},
		{"missing", "Bearer user-jwt", orgs.ErrNotMember},
		{"broken", "Bearer user-jwt", orgs.ErrUnavailable},
		// The caller's own header is what the auth service sees.
		{"member", "Bearer someone-else", orgs.ErrUnavailable},
		// An id is one path segment, escaped: it cannot reach another route.
		{"a/b", "Bearer user-jwt", nil},
	} {
		err := c.Check(context.Background(), tt.authz, "u-"+tt.authz, tt.org)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Errorf("Check(%q, %q) = %v, want %v", tt.org, tt.authz, err, tt.wantErr)
		}
	}
}

func TestPositiveAnswersAreCachedAndNegativeOnesAreNot(t *testing.T) {
	t.Parallel()
	member := atomic.Bool{}
	member.Store(true)
	srv, calls := authService(t, func(*http.Request) int {
		if member.Load() {
			return http.StatusOK
		}
		return http.StatusNotFound
	})
	c, err := orgs.New(srv.URL, time.Second, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if err := c.Check(ctx, "Bearer x", "user-1", "org-1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("3 checks of a member asked the auth service %d times, want 1", n)
	}
	member.Store(false)
	for range 2 {
		if err := c.Check(ctx, "Bearer x", "user-2", "org-1"); !errors.Is(err, orgs.ErrNotMember) {
			t.Fatalf("non-member: %v", err)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("a refusal was cached: %d calls, want 3", n)
	}
}

func TestCacheExpires(t *testing.T) {
	t.Parallel()
	srv, calls := authService(t, func(*http.Request) int { return http.StatusOK })
	c, err := orgs.New(srv.URL, time.Second, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = c.Check(ctx, "Bearer x", "user-1", "org-1")
	time.Sleep(100 * time.Millisecond)
	_ = c.Check(ctx, "Bearer x", "user-1", "org-1")
	if n := calls.Load(); n != 2 {
		t.Errorf("after the cache TTL: %d calls, want 2", n)
	}
}

func TestHangingAuthServiceTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	c, err := orgs.New(srv.URL, 200*time.Millisecond, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Check(context.Background(), "Bearer x", "user-1", "org-1") }()
	select {
	case err := <-done:
		if !errors.Is(err, orgs.ErrUnavailable) {
			t.Fatalf("hanging auth service: %v, want ErrUnavailable", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Check did not give up on a hanging auth service")
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization") != "")
	}))
	t.Cleanup(elsewhere.Close)
	srv := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/organizations/org-1", http.StatusFound))
	t.Cleanup(srv.Close)
	c, err := orgs.New(srv.URL, time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(context.Background(), "Bearer secret", "user-1", "org-1"); !errors.Is(err, orgs.ErrUnavailable) {
		t.Errorf("a redirect: %v, want ErrUnavailable", err)
	}
	if leaked.Load() {
		t.Error("the caller's credential followed a redirect")
	}
}

func TestNoAuthServiceFailsClosed(t *testing.T) {
	t.Parallel()
	c, err := orgs.New("", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(context.Background(), "Bearer x", "user-1", "org-1"); !errors.Is(err, orgs.ErrUnavailable) {
		t.Errorf("no AUTH_SERVICE_URL: %v, want ErrUnavailable", err)
	}
	for _, bad := range []string{"ftp://auth", "auth.example", "http://"} {
		if _, err := orgs.New(bad, 0, 0); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}
