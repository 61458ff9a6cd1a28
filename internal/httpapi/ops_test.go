package httpapi_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/pattest"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	_, secret := r.CreateToken(t, "user-1", "ci", nil)
	validate(t, r, secret)
	validate(t, r, secret)
	validate(t, r, "af_live_malformed")
	resp := r.Do(http.MethodGet, "/metrics", nil)
	body := string(resp.Body)
	for _, want := range []string{
		`patd_validations_total{code="VALID"} 2`,
		`patd_validations_total{code="NOT_FOUND"} 1`, // a legacy-shaped token never imported: no lookup
		`patd_validation_cache_lookups_total{result="hit"} 1`,
		`patd_validation_cache_lookups_total{result="miss"} 1`,
		`patd_validation_cache_entries 1`, // the one token looked up; a malformed one is never cached
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
// nor their address: the audit trail records the socket's.
func TestUntrustedClientsCannotForgeRequestInfo(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	resp := r.Do(http.MethodGet, "/healthz", nil, "X-Request-Id: forged-id", "X-Forwarded-For: 203.0.113.7")
	if got := resp.Header.Get("X-Request-Id"); got == "forged-id" || got == "" {
		t.Errorf("request id %q", got)
	}

	id, echoed := createWithHeaders(t, r, "X-Request-Id: forged-id", "X-Forwarded-For: 203.0.113.7")
	ip, reqID := auditedRequestInfo(t, r, id)
	if ip != "127.0.0.1" {
		t.Errorf("audit row client_ip %q, want the socket's 127.0.0.1, not the forged X-Forwarded-For", ip)
	}
	if reqID == "forged-id" || reqID != echoed {
		t.Errorf("audit row request_id %q, want the id patd chose and echoed (%q)", reqID, echoed)
	}
}

// Behind a trusted proxy the client's address is the right-most
// X-Forwarded-For entry that is not a trusted proxy (what the proxy itself
// appended; anything left of it the client may have written), and the
// proxy's request id is kept.
func TestTrustedProxiesForwardRequestInfo(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	r := pattest.Start(t, cfg)
	for _, tc := range []struct{ forwarded, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"198.51.100.9, 203.0.113.7", "203.0.113.7"},
		{"203.0.113.8, 127.0.0.1", "203.0.113.8"},
	} {
		id, echoed := createWithHeaders(t, r, "X-Request-Id: proxy-id-1", "X-Forwarded-For: "+tc.forwarded)
		ip, reqID := auditedRequestInfo(t, r, id)
		if ip != tc.want || reqID != "proxy-id-1" || echoed != "proxy-id-1" {
			t.Errorf("X-Forwarded-For %q: audit row client_ip %q, request_id %q (echoed %q); want %q and proxy-id-1",
				tc.forwarded, ip, reqID, echoed, tc.want)
		}
	}
}

// createWithHeaders creates a token over REST with the extra headers and
// returns its id and the X-Request-Id of the answer.
func createWithHeaders(t *testing.T, r *pattest.Replica, headers ...string) (id, requestID string) {
	t.Helper()
	resp := r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "audited"},
		append([]string{"Authorization: Bearer " + r.JWT("user-1")}, headers...)...)
	var c restCreated
	resp.JSON(t, &c)
	if resp.Status != http.StatusCreated || c.Token.ID == "" {
		t.Fatalf("create: %s", resp)
	}
	return c.Token.ID, resp.Header.Get("X-Request-Id")
}

// auditedRequestInfo reads the client address and request id that the audit
// row of the token's creation recorded.
func auditedRequestInfo(t *testing.T, r *pattest.Replica, tokenID string) (clientIP, requestID string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(context.Background(),
		`SELECT client_ip, request_id FROM pat_audit_events WHERE action = 'create' AND token_id = $1`, tokenID).
		Scan(&clientIP, &requestID)
	if err != nil {
		t.Fatal(err)
	}
	return clientIP, requestID
}
