package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/alternatefutures/patd/internal/pattest"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	_, secret := createToken(t, r, "user-1", "ci", nil)
	validate(t, r, secret)
	validate(t, r, secret)
	validate(t, r, "af_live_malformed")
	resp := r.Do(http.MethodGet, "/metrics", nil)
	body := string(resp.Body)
	for _, want := range []string{
		`patd_validations_total{code="VALID"} 2`,
		`patd_validations_total{code="NOT_FOUND"} 1`, // a legacy-shaped token: looked up
		`patd_validation_cache_lookups_total{result="hit"} 1`,
		`patd_validation_cache_lookups_total{result="miss"} 2`,
		`patd_limiter_decisions_total{decision="allow",limit="create"} 1`,
		`patd_limiter_decisions_total{decision="allow",limit="validate"} 2`,
		`patd_graphql_operations_total{operation="mutation createPersonalAccessToken",outcome="ok"} 1`,
		`patd_validate_duration_seconds_count 3`,
		`patd_db_pool_max_connections`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, secret) || strings.Contains(body, secret[12:]) {
		t.Error("a token reached the metrics")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	if resp := r.Do(http.MethodGet, "/healthz", nil); resp.Status != http.StatusOK {
		t.Errorf("healthz: %s", resp)
	}
	resp := r.Do(http.MethodGet, "/readyz", nil)
	if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"postgres":"ok"`) ||
		!strings.Contains(string(resp.Body), `"redis":"ok"`) || !strings.Contains(string(resp.Body), `"revocations":"ok"`) {
		t.Errorf("readyz: %s", resp)
	}
	if id := resp.Header.Get("X-Request-Id"); len(id) < 16 {
		t.Errorf("no request id on the answer: %q", id)
	}
}

// Without a trusted proxy in front, clients choose neither their request id
// nor their address.
func TestUntrustedClientsCannotForgeRequestInfo(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	resp := r.Do(http.MethodGet, "/healthz", nil, "X-Request-Id: forged-id", "X-Forwarded-For: 203.0.113.7")
	if got := resp.Header.Get("X-Request-Id"); got == "forged-id" || got == "" {
		t.Errorf("request id %q", got)
	}
}
