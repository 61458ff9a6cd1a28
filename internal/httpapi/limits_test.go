package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := pattest.StartRedis(t)
	cfg := pattest.Config(t)
	cfg.RedisURL = srv.URL()
	r := pattest.Start(t, cfg)
	bearer := "Authorization: Bearer " + r.JWT("user-1")
	_, cached := r.CreateToken(t, "user-1", "cached", nil)
	validate(t, r, cached)
	_, uncached := r.CreateToken(t, "user-1", "uncached", nil)

	srv.Stop()
	resp := r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "during outage"}, bearer)
	if resp.Status != http.StatusInternalServerError || !strings.Contains(string(resp.Body), `"code":"INTERNAL_SERVER_ERROR"`) ||
		strings.Contains(string(resp.Body), "redis") || strings.Contains(string(resp.Body), "127.0.0.1") {
		t.Errorf("REST create with Redis down: want a generic 500, got %s", resp)
	}
	res := r.GraphQL(t, r.JWT("user-1"), `mutation { createPersonalAccessToken(name: "during outage") { id } }`, nil)
	if code := res.Code(t); code != "INTERNAL_SERVER_ERROR" || res.Errors[0].Message != "internal server error" {
		t.Errorf("GraphQL create with Redis down: %+v", res.Errors)
	}
	for name, tok := range map[string]string{"cached": cached, "uncached": uncached} {
		if resp, _ := validate(t, r, tok); resp.Status != http.StatusOK {
			t.Errorf("validate %s token with Redis down: %s", name, resp)
		}
	}
	if resp := r.Do(http.MethodGet, "/readyz", nil); resp.Status != http.StatusServiceUnavailable || !strings.Contains(string(resp.Body), `"redis":"unavailable"`) {
		t.Errorf("readyz with Redis down: %s", resp)
	}
	var l restList
	r.Do(http.MethodGet, "/api/tokens", nil, bearer).JSON(t, &l)
	if len(l.Tokens) != 2 {
		t.Errorf("refused creates stored tokens: %d", len(l.Tokens))
	}

	srv.Start()
	pattest.Eventually(t, 10*time.Second, func() (bool, string) {
		resp := r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "after outage"}, bearer)
		return resp.Status == http.StatusCreated, "Redis is back but creates still fail: " + resp.String()
	})
}

// A PAT used as a bearer past its validation rate is told to slow down, not
// that it is invalid.
func TestRateLimitedPATIsNotUnauthenticated(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.ValidateRate = 2
	r := pattest.Start(t, cfg)
	_, secret := r.CreateToken(t, "user-1", "ci", nil)
	bearer := "Authorization: Bearer " + secret
	for i := 0; i < 2; i++ {
		if resp := r.Do(http.MethodGet, "/api/tokens", nil, bearer); resp.Status != http.StatusOK {
			t.Fatal(resp)
		}
	}
	resp := r.Do(http.MethodGet, "/api/tokens", nil, bearer)
	if resp.Status != http.StatusTooManyRequests || !strings.Contains(string(resp.Body), `"code":"RATE_LIMIT_EXCEEDED"`) ||
		resp.Header.Get("Retry-After") == "" {
		t.Errorf("REST over the rate: %s", resp)
	}
	res := r.GraphQL(t, secret, `{ personalAccessTokens { totalCount } }`, nil)
	if code := res.Code(t); code != "RATE_LIMIT_EXCEEDED" || res.Errors[0].Extensions["retryAfterSeconds"] == nil {
		t.Errorf("GraphQL over the rate: %+v", res.Errors)
	}
}
