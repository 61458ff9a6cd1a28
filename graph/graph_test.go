package graph_test

// Helpers shared by the GraphQL integration tests. Every test starts its own
// replica (pattest.Start) with its own PostgreSQL database. The helpers take
// the calling test's t, not the replica's, so that they can be used from
// parallel subtests. Requests go through the replica: r.GraphQL(t, bearer, …),
// or r.PostGraphQL(authz, …) for a raw Authorization value and from
// goroutines, since it never calls t.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/pattest"
)

var (
	tokenRE  = regexp.MustCompile(`^af_live_[0-9A-Za-z]{36}$`)
	dateRE   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	uuidV7RE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	// secretRE finds anything shaped like a PAT in a response body.
	secretRE = regexp.MustCompile(`af_(live|test)_[0-9A-Za-z]{13,}`)
)

// startReplica starts a replica with a fresh database after applying mods to
// its configuration.
func startReplica(t *testing.T, mods ...func(*config.Config)) *pattest.Replica {
	t.Helper()
	cfg := pattest.Config(t)
	for _, m := range mods {
		m(cfg)
	}
	return pattest.Start(t, cfg)
}

// --- GraphQL answers -----------------------------------------------------------

// ok fails the test unless res has no errors and a 200 status.
func ok(t testing.TB, res pattest.GraphQLResult) pattest.GraphQLResult {
	t.Helper()
	if len(res.Errors) > 0 || res.Status != http.StatusOK {
		t.Fatalf("want success, got status %d errors %+v data %s", res.Status, res.Errors, res.Data)
	}
	return res
}

// decode decodes the data of a successful result into v.
func decode(t testing.TB, res pattest.GraphQLResult, v any) {
	t.Helper()
	ok(t, res)
	if err := json.Unmarshal(res.Data, v); err != nil {
		t.Fatalf("data: %v: %s", err, res.Data)
	}
}

// wantError fails the test unless res has exactly one error, with code, and
// no 5xx status. It returns the error.
func wantError(t testing.TB, res pattest.GraphQLResult, code string) pattest.GraphQLError {
	t.Helper()
	if len(res.Errors) != 1 {
		t.Fatalf("want exactly one %s error, got status %d errors %+v data %s", code, res.Status, res.Errors, res.Data)
	}
	e := res.Errors[0]
	if e.Code() != code {
		t.Fatalf("want extensions.code %s, got %q (message %q, extensions %v)", code, e.Code(), e.Message, e.Extensions)
	}
	if res.Status >= 500 {
		t.Fatalf("status %d for a %s error", res.Status, code)
	}
	if strings.TrimSpace(e.Message) == "" {
		t.Fatalf("%s error without a message", code)
	}
	return e
}

// wantInputError checks for one BAD_USER_INPUT error with reason (any
// non-empty reason when reason is "").
func wantInputError(t testing.TB, res pattest.GraphQLResult, reason string) pattest.GraphQLError {
	t.Helper()
	e := wantError(t, res, "BAD_USER_INPUT")
	got, _ := e.Extensions["reason"].(string)
	switch {
	case reason == "" && got == "":
		t.Fatalf("BAD_USER_INPUT without extensions.reason: %+v", e)
	case reason != "" && got != reason:
		t.Fatalf("want reason %s, got %q (message %q)", reason, got, e.Message)
	}
	return e
}

// wantNullData fails unless the top-level field of res is null or data is null.
func wantNullData(t testing.TB, res pattest.GraphQLResult, field string) {
	t.Helper()
	if len(res.Data) == 0 || string(res.Data) == "null" {
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(res.Data, &m); err != nil {
		t.Fatalf("data: %v: %s", err, res.Data)
	}
	if v, present := m[field]; present && string(v) != "null" {
		t.Fatalf("want %s null, got %s", field, v)
	}
}

// --- tokens --------------------------------------------------------------------

const createdFields = `id name token maskedToken expiresAt lastUsedAt createdAt updatedAt`

const createMutation = `mutation($name: String!, $exp: Date) {
  createPersonalAccessToken(name: $name, expiresAt: $exp) { ` + createdFields + ` }
}`

const rotateMutation = `mutation($id: ID!, $exp: Date, $grace: Int) {
  rotatePersonalAccessToken(id: $id, expiresAt: $exp, gracePeriodSeconds: $grace) { ` + createdFields + ` }
}`

const deleteMutation = `mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`

const tokenFields = `id name maskedToken expiresAt lastUsedAt createdAt updatedAt user { id } __typename`

const listQuery = `query($first: Int, $after: String) {
  personalAccessTokens(first: $first, after: $after) {
    data { ` + tokenFields + ` }
    totalCount
    pageInfo { hasNextPage endCursor }
  }
}`

const getQuery = `query($id: ID!) { personalAccessToken(id: $id) { ` + tokenFields + ` } }`

const rateLimitQuery = `{ apiKeyRateLimit { remaining limit resetAt activeTokens maxActiveTokens } }`

type createdToken struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Token       string  `json:"token"`
	MaskedToken string  `json:"maskedToken"`
	ExpiresAt   *string `json:"expiresAt"`
	LastUsedAt  *string `json:"lastUsedAt"`
	CreatedAt   string  `json:"createdAt"`
	UpdatedAt   string  `json:"updatedAt"`
}

type listedToken struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	MaskedToken string  `json:"maskedToken"`
	ExpiresAt   *string `json:"expiresAt"`
	LastUsedAt  *string `json:"lastUsedAt"`
	CreatedAt   string  `json:"createdAt"`
	UpdatedAt   string  `json:"updatedAt"`
	User        struct {
		ID string `json:"id"`
	} `json:"user"`
	Typename string `json:"__typename"`
}

type tokenList struct {
	Data       []listedToken `json:"data"`
	TotalCount int           `json:"totalCount"`
	PageInfo   struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
}

func (l tokenList) ids() []string {
	out := make([]string, len(l.Data))
	for i, d := range l.Data {
		out[i] = d.ID
	}
	return out
}

func (l tokenList) find(id string) *listedToken {
	for i := range l.Data {
		if l.Data[i].ID == id {
			return &l.Data[i]
		}
	}
	return nil
}

type rateLimit struct {
	Remaining       int    `json:"remaining"`
	Limit           int    `json:"limit"`
	ResetAt         string `json:"resetAt"`
	ActiveTokens    int    `json:"activeTokens"`
	MaxActiveTokens int    `json:"maxActiveTokens"`
}

// createVars are the variables of createMutation; exp is left out when nil.
func createVars(name string, exp any) map[string]any {
	v := map[string]any{"name": name}
	if exp != nil {
		v["exp"] = exp
	}
	return v
}

// mustCreate creates a token without expiry.
func mustCreate(t testing.TB, r *pattest.Replica, bearer, name string) createdToken {
	t.Helper()
	return mustCreateExp(t, r, bearer, name, nil)
}

// mustCreateExp creates a token expiring at exp (an RFC 3339 string, epoch
// milliseconds, or nil).
func mustCreateExp(t testing.TB, r *pattest.Replica, bearer, name string, exp any) createdToken {
	t.Helper()
	var out struct {
		C createdToken `json:"createPersonalAccessToken"`
	}
	decode(t, r.GraphQL(t, bearer, createMutation, createVars(name, exp)), &out)
	if !tokenRE.MatchString(out.C.Token) {
		t.Fatalf("created token %q does not match %s", out.C.Token, tokenRE)
	}
	return out.C
}

// listPage returns one page (first 0: the default).
func listPage(t testing.TB, r *pattest.Replica, bearer string, first int, after string) tokenList {
	t.Helper()
	vars := map[string]any{}
	if first != 0 {
		vars["first"] = first
	}
	if after != "" {
		vars["after"] = after
	}
	var out struct {
		L tokenList `json:"personalAccessTokens"`
	}
	decode(t, r.GraphQL(t, bearer, listQuery, vars), &out)
	return out.L
}

// listAll returns the caller's tokens (up to 500).
func listAll(t testing.TB, r *pattest.Replica, bearer string) tokenList {
	t.Helper()
	l := listPage(t, r, bearer, 500, "")
	if l.TotalCount != len(l.Data) {
		t.Fatalf("totalCount %d but %d tokens listed", l.TotalCount, len(l.Data))
	}
	return l
}

// getToken returns personalAccessToken(id), nil when it is null.
func getToken(t testing.TB, r *pattest.Replica, bearer, id string) *listedToken {
	t.Helper()
	var out struct {
		T *listedToken `json:"personalAccessToken"`
	}
	decode(t, r.GraphQL(t, bearer, getQuery, map[string]any{"id": id}), &out)
	return out.T
}

func getRateLimit(t testing.TB, r *pattest.Replica, bearer string) rateLimit {
	t.Helper()
	var out struct {
		L rateLimit `json:"apiKeyRateLimit"`
	}
	decode(t, r.GraphQL(t, bearer, rateLimitQuery, nil), &out)
	return out.L
}

// snapshot is what a user has stored, to compare before and after a request
// that must change nothing.
type snapshot struct {
	list      tokenList
	remaining int
}

func takeSnapshot(t testing.TB, r *pattest.Replica, jwt string) snapshot {
	t.Helper()
	return snapshot{list: listAll(t, r, jwt), remaining: getRateLimit(t, r, jwt).Remaining}
}

// assertUnchanged fails when the user's tokens or creation quota differ from before.
func assertUnchanged(t testing.TB, r *pattest.Replica, jwt string, before snapshot) {
	t.Helper()
	after := takeSnapshot(t, r, jwt)
	if after.list.TotalCount != before.list.TotalCount {
		t.Fatalf("totalCount changed from %d to %d", before.list.TotalCount, after.list.TotalCount)
	}
	a, _ := json.Marshal(before.list.Data)
	b, _ := json.Marshal(after.list.Data)
	if !bytes.Equal(a, b) {
		t.Fatalf("stored tokens changed:\nbefore %s\nafter  %s", a, b)
	}
	if after.remaining != before.remaining {
		t.Fatalf("creation quota remaining changed from %d to %d", before.remaining, after.remaining)
	}
}

// --- time ----------------------------------------------------------------------

func parseDate(t testing.TB, s string) time.Time {
	t.Helper()
	if !dateRE.MatchString(s) {
		t.Fatalf("date %q is not RFC 3339 UTC with milliseconds", s)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("date %q: %v", s, err)
	}
	return v
}

// near fails unless got is within tol of want.
func near(t testing.TB, what string, got, want time.Time, tol time.Duration) {
	t.Helper()
	if d := got.Sub(want); d > tol || d < -tol {
		t.Fatalf("%s = %s, want %s ± %s (off by %s)", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), tol, d)
	}
}

// msUTC renders t as the API writes dates.
func msUTC(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// --- authentication -------------------------------------------------------------

// sessionClaims are the claims of a valid session JWT for userID on r.
func sessionClaims(r *pattest.Replica, userID string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub":    userID,
		"userId": userID,
		"type":   "access",
		"iat":    now.Unix(),
		"exp":    now.Add(time.Hour).Unix(),
	}
	if r.Config.JWTIssuer != "" {
		c["iss"] = r.Config.JWTIssuer
	}
	if r.Config.JWTAudience != "" {
		c["aud"] = r.Config.JWTAudience
	}
	return c
}

func signJWT(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign JWT: %v", err)
	}
	return s
}

// authCode is "" when authz (an Authorization header value) is accepted for
// reading, else the code of the error it gets.
func authCode(t testing.TB, r *pattest.Replica, authz string) string {
	t.Helper()
	res, err := r.PostGraphQL(authz, `{ personalAccessTokens(first: 1) { totalCount } }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) == 0 {
		ok(t, res)
		return ""
	}
	e := res.Errors[0]
	wantError(t, res, e.Code())
	wantNullData(t, res, "personalAccessTokens")
	return e.Code()
}

// authenticates reports whether bearer is accepted; a refusal must be
// UNAUTHENTICATED.
func authenticates(t testing.TB, r *pattest.Replica, bearer string) bool {
	t.Helper()
	authz := ""
	if bearer != "" {
		authz = "Bearer " + bearer
	}
	switch code := authCode(t, r, authz); code {
	case "":
		return true
	case "UNAUTHENTICATED":
		return false
	default:
		t.Fatalf("bearer refused with %s, want UNAUTHENTICATED", code)
		return false
	}
}

// userEntityQuery asks for a User entity's token count.
const userEntityQuery = `query($reps: [_Any!]!) {
  _entities(representations: $reps) { ... on User { id personalAccessTokens { totalCount } } }
}`

// actsAs reports whether authz authenticates as userID: User.personalAccessTokens
// answers only for the signed-in user.
func actsAs(t testing.TB, r *pattest.Replica, authz, userID string) bool {
	t.Helper()
	res, err := r.PostGraphQL(authz, userEntityQuery, map[string]any{
		"reps": []any{map[string]any{"__typename": "User", "id": userID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) == 0 {
		ok(t, res)
		return true
	}
	if c := res.Errors[0].Code(); c != "FORBIDDEN" {
		t.Fatalf("User.personalAccessTokens refused with %s (%v), want FORBIDDEN", c, res.Errors)
	}
	return false
}

// revocationDelay is how long a deleted or rotated-out token may keep
// validating (contract: within one second), plus scheduling slack.
const revocationDelay = 1500 * time.Millisecond

// eventuallyRefused fails unless bearer stops authenticating within revocationDelay.
func eventuallyRefused(t testing.TB, r *pattest.Replica, bearer string) {
	t.Helper()
	pattest.Eventually(t, revocationDelay, func() (bool, string) {
		return !authenticates(t, r, bearer), "the token still authenticates after it was revoked"
	})
}
