package httpapi_test

// The platform's clients, as their public code builds their requests today
// (see the README's "Clients" section): each test sends exactly what one
// client sends and asserts on the fields that client reads.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/token"
)

// fakeAuthService stands in for the auth service's GET /organizations/{id}:
// org-1 has the member user-1; org-down answers 500; org-slow never answers;
// any other organization is 404 (the auth service's "not a member").
type fakeAuthService struct {
	*httptest.Server
	calls atomic.Int32
	// authz is the last Authorization header received.
	mu    sync.Mutex
	authz string
}

func startAuthService(t *testing.T) *fakeAuthService {
	t.Helper()
	a := &fakeAuthService{}
	release := make(chan struct{})
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		a.mu.Lock()
		a.authz = r.Header.Get("Authorization")
		a.mu.Unlock()
		var c struct {
			UserID string `json:"userId"`
			jwt.RegisteredClaims
		}
		_, _, _ = jwt.NewParser().ParseUnverified(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), &c)
		switch {
		case r.URL.Path == "/organizations/org-down":
			w.WriteHeader(http.StatusInternalServerError)
		case r.URL.Path == "/organizations/org-slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case r.URL.Path == "/organizations/org-1" && c.UserID == "user-1":
			_, _ = w.Write([]byte(`{"organization":{"id":"org-1"}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"Organization not found or access denied"}`))
		}
	}))
	t.Cleanup(func() { close(release); a.Close() })
	return a
}

func (a *fakeAuthService) lastAuthorization() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.authz
}

// clientsReplica is a replica whose auth service is a, with the web app at
// https://app.example.
func clientsReplica(t *testing.T, a *fakeAuthService, mods ...func(*config.Config)) *pattest.Replica {
	t.Helper()
	cfg := pattest.Config(t)
	if a != nil {
		cfg.AuthServiceURL = a.URL
	}
	cfg.AppURL = "https://app.example"
	for _, m := range mods {
		m(cfg)
	}
	return pattest.Start(t, cfg)
}

// backendServiceJWT is the JWT the backend signs to call /tokens for a user
// (service-cloud-api src/resolvers/auth.ts generateServiceToken).
func backendServiceJWT(t *testing.T, r *pattest.Replica, userID string) string {
	t.Helper()
	now := time.Now()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"userId": userID, "sessionId": "cloud-api", "type": "access",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"iss": "alternatefutures-auth", "aud": "alternatefutures-app",
	}).SignedString(r.Config.JWTSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sdkAccessJWT is the JWT the backend mints from a PAT for the SDK
// (loginWithPersonalAccessToken): no issuer, no audience, 8 minutes.
func sdkAccessJWT(t *testing.T, secret []byte, userID string) string {
	t.Helper()
	now := time.Now()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"userId": userID, "projectId": "proj-1", "type": "sdk-access",
		"iat": now.Unix(), "exp": now.Add(8 * time.Minute).Unix(),
	}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type validateAnswer struct {
	Valid          bool    `json:"valid"`
	UserID         string  `json:"userId"`
	TokenID        string  `json:"tokenId"`
	OrganizationID *string `json:"organizationId"`
	Code           string  `json:"code"`
}

// backendValidate is the backend's PAT introspection (src/auth/middleware.ts).
func backendValidate(t *testing.T, r *pattest.Replica, tok string) (int, validateAnswer, map[string]any) {
	t.Helper()
	resp := r.Do(http.MethodPost, "/tokens/validate", map[string]string{"token": tok},
		"Content-Type: application/json", "x-af-introspection-secret: "+pattest.ServiceSecret)
	var a validateAnswer
	var raw map[string]any
	resp.JSON(t, &a)
	resp.JSON(t, &raw)
	return resp.Status, a, raw
}

func TestBackendValidatesAsItDoesToday(t *testing.T) {
	t.Parallel()
	a := startAuthService(t)
	r := clientsReplica(t, a)
	personal := createVia(t, r, r.JWT("user-1"), map[string]any{"name": "laptop"})
	org := createVia(t, r, r.JWT("user-1"), map[string]any{"name": "deploys", "organizationId": "org-1"})

	status, ans, raw := backendValidate(t, r, personal.Token)
	if status != http.StatusOK || !ans.Valid || ans.UserID != "user-1" || ans.TokenID != personal.ID || ans.OrganizationID != nil {
		t.Errorf("personal token: %d %+v", status, ans)
	}
	if v, ok := raw["organizationId"]; !ok || v != nil {
		t.Errorf("a VALID answer must carry organizationId, null for a personal token: %v", raw)
	}
	status, ans, _ = backendValidate(t, r, org.Token)
	if status != http.StatusOK || ans.OrganizationID == nil || *ans.OrganizationID != "org-1" {
		t.Errorf("organization token: %d %+v", status, ans)
	}
	// The backend caches 401 as "invalid token"; anything else fails closed.
	status, ans, _ = backendValidate(t, r, "af_live_"+strings.Repeat("x", 32))
	if status != http.StatusUnauthorized || ans.Valid {
		t.Errorf("unknown token: %d %+v", status, ans)
	}
}

type internalCreated struct {
	Success        bool    `json:"success"`
	Token          string  `json:"token"`
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	OrganizationID *string `json:"organizationId"`
	Error          string  `json:"error"`
	Code           string  `json:"code"`
}

// internalCreate is the deploy pipeline's call (platformEnvClient.ts).
func internalCreate(t *testing.T, r *pattest.Replica, path string, body any, secret string) (pattest.Response, internalCreated) {
	t.Helper()
	resp := r.Do(http.MethodPost, path, body, "Content-Type: application/json", "x-af-introspection-secret: "+secret)
	var out internalCreated
	resp.JSON(t, &out) // the pipeline parses every answer as JSON
	return resp, out
}

func TestDeployPipelineInternalCreate(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil, func(c *config.Config) { c.MaxActive = 2 })
	body := map[string]any{"userId": "user-9", "organizationId": "org-7", "name": "auto: Postgres (my-app-1)"}
	for _, path := range []string{"/tokens/internal/create", "/api/tokens/internal/create"} {
		resp, c := internalCreate(t, r, path, body, pattest.ServiceSecret)
		if resp.Status != http.StatusCreated || !c.Success || c.Token == "" || c.ID == "" ||
			c.Name != "auto: Postgres (my-app-1)" || c.OrganizationID == nil || *c.OrganizationID != "org-7" {
			t.Fatalf("%s: %s", path, resp)
		}
		status, ans, _ := backendValidate(t, r, c.Token)
		if status != http.StatusOK || ans.UserID != "user-9" || ans.OrganizationID == nil || *ans.OrganizationID != "org-7" {
			t.Errorf("the minted token: %d %+v", status, ans)
		}
	}
	// Max active is 2 and both are used: the pipeline treats it as 429.
	resp, c := internalCreate(t, r, "/tokens/internal/create", body, pattest.ServiceSecret)
	if resp.Status != http.StatusTooManyRequests || c.Code != "MAX_TOKENS_EXCEEDED" || c.Error == "" {
		t.Errorf("over max active: %s", resp)
	}
	for name, tt := range map[string]struct {
		body   any
		secret string
		status int
		code   string
	}{
		"wrong secret":     {body, "nope", http.StatusForbidden, "INVALID_SERVICE_CREDENTIALS"},
		"no user":          {map[string]any{"organizationId": "o", "name": "n"}, pattest.ServiceSecret, http.StatusBadRequest, "VALIDATION_ERROR"},
		"no name":          {map[string]any{"userId": "u", "organizationId": "o"}, pattest.ServiceSecret, http.StatusBadRequest, "INVALID_TOKEN_NAME"},
		"markup in name":   {map[string]any{"userId": "u", "name": "<b>x</b>"}, pattest.ServiceSecret, http.StatusBadRequest, "INVALID_TOKEN_NAME"},
		"past expiry":      {map[string]any{"userId": "u", "name": "n", "expiresAt": time.Now().Add(-time.Hour).UnixMilli()}, pattest.ServiceSecret, http.StatusBadRequest, "INVALID_EXPIRATION"},
		"not JSON":         {"name=x", pattest.ServiceSecret, http.StatusBadRequest, "VALIDATION_ERROR"},
		"organization id ": {map[string]any{"userId": "u", "name": "n", "organizationId": "../admin"}, pattest.ServiceSecret, http.StatusBadRequest, "VALIDATION_ERROR"},
	} {
		resp, c := internalCreate(t, r, "/tokens/internal/create", tt.body, tt.secret)
		if resp.Status != tt.status || c.Code != tt.code || c.Error == "" {
			t.Errorf("%s: want %d %s, got %s", name, tt.status, tt.code, resp)
		}
	}
}

func TestDeployPipelineCountsAgainstTheQuota(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil, func(c *config.Config) { c.CreateLimit = 1 })
	body := map[string]any{"userId": "user-9", "organizationId": "org-7", "name": "auto: a (b)"}
	if resp, _ := internalCreate(t, r, "/tokens/internal/create", body, pattest.ServiceSecret); resp.Status != http.StatusCreated {
		t.Fatal(resp)
	}
	resp, c := internalCreate(t, r, "/tokens/internal/create", body, pattest.ServiceSecret)
	if resp.Status != http.StatusTooManyRequests || c.Code != "RATE_LIMIT_EXCEEDED" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the quota: %s", resp)
	}
}

type createdREST struct {
	Success bool           `json:"success"`
	Token   map[string]any `json:"token"`
	Code    string         `json:"code"`
}

type createdTok struct{ ID, Token string }

// createVia creates a token over REST as the backend does (POST /tokens).
func createVia(t *testing.T, r *pattest.Replica, bearer string, body map[string]any) createdTok {
	t.Helper()
	resp := r.Do(http.MethodPost, "/tokens", body, "Content-Type: application/json", "Authorization: Bearer "+bearer)
	var c createdREST
	resp.JSON(t, &c)
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %s", resp)
	}
	return createdTok{ID: c.Token["id"].(string), Token: c.Token["token"].(string)}
}

func TestBackendManagesTokensWithItsServiceJWT(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil)
	bearer := "Authorization: Bearer " + backendServiceJWT(t, r, "user-1")
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Millisecond)
	resp := r.Do(http.MethodPost, "/tokens", map[string]any{"name": "ci", "expiresAt": exp.UnixMilli()}, "Content-Type: application/json", bearer)
	var c createdREST
	resp.JSON(t, &c)
	if resp.Status != http.StatusCreated || !c.Success {
		t.Fatal(resp)
	}
	// The backend hands data.token to GraphQL as PersonalAccessTokenCreated.
	for _, f := range []string{"id", "name", "token", "expiresAt", "createdAt", "updatedAt"} {
		if s, _ := c.Token[f].(string); s == "" {
			t.Errorf("create answer lacks %s: %s", f, resp.Body)
		}
	}
	if v, ok := c.Token["lastUsedAt"]; !ok || v != nil {
		t.Errorf("create answer: lastUsedAt must be null: %s", resp.Body)
	}
	if got, _ := time.Parse(time.RFC3339, c.Token["expiresAt"].(string)); !got.Equal(exp) {
		t.Errorf("expiresAt from epoch ms: got %v, want %v", c.Token["expiresAt"], exp)
	}

	resp = r.Do(http.MethodGet, "/tokens", nil, bearer)
	var list struct {
		Tokens []map[string]any `json:"tokens"`
	}
	resp.JSON(t, &list)
	if resp.Status != http.StatusOK || len(list.Tokens) != 1 {
		t.Fatal(resp)
	}
	for _, f := range []string{"id", "name", "createdAt", "updatedAt", "expiresAt"} {
		if s, _ := list.Tokens[0][f].(string); s == "" {
			t.Errorf("list lacks %s: %s", f, resp.Body)
		}
	}
	if _, ok := list.Tokens[0]["lastUsedAt"]; !ok {
		t.Errorf("list lacks lastUsedAt: %s", resp.Body)
	}

	resp = r.Do(http.MethodGet, "/tokens/limits", nil, bearer)
	var lim struct {
		RateLimit  struct{ Remaining, Limit int } `json:"rateLimit"`
		TokenLimit struct{ Active, Max int }      `json:"tokenLimit"`
	}
	resp.JSON(t, &lim)
	if resp.Status != http.StatusOK || lim.RateLimit.Limit == 0 || lim.TokenLimit.Active != 1 || lim.TokenLimit.Max == 0 {
		t.Errorf("limits: %s", resp)
	}

	id := c.Token["id"].(string)
	resp = r.Do(http.MethodDelete, "/tokens/"+id, nil, "Content-Type: application/json", bearer)
	var del struct{ Success bool }
	resp.JSON(t, &del)
	if resp.Status != http.StatusOK || !del.Success {
		t.Errorf("delete: %s", resp)
	}
	if resp := r.Do(http.MethodDelete, "/tokens/"+id, nil, bearer); resp.Status != http.StatusNotFound {
		t.Errorf("delete again: %s", resp)
	}
}

func TestCLIListsAndDeletesWithItsPAT(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil)
	c := createVia(t, r, r.JWT("user-1"), map[string]any{"name": "cli"})
	other := createVia(t, r, r.JWT("user-1"), map[string]any{"name": "other"})
	// authFetch in the CLI: Bearer PAT and a JSON content type on every call.
	pat := "Authorization: Bearer " + c.Token
	resp := r.Do(http.MethodGet, "/tokens", nil, pat, "Content-Type: application/json")
	var list struct {
		Tokens []struct {
			ID, Name, CreatedAt string
			LastUsedAt          *string
		} `json:"tokens"`
	}
	resp.JSON(t, &list)
	if resp.Status != http.StatusOK || len(list.Tokens) != 2 || list.Tokens[0].CreatedAt == "" {
		t.Fatalf("pat list: %s", resp)
	}
	if resp := r.Do(http.MethodDelete, "/tokens/"+other.ID, nil, pat, "Content-Type: application/json"); resp.Status != http.StatusOK {
		t.Errorf("pat delete: %s", resp)
	}
	resp = r.Do(http.MethodDelete, "/tokens/"+other.ID, nil, pat, "Content-Type: application/json")
	var e struct{ Error string }
	resp.JSON(t, &e)
	if resp.Status != http.StatusNotFound || e.Error == "" {
		t.Errorf("pat delete of a deleted token: the CLI prints body.error: %s", resp)
	}
}

func TestCLIEmailLoginGetsAPAT(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil)
	// loginEmail.ts: the session JWT from /auth/email/verify, and a dated name.
	name := "CLI Token - " + time.Now().UTC().Format("2006-01-02")
	resp := r.Do(http.MethodPost, "/auth/pat/create", map[string]any{"name": name},
		"Content-Type: application/json", "Authorization: Bearer "+r.JWT("user-1"))
	var out struct {
		Success        bool
		Token, ID      string
		Name           string
		ExpiresAt      *string
		OrganizationID *string
	}
	resp.JSON(t, &out)
	if resp.Status != http.StatusCreated || !out.Success || out.Name != name || out.ExpiresAt == nil {
		t.Fatal(resp)
	}
	if status, ans, _ := backendValidate(t, r, out.Token); status != http.StatusOK || ans.UserID != "user-1" {
		t.Errorf("the CLI's token does not validate: %d %+v", status, ans)
	}
	// Defaults: "CLI Token", 30 days.
	resp = r.Do(http.MethodPost, "/auth/pat/create", nil, "Authorization: Bearer "+r.JWT("user-1"))
	resp.JSON(t, &out)
	exp, _ := time.Parse(time.RFC3339, deref(out.ExpiresAt))
	if resp.Status != http.StatusCreated || out.Name != "CLI Token" || exp.Sub(time.Now()) < 29*24*time.Hour || exp.Sub(time.Now()) > 31*24*time.Hour {
		t.Errorf("defaults: %s", resp)
	}
	// Neither a PAT nor an sdk-access JWT may mint a token.
	for what, bearer := range map[string]string{"PAT": out.Token, "sdk-access JWT": sdkAccessJWT(t, r.Config.JWTSecret, "user-1")} {
		resp = r.Do(http.MethodPost, "/auth/pat/create", map[string]any{"name": "x"}, "Authorization: Bearer "+bearer)
		if resp.Status != http.StatusForbidden || !strings.Contains(string(resp.Body), `"code":"FORBIDDEN"`) {
			t.Errorf("%s creates: %s", what, resp)
		}
	}
	if resp := r.Do(http.MethodPost, "/auth/pat/create", nil); resp.Status != http.StatusUnauthorized {
		t.Errorf("no credentials: %s", resp)
	}
}

type startAnswer struct {
	Success               bool
	VerificationSessionID string `json:"verificationSessionId"`
	PollSecret            string
	VerificationURL       string `json:"verificationUrl"`
	ExpiresIn             int
}

// cliStart is `af login`'s first request.
func cliStart(t *testing.T, r *pattest.Replica) startAnswer {
	t.Helper()
	resp := r.Do(http.MethodPost, "/auth/cli/start", map[string]any{"name": "CLI Login"}, "Content-Type: application/json")
	var s startAnswer
	resp.JSON(t, &s)
	if resp.Status != http.StatusOK || !s.Success || s.VerificationSessionID == "" || s.PollSecret == "" || s.ExpiresIn != 600 {
		t.Fatalf("start: %s", resp)
	}
	return s
}

type pollAnswer struct {
	Status  string `json:"status"`
	Success bool   `json:"success"`
	Token   string `json:"token"`
	Error   string `json:"error"`
	Code    string `json:"code"`
}

// cliPoll is `af login`'s poll.
func cliPoll(t *testing.T, r *pattest.Replica, id, secret string) (pattest.Response, pollAnswer) {
	t.Helper()
	resp := r.Do(http.MethodPost, "/auth/cli/poll", map[string]any{"verificationSessionId": id, "pollSecret": secret},
		"Content-Type: application/json")
	var p pollAnswer
	resp.JSON(t, &p)
	return resp, p
}

func approve(t *testing.T, r *pattest.Replica, bearer string, body map[string]any) pattest.Response {
	t.Helper()
	return r.Do(http.MethodPost, "/auth/cli/approve", body, "Content-Type: application/json", "Authorization: Bearer "+bearer)
}

func TestCLIPairing(t *testing.T) {
	t.Parallel()
	a := startAuthService(t)
	r := clientsReplica(t, a)
	s := cliStart(t, r)
	if s.VerificationURL != "https://app.example/login/"+s.VerificationSessionID {
		t.Errorf("verificationUrl %q", s.VerificationURL)
	}
	if resp, p := cliPoll(t, r, s.VerificationSessionID, s.PollSecret); resp.Status != http.StatusAccepted || p.Status != "pending" {
		t.Fatalf("before approval: %s", resp)
	}
	// The web app approves with the user's session JWT, for an organization.
	userJWT := r.JWT("user-1")
	if resp := approve(t, r, userJWT, map[string]any{"verificationSessionId": s.VerificationSessionID, "organizationId": "org-1"}); resp.Status != http.StatusOK {
		t.Fatalf("approve: %s", resp)
	}
	if got := a.lastAuthorization(); got != "Bearer "+userJWT {
		t.Errorf("membership asked with %q, want the approving user's own header", got)
	}
	resp, p := cliPoll(t, r, s.VerificationSessionID, s.PollSecret)
	if resp.Status != http.StatusOK || !p.Success || p.Token == "" {
		t.Fatalf("after approval: %s", resp)
	}
	status, ans, _ := backendValidate(t, r, p.Token)
	if status != http.StatusOK || ans.UserID != "user-1" || ans.OrganizationID == nil || *ans.OrganizationID != "org-1" {
		t.Errorf("the CLI's token: %d %+v", status, ans)
	}
	// The token is handed out once: af login stops at a body with "error".
	if resp, p := cliPoll(t, r, s.VerificationSessionID, s.PollSecret); resp.Status != http.StatusNotFound || p.Error == "" || p.Token != "" {
		t.Errorf("second poll: %s", resp)
	}
	// Nothing secret is stored: the session is gone and no row holds the
	// poll secret or the token.
	conn, err := pgx.Connect(context.Background(), r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM cli_login_sessions`).Scan(&n); err != nil || n != 0 {
		t.Errorf("sessions left after the token was handed out: %d, %v", n, err)
	}
}

func TestWebAppApprovesThroughGraphQL(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil)
	s := cliStart(t, r)
	const m = `mutation($id: ID!, $name: String) { approveCliLogin(verificationSessionId: $id, name: $name) }`
	var out struct{ ApproveCliLogin bool }
	r.GraphQL(t, r.JWT("user-2"), m, map[string]any{"id": s.VerificationSessionID, "name": "my laptop"}).OK(t).Decode(t, &out)
	if !out.ApproveCliLogin {
		t.Fatal("approveCliLogin returned false")
	}
	// Approving twice is fine; someone else approving is not.
	r.GraphQL(t, r.JWT("user-2"), m, map[string]any{"id": s.VerificationSessionID}).OK(t)
	if code := r.GraphQL(t, r.JWT("user-3"), m, map[string]any{"id": s.VerificationSessionID}).Code(t); code != "NOT_FOUND" {
		t.Errorf("another user approving an approved session: %s", code)
	}
	_, p := cliPoll(t, r, s.VerificationSessionID, s.PollSecret)
	var list struct {
		PersonalAccessTokens struct{ Data []struct{ Name string } }
	}
	r.GraphQL(t, r.JWT("user-2"), `{ personalAccessTokens { data { name } } }`, nil).OK(t).Decode(t, &list)
	if p.Token == "" || len(list.PersonalAccessTokens.Data) != 1 || list.PersonalAccessTokens.Data[0].Name != "my laptop" {
		t.Errorf("poll %+v, tokens %+v", p, list)
	}
	// A PAT cannot approve: a leaked token must not mint more.
	s2 := cliStart(t, r)
	if code := r.GraphQL(t, p.Token, m, map[string]any{"id": s2.VerificationSessionID}).Code(t); code != "FORBIDDEN" {
		t.Errorf("PAT approving: %s", code)
	}
	if code := r.GraphQL(t, "", m, map[string]any{"id": s2.VerificationSessionID}).Code(t); code != "UNAUTHENTICATED" {
		t.Errorf("anonymous approving: %s", code)
	}
}

func TestCLIPairingErrors(t *testing.T) {
	t.Parallel()
	a := startAuthService(t)
	r := clientsReplica(t, a)
	user := r.JWT("user-1")
	s := cliStart(t, r)

	if resp, p := cliPoll(t, r, "unknown-session-id-0000000000000", s.PollSecret); resp.Status != http.StatusNotFound || p.Error == "" {
		t.Errorf("unknown session: %s", resp)
	}
	if resp, p := cliPoll(t, r, s.VerificationSessionID, s.PollSecret+"x"); resp.Status != http.StatusUnauthorized || p.Error == "" {
		t.Errorf("wrong poll secret: %s", resp)
	}
	if resp := approve(t, r, user, map[string]any{"verificationSessionId": "unknown"}); resp.Status != http.StatusNotFound {
		t.Errorf("approving an unknown session: %s", resp)
	}
	// A refused approval leaves the session pending.
	for org, want := range map[string]string{"org-2": `"code":"NOT_ORG_MEMBER"`, "org-down": `"code":"UNAVAILABLE"`} {
		resp := approve(t, r, user, map[string]any{"verificationSessionId": s.VerificationSessionID, "organizationId": org})
		if !strings.Contains(string(resp.Body), want) {
			t.Errorf("approving for %s: %s", org, resp)
		}
	}
	if resp := approve(t, r, user, map[string]any{"verificationSessionId": s.VerificationSessionID, "name": "<script>"}); resp.Status != http.StatusBadRequest {
		t.Errorf("approving with a bad name: %s", resp)
	}
	if resp, _ := cliPoll(t, r, s.VerificationSessionID, s.PollSecret); resp.Status != http.StatusAccepted {
		t.Errorf("after refused approvals: %s", resp)
	}

	// Ten minutes later the session has expired, for the CLI and the web app.
	conn, err := pgx.Connect(context.Background(), r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE cli_login_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, s.VerificationSessionID); err != nil {
		t.Fatal(err)
	}
	if resp, p := cliPoll(t, r, s.VerificationSessionID, s.PollSecret); resp.Status != http.StatusBadRequest || p.Error == "" {
		t.Errorf("expired session: %s", resp)
	}
	if resp := approve(t, r, user, map[string]any{"verificationSessionId": s.VerificationSessionID}); resp.Status != http.StatusBadRequest {
		t.Errorf("approving an expired session: %s", resp)
	}
	// The cleanup job removes it.
	if _, _, err := r.Server.Maintenance.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp, _ := cliPoll(t, r, s.VerificationSessionID, s.PollSecret); resp.Status != http.StatusNotFound {
		t.Errorf("after cleanup: %s", resp)
	}
	// Bodies that are not what the routes take.
	for _, path := range []string{"/auth/cli/start", "/auth/cli/poll"} {
		resp := r.Do(http.MethodPost, path, "{not json", "Content-Type: application/json")
		if resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), `"error"`) {
			t.Errorf("%s with a broken body: %s", path, resp)
		}
	}
}

func TestCLIPollsAreLimitedPerSession(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil)
	s := cliStart(t, r)
	limited := 0
	for range 70 {
		if resp, _ := cliPoll(t, r, s.VerificationSessionID, s.PollSecret); resp.Status == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatalf("429 without Retry-After: %s", resp)
			}
		}
	}
	if limited == 0 {
		t.Error("70 polls in a row were never limited")
	}
	// Another session is not affected.
	s2 := cliStart(t, r)
	if resp, _ := cliPoll(t, r, s2.VerificationSessionID, s2.PollSecret); resp.Status != http.StatusAccepted {
		t.Errorf("another session's poll: %s", resp)
	}
}

func TestRacingPollsGetOneToken(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil)
	s := cliStart(t, r)
	if resp := approve(t, r, r.JWT("user-1"), map[string]any{"verificationSessionId": s.VerificationSessionID}); resp.Status != http.StatusOK {
		t.Fatal(resp)
	}
	const n = 12
	var wg sync.WaitGroup
	results := make(chan pollAnswer, n)
	statuses := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, p := cliPoll(t, r, s.VerificationSessionID, s.PollSecret)
			results <- p
			statuses <- resp.Status
		}()
	}
	wg.Wait()
	close(results)
	close(statuses)
	tokens := 0
	for p := range results {
		if p.Token != "" {
			tokens++
		}
	}
	for st := range statuses {
		if st != http.StatusOK && st != http.StatusNotFound {
			t.Errorf("racing poll answered %d", st)
		}
	}
	if tokens != 1 {
		t.Errorf("%d racing polls got %d tokens, want exactly 1", n, tokens)
	}
	var lim struct {
		RateLimit  struct{ Remaining, Limit int } `json:"rateLimit"`
		TokenLimit struct{ Active int }           `json:"tokenLimit"`
	}
	r.Do(http.MethodGet, "/tokens/limits", nil, "Authorization: Bearer "+r.JWT("user-1")).JSON(t, &lim)
	if lim.TokenLimit.Active != 1 || lim.RateLimit.Limit-lim.RateLimit.Remaining != 1 {
		t.Errorf("after the race: %+v; want one token and one quota slot used", lim)
	}
}

// sdkRequest sends a GraphQL operation as the SDK's graphqlFetcher does: a
// multipart form with "operations" and an empty "map", Accept JSON, and the
// fetch-chosen multipart content type.
func sdkRequest(t *testing.T, r *pattest.Replica, bearer string, op map[string]any) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	ops, _ := json.Marshal(op)
	_ = mw.WriteField("operations", string(ops))
	_ = mw.WriteField("map", "{}")
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, r.URL+"/graphql", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Client-Type", "sdk")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestSDKListsAndDeletesOverMultipart(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil)
	c := createVia(t, r, r.JWT("user-1"), map[string]any{"name": "mobile"})
	sdk := sdkAccessJWT(t, r.Config.JWTSecret, "user-1")

	status, body := sdkRequest(t, r, sdk, map[string]any{
		"query":         "query GetPersonalAccessTokens{personalAccessTokens{data{id,createdAt,name,maskedToken}}}",
		"variables":     map[string]any{},
		"operationName": "GetPersonalAccessTokens",
	})
	var list struct {
		Data struct {
			PersonalAccessTokens struct {
				Data []struct{ ID, CreatedAt, Name, MaskedToken string }
			}
		}
		Errors []any
	}
	if err := json.Unmarshal(body, &list); err != nil || status != http.StatusOK || len(list.Errors) > 0 {
		t.Fatalf("list: %d %s", status, body)
	}
	got := list.Data.PersonalAccessTokens.Data
	if len(got) != 1 || got[0].ID != c.ID || got[0].Name != "mobile" || got[0].CreatedAt == "" || !strings.HasSuffix(got[0].MaskedToken, "…") {
		t.Errorf("list: %s", body)
	}

	status, body = sdkRequest(t, r, sdk, map[string]any{
		"query": "mutation DeletePersonalAccessToken($v1:ID!){deletePersonalAccessToken(id:$v1)}", "variables": map[string]any{"v1": c.ID},
	})
	if status != http.StatusOK || !strings.Contains(string(body), `"deletePersonalAccessToken":true`) {
		t.Errorf("delete: %d %s", status, body)
	}
	// An sdk-access JWT stands for a PAT: it cannot create.
	_, body = sdkRequest(t, r, sdk, map[string]any{"query": `mutation{createPersonalAccessToken(name:"x"){id}}`})
	if !strings.Contains(string(body), `"FORBIDDEN"`) {
		t.Errorf("sdk-access create: %s", body)
	}
	// Signed with another secret, or of another type: refused.
	for what, bad := range map[string]string{
		"other secret": sdkAccessJWT(t, []byte("another-secret-another-secret-xx"), "user-1"),
		"other type": func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"userId": "user-1", "type": "refresh", "exp": time.Now().Add(time.Minute).Unix()}).SignedString(r.Config.JWTSecret)
			return s
		}(),
	} {
		_, body = sdkRequest(t, r, bad, map[string]any{"query": "{personalAccessTokens{data{id}}}"})
		if !strings.Contains(string(body), `"UNAUTHENTICATED"`) {
			t.Errorf("%s: %s", what, body)
		}
	}
}

func TestOrganizationTokens(t *testing.T) {
	t.Parallel()
	a := startAuthService(t)
	r := clientsReplica(t, a)
	user := r.JWT("user-1")
	const create = `mutation($org: ID) { createPersonalAccessToken(name: "deploys", organizationId: $org) { id organizationId token } }`
	var out struct {
		C struct {
			ID, Token      string
			OrganizationID *string
		} `json:"createPersonalAccessToken"`
	}
	r.GraphQL(t, user, create, map[string]any{"org": "org-1"}).OK(t).Decode(t, &out)
	if out.C.OrganizationID == nil || *out.C.OrganizationID != "org-1" {
		t.Fatalf("created: %+v", out)
	}
	personal := createVia(t, r, user, map[string]any{"name": "mine"})

	var list struct {
		PersonalAccessTokens struct {
			Data []struct {
				ID             string
				OrganizationID *string
			}
		}
	}
	r.GraphQL(t, user, `{ personalAccessTokens { data { id organizationId } } }`, nil).OK(t).Decode(t, &list)
	if d := list.PersonalAccessTokens.Data; len(d) != 2 || d[0].OrganizationID != nil || d[1].OrganizationID == nil {
		t.Errorf("list: %+v", d)
	}
	var ent struct {
		Entities []struct{ OrganizationID *string } `json:"_entities"`
	}
	r.GraphQL(t, user, `query($r: [_Any!]!) { _entities(representations: $r) { ... on PersonalAccessToken { organizationId } } }`,
		map[string]any{"r": []any{map[string]any{"__typename": "PersonalAccessToken", "id": out.C.ID}}}).OK(t).Decode(t, &ent)
	if len(ent.Entities) != 1 || ent.Entities[0].OrganizationID == nil || *ent.Entities[0].OrganizationID != "org-1" {
		t.Errorf("_entities: %+v", ent)
	}
	resp := r.Do(http.MethodGet, "/tokens", nil, "Authorization: Bearer "+user)
	if !strings.Contains(string(resp.Body), `"organizationId":"org-1"`) || !strings.Contains(string(resp.Body), `"organizationId":null`) {
		t.Errorf("REST list: %s", resp)
	}

	// The auth service calls revoke-all for one organization when a member leaves.
	resp = r.Do(http.MethodPost, "/internal/users/user-1/revoke-all?organizationId=org-1", nil, "Authorization: Bearer "+pattest.ServiceSecret)
	if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"deleted":1`) {
		t.Fatalf("revoke-all for org-1: %s", resp)
	}
	if status, _, _ := backendValidate(t, r, out.C.Token); status != http.StatusUnauthorized {
		t.Errorf("the organization token still validates: %d", status)
	}
	if status, _, _ := backendValidate(t, r, personal.Token); status != http.StatusOK {
		t.Errorf("the personal token was revoked too: %d", status)
	}
}

func TestOrganizationMembershipRefusals(t *testing.T) {
	t.Parallel()
	a := startAuthService(t)
	r := clientsReplica(t, a)
	noAuthService := clientsReplica(t, nil)
	user := r.JWT("user-1")
	const create = `mutation($org: ID) { createPersonalAccessToken(name: "x", organizationId: $org) { id } }`
	remaining := func(r *pattest.Replica) int {
		var l struct {
			APIKeyRateLimit struct{ Remaining, ActiveTokens int } `json:"apiKeyRateLimit"`
		}
		r.GraphQL(t, r.JWT("user-1"), `{ apiKeyRateLimit { remaining activeTokens } }`, nil).OK(t).Decode(t, &l)
		if l.APIKeyRateLimit.ActiveTokens != 0 {
			t.Errorf("a refused create stored a token")
		}
		return l.APIKeyRateLimit.Remaining
	}
	before := remaining(r)
	for _, tt := range []struct {
		r            *pattest.Replica
		org          string
		code, reason string
		restStatus   int
		restCode     string
	}{
		{r, "org-2", "FORBIDDEN", "NOT_ORG_MEMBER", http.StatusForbidden, "NOT_ORG_MEMBER"},
		{r, "org-down", "UNAVAILABLE", "", http.StatusServiceUnavailable, "UNAVAILABLE"},
		{r, "org-slow", "UNAVAILABLE", "", http.StatusServiceUnavailable, "UNAVAILABLE"},
		{noAuthService, "org-1", "UNAVAILABLE", "", http.StatusServiceUnavailable, "UNAVAILABLE"},
	} {
		res := tt.r.GraphQL(t, tt.r.JWT("user-1"), create, map[string]any{"org": tt.org})
		if len(res.Errors) != 1 || res.Errors[0].Code() != tt.code || (tt.reason != "" && res.Errors[0].Extensions["reason"] != tt.reason) {
			t.Errorf("GraphQL create for %s: %+v", tt.org, res.Errors)
		}
		resp := tt.r.Do(http.MethodPost, "/tokens", map[string]any{"name": "x", "organizationId": tt.org}, "Authorization: Bearer "+tt.r.JWT("user-1"))
		if resp.Status != tt.restStatus || !strings.Contains(string(resp.Body), fmt.Sprintf(`"code":%q`, tt.restCode)) {
			t.Errorf("REST create for %s: %s", tt.org, resp)
		}
	}
	if after := remaining(r); after != before {
		t.Errorf("refused creates spent quota: %d remaining before, %d after", before, after)
	}
	_ = user
}

func TestEveryAnswerIsJSON(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil)
	for _, tt := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/no/such/route", http.StatusNotFound, "NOT_FOUND"},
		{http.MethodPost, "/auth/unknown", http.StatusNotFound, "NOT_FOUND"},
		{http.MethodDelete, "/validate", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
		{http.MethodPut, "/tokens", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	} {
		resp := r.Do(tt.method, tt.path, nil)
		var e struct{ Error, Code string }
		resp.JSON(t, &e)
		if resp.Status != tt.status || e.Code != tt.code || e.Error == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %s", tt.method, tt.path, resp)
		}
		if tt.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tt.method, tt.path)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// A client address that fails to authenticate too often has its tokens
// refused unchecked (no lookup) until the minute ends; session JWTs, which
// cost no I/O, still work; the failures are counted in /metrics.
func TestFailedAuthenticationsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil, func(c *config.Config) { c.AuthFailureLimit = 5 })
	good := createVia(t, r, r.JWT("user-1"), map[string]any{"name": "good"})
	guess := func(i int) string {
		// A token with a valid checksum: without the limit, each costs a lookup.
		return mintLike(t, fmt.Sprintf("%030d", i))
	}
	for i := range 5 {
		if resp := r.Do(http.MethodGet, "/tokens", nil, "Authorization: Bearer "+guess(i)); resp.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s", i, resp)
		}
	}
	lookups := r.Queries("token_hash =")
	for i := 5; i < 25; i++ {
		resp := r.Do(http.MethodGet, "/tokens", nil, "Authorization: Bearer "+guess(i))
		if resp.Status != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("guess %d over the limit: %s", i, resp)
		}
	}
	if n := r.Queries("token_hash =") - lookups; n != 0 {
		t.Errorf("guesses over the limit cost %d lookups", n)
	}
	// Even a good token waits: it cannot be told from a guess without a lookup.
	if resp := r.Do(http.MethodGet, "/tokens", nil, "Authorization: Bearer "+good.Token); resp.Status != http.StatusTooManyRequests {
		t.Errorf("a PAT from a blocked address: %s", resp)
	}
	if resp := r.Do(http.MethodGet, "/tokens", nil, "Authorization: Bearer "+r.JWT("user-1")); resp.Status != http.StatusOK {
		t.Errorf("a session JWT from a blocked address: %s", resp)
	}
	body := string(r.Do(http.MethodGet, "/metrics", nil).Body)
	for _, want := range []string{`patd_auth_failures_total{outcome="invalid"} 5`, `patd_auth_failures_total{outcome="refused"} 21`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// mintLike returns a token in patd's form, with a valid checksum, whose
// random part is body (30 base62 characters).
func mintLike(t *testing.T, body string) string {
	t.Helper()
	tok := token.WithChecksum("af_live_" + body)
	if token.Classify(tok) != token.Checksummed {
		t.Fatalf("%q is not in patd's form", tok)
	}
	return tok
}

// Whatever /validate accepts authenticates GraphQL and REST too: an imported
// legacy token of any shape, "abc" included.
func TestImportedLegacyTokensAuthenticateEverywhere(t *testing.T) {
	t.Parallel()
	r := clientsReplica(t, nil)
	ctx := context.Background()
	if _, _, err := r.Server.Maintenance.Import(ctx, []legacy.Token{{Line: 2, ID: "old", Name: "old", Secret: "abc", UserID: "user-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Server.Validator.RefreshImported(ctx); err != nil {
		t.Fatal(err)
	}
	if status, ans, _ := backendValidate(t, r, "abc"); status != http.StatusOK || ans.UserID != "user-1" {
		t.Fatalf("validate: %d %+v", status, ans)
	}
	if resp := r.Do(http.MethodGet, "/tokens", nil, "Authorization: Bearer abc"); resp.Status != http.StatusOK {
		t.Errorf("REST with the legacy token: %s", resp)
	}
	var me struct {
		PersonalAccessTokens struct{ TotalCount int }
	}
	r.GraphQL(t, "abc", `{ personalAccessTokens { totalCount } }`, nil).OK(t).Decode(t, &me)
	if me.PersonalAccessTokens.TotalCount != 1 {
		t.Errorf("GraphQL with the legacy token: %+v", me)
	}
}
