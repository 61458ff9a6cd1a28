package httpapi_test

import (
	"context"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/pattest"
)

var timestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

type restCreated struct {
	Success bool `json:"success"`
	Token   struct {
		ID          string  `json:"id"`
		Name        string  `json:"name"`
		Token       string  `json:"token"`
		MaskedToken string  `json:"maskedToken"`
		ExpiresAt   *string `json:"expiresAt"`
		CreatedAt   string  `json:"createdAt"`
	} `json:"token"`
	Error string `json:"error"`
	Code  string `json:"code"`
}

type restList struct {
	Tokens []map[string]any `json:"tokens"`
}

func TestRESTManagement(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	bearer := "Authorization: Bearer " + r.JWT("user-1")
	for _, base := range []string{"/api/tokens", "/tokens"} {
		exp := time.Now().Add(24 * time.Hour).UnixMilli()
		resp := r.Do(http.MethodPost, base, map[string]any{"name": "  cli  ", "expiresAt": exp}, bearer)
		var c restCreated
		resp.JSON(t, &c)
		if resp.Status != http.StatusCreated || !c.Success || c.Token.Name != "cli" ||
			!regexp.MustCompile(`^af_live_[0-9A-Za-z]{36}$`).MatchString(c.Token.Token) ||
			c.Token.MaskedToken != c.Token.Token[:12]+"…" || c.Token.ExpiresAt == nil ||
			*c.Token.ExpiresAt != time.UnixMilli(exp).UTC().Format("2006-01-02T15:04:05.000Z") ||
			!timestamp.MatchString(c.Token.CreatedAt) {
			t.Fatalf("%s create: %s", base, resp)
		}
		if base == "/api/tokens" && (resp.Header.Get("RateLimit") != `"create";r=49;t=86400` ||
			resp.Header.Get("RateLimit-Policy") != `"create";q=50;w=86400`) {
			t.Errorf("create: RateLimit %q, RateLimit-Policy %q", resp.Header.Get("RateLimit"), resp.Header.Get("RateLimit-Policy"))
		}
		// RFC 3339 expiry too.
		resp = r.Do(http.MethodPost, base, map[string]any{"name": "rfc", "expiresAt": time.Now().Add(time.Hour).Format(time.RFC3339)}, bearer)
		if resp.Status != http.StatusCreated {
			t.Fatalf("%s create with RFC 3339 expiry: %s", base, resp)
		}

		resp = r.Do(http.MethodGet, base, nil, bearer)
		var l restList
		resp.JSON(t, &l)
		if resp.Status != http.StatusOK || len(l.Tokens) == 0 {
			t.Fatalf("%s list: %s", base, resp)
		}
		found := false
		for _, tok := range l.Tokens {
			if tok["id"] == c.Token.ID {
				found = true
				if _, ok := tok["lastUsedAt"]; !ok || tok["lastUsedAt"] != nil {
					t.Errorf("lastUsedAt should be present and null: %v", tok)
				}
				if tok["maskedToken"] != c.Token.MaskedToken || tok["name"] != "cli" {
					t.Errorf("listed %v", tok)
				}
			}
		}
		if !found || strings.Contains(string(resp.Body), c.Token.Token) {
			t.Errorf("%s list: token missing or secret shown again: %s", base, resp)
		}

		resp = r.Do(http.MethodDelete, base+"/"+c.Token.ID, nil, bearer)
		if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"message":"Token deleted successfully"`) ||
			!strings.Contains(string(resp.Body), `"success":true`) {
			t.Errorf("%s delete: %s", base, resp)
		}
		resp = r.Do(http.MethodDelete, base+"/"+c.Token.ID, nil, bearer)
		if resp.Status != http.StatusNotFound || !strings.Contains(string(resp.Body), `"error":"Token not found"`) ||
			!strings.Contains(string(resp.Body), `"code":"NOT_FOUND"`) {
			t.Errorf("%s delete again: %s", base, resp)
		}

		resp = r.Do(http.MethodGet, base+"/limits", nil, bearer)
		var lim struct {
			RateLimit struct {
				Remaining, Limit int
				ResetAt          string
			} `json:"rateLimit"`
			TokenLimit struct{ Active, Max int } `json:"tokenLimit"`
		}
		resp.JSON(t, &lim)
		if resp.Status != http.StatusOK || lim.RateLimit.Limit != 50 || lim.TokenLimit.Max != 500 ||
			!timestamp.MatchString(lim.RateLimit.ResetAt) || resp.Header.Get("RateLimit-Policy") == "" {
			t.Errorf("%s limits: %s", base, resp)
		}
	}
}

func TestRESTErrors(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.MaxActive = 2
	cfg.CreateLimit = 3
	r := pattest.Start(t, cfg)
	bearer := "Authorization: Bearer " + r.JWT("user-1")
	count := func() int {
		var l restList
		r.Do(http.MethodGet, "/api/tokens", nil, bearer).JSON(t, &l)
		return len(l.Tokens)
	}

	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"bad name", map[string]any{"name": "a<b"}, 400, "INVALID_TOKEN_NAME"},
		{"no name", map[string]any{}, 400, "INVALID_TOKEN_NAME"},
		{"long name", map[string]any{"name": strings.Repeat("a", 101)}, 400, "INVALID_TOKEN_NAME"},
		{"past expiry", map[string]any{"name": "x", "expiresAt": time.Now().Add(-time.Minute).UnixMilli()}, 400, "INVALID_EXPIRATION"},
		{"far expiry", map[string]any{"name": "x", "expiresAt": time.Now().AddDate(11, 0, 0).Format(time.RFC3339)}, 400, "INVALID_EXPIRATION"},
		{"unreadable expiry", map[string]any{"name": "x", "expiresAt": "next week"}, 400, "INVALID_EXPIRATION"},
		{"not JSON", "name=x", 400, "VALIDATION_ERROR"},
		{"over 4 KiB", `{"name":"` + strings.Repeat("a", 5000) + `"}`, 413, ""},
	} {
		resp := r.Do(http.MethodPost, "/api/tokens", tc.body, bearer)
		if resp.Status != tc.status || (tc.code != "" && !strings.Contains(string(resp.Body), `"code":"`+tc.code+`"`)) ||
			(tc.code != "" && !strings.Contains(string(resp.Body), `"error":`)) {
			t.Errorf("%s: want %d %s, got %s", tc.name, tc.status, tc.code, resp)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("failed creates stored %d tokens", n)
	}

	// Unauthenticated and PAT-authenticated callers.
	for _, h := range []string{"", "Authorization: Bearer nonsense", "Authorization: Bearer " + r.JWT("user-1") + "x"} {
		if resp := r.Do(http.MethodGet, "/api/tokens", nil, h); resp.Status != http.StatusUnauthorized ||
			!strings.Contains(string(resp.Body), `"code":"UNAUTHENTICATED"`) {
			t.Errorf("%q: want 401 UNAUTHENTICATED, got %s", h, resp)
		}
	}
	var c restCreated
	r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "one"}, bearer).JSON(t, &c)
	pat := "Authorization: Bearer " + c.Token.Token
	if resp := r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "minted"}, pat); resp.Status != http.StatusForbidden ||
		!strings.Contains(string(resp.Body), `"code":"FORBIDDEN"`) {
		t.Errorf("PAT create: want 403 FORBIDDEN, got %s", resp)
	}
	if resp := r.Do(http.MethodGet, "/api/tokens", nil, pat); resp.Status != http.StatusOK {
		t.Errorf("PAT list: %s", resp)
	}

	// Max active, then the daily quota.
	if resp := r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "two"}, bearer); resp.Status != http.StatusCreated {
		t.Fatal(resp)
	}
	resp := r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "three"}, bearer)
	if resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), `"code":"MAX_TOKENS_EXCEEDED"`) {
		t.Errorf("over max active: %s", resp)
	}
	r.Do(http.MethodDelete, "/api/tokens/"+c.Token.ID, nil, bearer)
	if resp := r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "three"}, bearer); resp.Status != http.StatusCreated {
		t.Fatalf("third create (quota 3, one failed create did not count): %s", resp)
	}
	r.Do(http.MethodDelete, "/api/tokens/"+c.Token.ID, nil, bearer)
	resp = r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "four"}, bearer)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.Status != http.StatusTooManyRequests || !strings.Contains(string(resp.Body), `"code":"RATE_LIMIT_EXCEEDED"`) ||
		!strings.Contains(string(resp.Body), `"resetAt":"`) || retry < 1 || retry > 86400 {
		t.Errorf("over the quota: want 429 with Retry-After, got %s %v", resp, resp.Header)
	}
	if got := resp.Header.Get("RateLimit"); !strings.HasPrefix(got, `"create";r=0;t=`) {
		t.Errorf("429 RateLimit field: %q", got)
	}
}

func TestRevokeAll(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	r := pattest.Start(t, cfg)
	var secrets []string
	for i := 0; i < 3; i++ {
		_, s := r.CreateToken(t, "leaving", "t"+strconv.Itoa(i), nil)
		secrets = append(secrets, s)
		validate(t, r, s)
	}
	_, keep := r.CreateToken(t, "staying", "t", nil)

	if resp := r.Do(http.MethodPost, "/internal/users/leaving/revoke-all", nil, "Authorization: Bearer "+r.JWT("leaving")); resp.Status != http.StatusForbidden {
		t.Errorf("revoke-all with a user JWT: want 403, got %s", resp)
	}
	if resp, _ := validate(t, r, secrets[0]); resp.Status != http.StatusOK {
		t.Fatal("a refused revoke-all changed something")
	}
	resp := r.Do(http.MethodPost, "/internal/users/leaving/revoke-all", nil, secretHeader)
	if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"deleted":3`) {
		t.Fatalf("revoke-all: %s", resp)
	}
	for _, s := range secrets {
		if resp, a := validate(t, r, s); resp.Status != http.StatusUnauthorized || a.Code != "NOT_FOUND" {
			t.Errorf("revoked token: %s", resp)
		}
	}
	if resp, _ := validate(t, r, keep); resp.Status != http.StatusOK {
		t.Errorf("another user's token: %s", resp)
	}
	if n := auditCount(t, cfg.DatabaseURL, "revoke_all", "leaving"); n != 3 {
		t.Errorf("audit events for revoke-all: %d, want 3", n)
	}
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	// The test client stands for the gateway: a trusted proxy, whose request
	// id and X-Forwarded-For are believed.
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	r := pattest.Start(t, cfg)
	resp := r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "audited"}, "Authorization: Bearer "+r.JWT("user-1"),
		"User-Agent: patd-test/1.0", "X-Request-Id: req-123", "X-Forwarded-For: 203.0.113.7, 127.0.0.1")
	var c restCreated
	resp.JSON(t, &c)
	conn, err := pgx.Connect(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var action, actor, tokenID, ua, reqID, ip, detail string
	err = conn.QueryRow(context.Background(),
		`SELECT action, actor_id, token_id, user_agent, request_id, client_ip, detail::text FROM pat_audit_events WHERE user_id = 'user-1'`).
		Scan(&action, &actor, &tokenID, &ua, &reqID, &ip, &detail)
	if err != nil {
		t.Fatal(err)
	}
	if action != "create" || actor != "user-1" || tokenID != c.Token.ID || ua != "patd-test/1.0" || reqID != "req-123" || ip != "203.0.113.7" {
		t.Errorf("audit row: %s %s %s %q %q %q", action, actor, tokenID, ua, reqID, ip)
	}
	if strings.Contains(detail, c.Token.Token) || strings.Contains(detail, c.Token.Token[12:]) {
		t.Error("the audit row holds the token")
	}
	if got := resp.Header.Get("X-Request-Id"); got != "req-123" {
		t.Errorf("X-Request-Id echoed as %q", got)
	}
}

func auditCount(t *testing.T, url, action, user string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pat_audit_events WHERE action = $1 AND user_id = $2`, action, user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
