package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/token"
)

var secretHeader = "Authorization: Bearer " + pattest.ServiceSecret

type answer struct {
	Valid      bool    `json:"valid"`
	Active     bool    `json:"active"`
	Code       string  `json:"code"`
	UserID     string  `json:"userId"`
	TokenID    string  `json:"tokenId"`
	Name       string  `json:"name"`
	Sub        string  `json:"sub"`
	Exp        *int64  `json:"exp"`
	Iat        int64   `json:"iat"`
	TokenType  string  `json:"token_type"`
	RetryAfter int     `json:"retryAfterSeconds"`
	Error      string  `json:"error"`
	ExpRaw     *string `json:"-"`
}

func validate(t *testing.T, r *pattest.Replica, tok string) (pattest.Response, answer) {
	t.Helper()
	resp := r.Do(http.MethodPost, "/validate", map[string]string{"token": tok}, secretHeader)
	var a answer
	resp.JSON(t, &a)
	return resp, a
}

func TestValidateValidToken(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	id, secret := r.CreateToken(t, "user-1", "ci", &exp)
	_, forever := r.CreateToken(t, "user-1", "forever", nil)

	for _, path := range []string{"/validate", "/api/tokens/validate", "/tokens/validate"} {
		resp := r.Do(http.MethodPost, path, map[string]string{"token": secret}, secretHeader)
		if resp.Status != http.StatusOK {
			t.Fatalf("%s: %s", path, resp)
		}
		var a answer
		resp.JSON(t, &a)
		if !a.Valid || !a.Active || a.Code != "VALID" || a.UserID != "user-1" || a.Sub != "user-1" ||
			a.TokenID != id || a.Name != "ci" || a.TokenType != "personal_access_token" ||
			a.Exp == nil || *a.Exp != exp.Unix() || a.Iat == 0 || a.Iat > time.Now().Unix() {
			t.Errorf("%s: %+v", path, a)
		}
	}
	resp, _ := validate(t, r, forever)
	if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"exp":null`) {
		t.Errorf("token without expiry: want exp null, got %s", resp)
	}
}

func TestValidateRefusals(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	_, secret := r.CreateToken(t, "user-1", "ci", nil)
	unknown, err := token.New(token.PrefixLive)
	if err != nil {
		t.Fatal(err)
	}
	badSum := secret[:len(secret)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", secret[len(secret)-1])+1)%16])
	if secret[len(secret)-1] == badSum[len(badSum)-1] {
		t.Fatal("checksum not altered")
	}

	// An expired token: imported from the old backend already expired.
	past := time.Now().Add(-time.Hour)
	if _, _, err := r.Server.Maintenance.Import(context.Background(), []legacy.Token{{
		Line: 2, ID: "legacy-expired", Name: "old", Secret: "af_live_" + strings.Repeat("x", 32), UserID: "user-1", ExpiresAt: &past,
	}}); err != nil {
		t.Fatal(err)
	}
	// Replicas learn of imports every few seconds; this one, now.
	if err := r.Server.Validator.RefreshImported(context.Background()); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, tok, code string
	}{
		{"unknown", unknown, "NOT_FOUND"},
		{"bad checksum", badSum, "MALFORMED"},
		{"wrong prefix", "af_prod_" + secret[8:], "MALFORMED"},
		{"empty", "", "MALFORMED"},
		{"control characters", "af_live_abc\ndef", "MALFORMED"},
		{"too long", "af_live_" + strings.Repeat("a", 600), "MALFORMED"},
		{"unknown legacy", "legacy-token-nobody-has", "NOT_FOUND"},
		{"expired", "af_live_" + strings.Repeat("x", 32), "EXPIRED"},
	} {
		resp, a := validate(t, r, tc.tok)
		if resp.Status != http.StatusUnauthorized || a.Valid || a.Active || a.Code != tc.code || a.UserID != "" {
			t.Errorf("%s: want 401 %s, got %s", tc.name, tc.code, resp)
		}
	}
}

func TestValidateCallerAuthentication(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.ServiceSecrets = [][]byte{[]byte("old-secret"), []byte(pattest.ServiceSecret)}
	r := pattest.Start(t, cfg)
	_, secret := r.CreateToken(t, "user-1", "ci", nil)
	body := map[string]string{"token": secret}

	for _, h := range []string{
		"Authorization: Bearer " + pattest.ServiceSecret,
		"Authorization: Bearer old-secret",
		"x-af-introspection-secret: " + pattest.ServiceSecret,
		"X-AF-Introspection-Secret: old-secret",
	} {
		if resp := r.Do(http.MethodPost, "/validate", body, h); resp.Status != http.StatusOK {
			t.Errorf("%q: want 200, got %s", h, resp)
		}
	}
	for _, h := range []string{
		"",
		"Authorization: Bearer wrong",
		"Authorization: Bearer " + pattest.ServiceSecret + "x",
		"Authorization: Basic " + pattest.ServiceSecret,
		"Authorization: Bearer " + r.JWT("user-1"),
		"Authorization: Bearer " + secret,
		"x-af-introspection-secret: " + pattest.ServiceSecret[:5],
	} {
		resp := r.Do(http.MethodPost, "/validate", body, h)
		var a answer
		resp.JSON(t, &a)
		if resp.Status != http.StatusForbidden || !strings.Contains(string(resp.Body), `"code":"INVALID_SERVICE_CREDENTIALS"`) || a.Valid {
			t.Errorf("%q: want 403 INVALID_SERVICE_CREDENTIALS, got %s", h, resp)
		}
	}
}

func TestValidateBadRequests(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"not JSON", "token=abc", 400, "BAD_REQUEST"},
		{"empty body", "", 400, "BAD_REQUEST"},
		{"no token", `{"tok":"af_live_x"}`, 400, "BAD_REQUEST"},
		{"token not a string", `{"token":42}`, 400, "BAD_REQUEST"},
		{"token null", `{"token":null}`, 400, "BAD_REQUEST"},
		{"array", `["af_live_x"]`, 400, "BAD_REQUEST"},
		{"over 4 KiB", `{"token":"` + strings.Repeat("a", 4096) + `"}`, 413, ""},
	} {
		resp := r.Do(http.MethodPost, "/validate", tc.body, secretHeader)
		if resp.Status != tc.status || (tc.code != "" && !strings.Contains(string(resp.Body), `"code":"`+tc.code+`"`)) {
			t.Errorf("%s: want %d %s, got %s", tc.name, tc.status, tc.code, resp)
		}
		if resp.Status/100 == 2 {
			t.Errorf("%s: a bad request got a 2xx", tc.name)
		}
	}
	// Exactly 4 KiB is still fine.
	body := `{"token":"` + strings.Repeat("a", 4096-len(`{"token":""}`)) + `"}`
	if resp := r.Do(http.MethodPost, "/validate", body, secretHeader); resp.Status != http.StatusUnauthorized {
		t.Errorf("4 KiB body: want 401 (token too long to be real), got %s", resp)
	}
}

func TestValidateRateLimit(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.ValidateRate = 3
	r := pattest.Start(t, cfg)
	_, secret := r.CreateToken(t, "user-1", "ci", nil)
	_, other := r.CreateToken(t, "user-1", "other", nil)
	for i := 0; i < 3; i++ {
		if resp, _ := validate(t, r, secret); resp.Status != http.StatusOK {
			t.Fatalf("validation %d: %s", i+1, resp)
		}
	}
	resp, a := validate(t, r, secret)
	if resp.Status != http.StatusTooManyRequests || a.Code != "RATE_LIMITED" || a.Valid || a.RetryAfter < 1 || a.RetryAfter > 60 ||
		resp.Header.Get("Retry-After") != fmt.Sprint(a.RetryAfter) {
		t.Errorf("4th validation: want 429 RATE_LIMITED with Retry-After, got %s %v", resp, resp.Header)
	}
	// The limit is per token.
	if resp, _ := validate(t, r, other); resp.Status != http.StatusOK {
		t.Errorf("another token: %s", resp)
	}
}

func TestValidateWhileDatabaseDown(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour
	proxy := pattest.NewProxy(t, "127.0.0.1:5432")
	cfg.DatabaseURL = proxy.Rewrite(cfg.DatabaseURL)
	r := pattest.Start(t, cfg)
	_, cached := r.CreateToken(t, "user-1", "cached", nil)
	_, uncached := r.CreateToken(t, "user-1", "uncached", nil)
	looked := time.Now()
	if resp, _ := validate(t, r, cached); resp.Status != http.StatusOK {
		t.Fatal(resp)
	}

	proxy.Cut()
	// Not hearing revocations either, the replica trusts a cached answer
	// for a second from its lookup.
	if resp, _ := validate(t, r, cached); resp.Status != http.StatusOK && time.Since(looked) < 900*time.Millisecond {
		t.Errorf("cached token with the database down: want 200, got %s", resp)
	}
	resp, a := validate(t, r, uncached)
	if resp.Status != http.StatusServiceUnavailable || a.Code != "UNAVAILABLE" || a.Valid {
		t.Errorf("uncached token with the database down: want 503 UNAVAILABLE, got %s", resp)
	}
	if resp := r.Do(http.MethodGet, "/readyz", nil); resp.Status != http.StatusServiceUnavailable || !strings.Contains(string(resp.Body), `"postgres":"unavailable"`) {
		t.Errorf("readyz with the database down: %s", resp)
	}
	if resp := r.Do(http.MethodGet, "/healthz", nil); resp.Status != http.StatusOK {
		t.Errorf("healthz: %s", resp)
	}

	proxy.Restore()
	pattest.Eventually(t, 10*time.Second, func() (bool, string) {
		resp, _ := validate(t, r, uncached)
		return resp.Status == http.StatusOK, "database back, still " + resp.String()
	})
}
