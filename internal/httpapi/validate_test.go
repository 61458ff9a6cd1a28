package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// createToken creates a token for user over GraphQL and returns its id and secret.
func createToken(t *testing.T, r *pattest.Replica, user, name string, expiresAt *time.Time) (id, secret string) {
	t.Helper()
	vars := map[string]any{"name": name}
	if expiresAt != nil {
		vars["exp"] = expiresAt.UTC().Format(time.RFC3339Nano)
	}
	var out struct {
		C struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		} `json:"createPersonalAccessToken"`
	}
	r.GraphQL(r.JWT(user), `mutation($name: String!, $exp: Date) { createPersonalAccessToken(name: $name, expiresAt: $exp) { id token } }`, vars).OK(t).Decode(t, &out)
	return out.C.ID, out.C.Token
}

func validate(t *testing.T, r *pattest.Replica, tok string) (pattest.Response, answer) {
	t.Helper()
	resp := r.Do(http.MethodPost, "/validate", map[string]string{"token": tok}, secretHeader)
	var a answer
	resp.JSON(t, &a)
	return resp, a
}

// refused reports whether tok now validates as NOT_FOUND.
func refused(t *testing.T, r *pattest.Replica, tok string) bool {
	t.Helper()
	resp, a := validate(t, r, tok)
	return resp.Status == http.StatusUnauthorized && a.Code == "NOT_FOUND"
}

func deleteToken(t *testing.T, r *pattest.Replica, user, id string) {
	t.Helper()
	r.GraphQL(r.JWT(user), `mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`, map[string]any{"id": id}).OK(t)
}

func TestValidateValidToken(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	id, secret := createToken(t, r, "user-1", "ci", &exp)
	_, forever := createToken(t, r, "user-1", "forever", nil)

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
	_, secret := createToken(t, r, "user-1", "ci", nil)
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

func TestValidateMalformedTouchesNoStore(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	before := r.Queries("")
	tok, _ := token.New(token.PrefixLive)
	for i := 0; i < 20; i++ {
		bad := tok[:10] + string(rune('a'+i%26)) + tok[11:]
		if bad == tok {
			continue
		}
		if resp, a := validate(t, r, bad); a.Code != "MALFORMED" {
			t.Fatalf("want MALFORMED, got %s", resp)
		}
	}
	if after := r.Queries(""); after != before {
		t.Errorf("malformed tokens sent %d SQL statements, want 0", after-before)
	}
}

func TestValidateCallerAuthentication(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.ServiceSecrets = [][]byte{[]byte("old-secret"), []byte(pattest.ServiceSecret)}
	r := pattest.Start(t, cfg)
	_, secret := createToken(t, r, "user-1", "ci", nil)
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
	_, secret := createToken(t, r, "user-1", "ci", nil)
	_, other := createToken(t, r, "user-1", "other", nil)
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

func TestValidateHonoursExpiryOfCachedAnswer(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour
	r := pattest.Start(t, cfg)
	exp := time.Now().Add(1500 * time.Millisecond)
	_, secret := createToken(t, r, "user-1", "short", &exp)
	if resp, _ := validate(t, r, secret); resp.Status != http.StatusOK {
		t.Fatalf("before expiry: %s", resp)
	}
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	queries := r.Queries("token_hash =")
	if resp, a := validate(t, r, secret); resp.Status != http.StatusUnauthorized || a.Code != "EXPIRED" {
		t.Fatalf("after expiry: want 401 EXPIRED, got %s", resp)
	}
	if r.Queries("token_hash =") != queries {
		t.Error("the expired answer came from the database, not from the cache")
	}
}

func TestConcurrentMissesShareOneQuery(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	_, secret := createToken(t, r, "user-1", "ci", nil)
	before := r.Queries("token_hash =")
	var wg sync.WaitGroup
	codes := make(chan int, 30)
	// Many goroutines through the service directly, so they truly overlap.
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := r.Server.Validator.Validate(context.Background(), secret)
			if err != nil || v.Outcome != "VALID" {
				codes <- 0
				return
			}
			codes <- 1
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 1 {
			t.Fatal("a concurrent validation failed")
		}
	}
	if n := r.Queries("token_hash =") - before; n != 1 {
		t.Errorf("30 concurrent validations of one uncached token sent %d lookups, want 1", n)
	}
}

func TestRevocationReachesOtherReplicaWithinASecond(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour // the cache alone would serve stale answers for an hour
	a := pattest.Start(t, cfg)
	b := pattest.Start(t, cfg)

	for _, tc := range []struct {
		name   string
		revoke func(user, id string)
	}{
		{"delete", func(user, id string) { deleteToken(t, a, user, id) }},
		{"rotate", func(user, id string) {
			a.GraphQL(a.JWT(user), `mutation($id: ID!) { rotatePersonalAccessToken(id: $id) { id } }`, map[string]any{"id": id}).OK(t)
		}},
		{"revoke-all", func(user, _ string) {
			if resp := a.Do(http.MethodPost, "/internal/users/"+user+"/revoke-all", nil, secretHeader); resp.Status != http.StatusOK {
				t.Fatalf("revoke-all: %s", resp)
			}
		}},
	} {
		user := "user-" + tc.name
		id, secret := createToken(t, a, user, "ci", nil)
		if resp, _ := validate(t, b, secret); resp.Status != http.StatusOK {
			t.Fatalf("%s: B before: %s", tc.name, resp)
		}
		tc.revoke(user, id)
		pattest.Eventually(t, time.Second, func() (bool, string) {
			return refused(t, b, secret), tc.name + ": B still accepts the token revoked on A"
		})
	}
}

// The broadcast is missed when a token vanishes without one (here: deleted
// behind patd's back); the cache TTL bounds how long the stale answer lives.
func TestMissedRevocationEndsWithCacheTTL(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = 700 * time.Millisecond
	r := pattest.Start(t, cfg)
	_, secret := createToken(t, r, "user-1", "ci", nil)
	if resp, _ := validate(t, r, secret); resp.Status != http.StatusOK {
		t.Fatal(resp)
	}
	deleteBehindPatdsBack(t, cfg.DatabaseURL)
	if resp, _ := validate(t, r, secret); resp.Status != http.StatusOK {
		t.Fatalf("within the TTL the cached answer stands (no broadcast was sent): %s", resp)
	}
	time.Sleep(cfg.CacheTTL + 100*time.Millisecond)
	if resp, a := validate(t, r, secret); resp.Status != http.StatusUnauthorized || a.Code != "NOT_FOUND" {
		t.Fatalf("after the TTL: want 401 NOT_FOUND, got %s", resp)
	}
}

func deleteBehindPatdsBack(t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DELETE FROM personal_access_tokens"); err != nil {
		t.Fatal(err)
	}
}

// A replica whose listening connection broke may have missed revocations: it
// clears its cache when it listens again, long before the TTL.
func TestListenerReconnectClearsCache(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour
	a := pattest.Start(t, cfg)

	proxy := pattest.NewProxy(t, "127.0.0.1:5432")
	cfgB := *cfg
	cfgB.DatabaseURL = proxy.Rewrite(cfg.DatabaseURL)
	b := pattest.Start(t, &cfgB)

	id, secret := createToken(t, a, "user-1", "ci", nil)
	looked := time.Now()
	if resp, _ := validate(t, b, secret); resp.Status != http.StatusOK {
		t.Fatal(resp)
	}
	proxy.Cut()
	deleteToken(t, a, "user-1", id) // B cannot hear this
	// Cut off, B serves its cached answer for a second from its lookup.
	if resp, _ := validate(t, b, secret); resp.Status != http.StatusOK && time.Since(looked) < 900*time.Millisecond {
		t.Fatalf("B, cut off, still serves its recent cached answer: %s", resp)
	}
	proxy.Restore()
	pattest.Eventually(t, 15*time.Second, func() (bool, string) {
		return refused(t, b, secret), "B reconnected but still accepts the deleted token"
	})
}

func TestValidateWhileDatabaseDown(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour
	proxy := pattest.NewProxy(t, "127.0.0.1:5432")
	cfg.DatabaseURL = proxy.Rewrite(cfg.DatabaseURL)
	r := pattest.Start(t, cfg)
	_, cached := createToken(t, r, "user-1", "cached", nil)
	_, uncached := createToken(t, r, "user-1", "uncached", nil)
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

func TestLastUsedAtWrittenInBatches(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	id1, s1 := createToken(t, r, "user-1", "one", nil)
	id2, s2 := createToken(t, r, "user-1", "two", nil)
	before := time.Now().Add(-time.Second)
	for i := 0; i < 5; i++ {
		validate(t, r, s1)
		validate(t, r, s2)
	}
	if got := lastUsed(t, r, "user-1"); got[id1] != nil || got[id2] != nil {
		t.Fatalf("lastUsedAt written on the request path: %v", got)
	}
	writes := r.Queries("SET last_used_at")
	if err := r.Server.Validator.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := r.Queries("SET last_used_at") - writes; n != 1 {
		t.Errorf("one flush of two tokens sent %d statements, want 1", n)
	}
	got := lastUsed(t, r, "user-1")
	for _, id := range []string{id1, id2} {
		if got[id] == nil || got[id].Before(before) || got[id].After(time.Now()) {
			t.Errorf("token %s: lastUsedAt %v", id, got[id])
		}
	}
	// Within the minute, further uses are not written again.
	validate(t, r, s1)
	writes = r.Queries("SET last_used_at")
	if err := r.Server.Validator.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := r.Queries("SET last_used_at") - writes; n != 0 {
		t.Errorf("a token used again within the minute was written again")
	}
}

func TestShutdownFlushesLastUsedAt(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	r := pattest.Start(t, cfg)
	id, secret := createToken(t, r, "user-1", "one", nil)
	validate(t, r, secret)
	r.Stop()
	r2 := pattest.Start(t, cfg)
	if got := lastUsed(t, r2, "user-1"); got[id] == nil {
		t.Error("lastUsedAt not written at shutdown")
	}
}

func lastUsed(t *testing.T, r *pattest.Replica, user string) map[string]*time.Time {
	t.Helper()
	var out struct {
		L struct {
			Data []struct {
				ID         string     `json:"id"`
				LastUsedAt *time.Time `json:"lastUsedAt"`
			} `json:"data"`
		} `json:"personalAccessTokens"`
	}
	r.GraphQL(r.JWT(user), `{ personalAccessTokens { data { id lastUsedAt } } }`, nil).OK(t).Decode(t, &out)
	m := map[string]*time.Time{}
	for _, d := range out.L.Data {
		m[d.ID] = d.LastUsedAt
	}
	return m
}

// A revocation that lands while a replica is looking the token up must not
// leave the answer read before it in the cache.
func TestRevocationDuringLookupIsNotCached(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour
	a, b := pattest.Start(t, cfg), pattest.Start(t, cfg)
	id, secret := createToken(t, a, "user-1", "ci", nil)
	b.DelayAfter("token_hash =", 500*time.Millisecond)

	done := make(chan struct{})
	go func() {
		defer close(done)
		// Reads the row, then pauses before caching while A deletes it.
		_, _ = b.Server.Validator.Validate(context.Background(), secret)
	}()
	time.Sleep(200 * time.Millisecond)
	deleteToken(t, a, "user-1", id)
	<-done
	b.DelayAfter("token_hash =", 0)
	pattest.Eventually(t, time.Second, func() (bool, string) {
		return refused(t, b, secret), "B cached the answer it read before the revocation"
	})
}
