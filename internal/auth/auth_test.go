package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/token"
)

var testJWT = auth.JWTConfig{Secret: []byte("auth-test-secret"), Issuer: "test-issuer", Audience: "test-audience"}

// recordingChecker stands in for the validator on the PAT path: it answers
// from a fixed table and records which tokens it was asked about.
type recordingChecker struct {
	mu      sync.Mutex
	asked   []string
	answers map[string]checkAnswer
}

type checkAnswer struct {
	userID, tokenID string
	err             error
}

func (c *recordingChecker) CheckToken(_ context.Context, tok string) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, tok)
	a, ok := c.answers[tok]
	if !ok {
		return "", "", auth.ErrInvalidCredentials
	}
	return a.userID, a.tokenID, a.err
}

func (c *recordingChecker) calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.asked...)
}

// claimsFor are the claims of a valid session JWT for userID under testJWT.
func claimsFor(userID string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": userID, "userId": userID, "type": "access",
		"iss": testJWT.Issuer, "aud": testJWT.Audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthenticateAcceptsSessionJWTs(t *testing.T) {
	t.Parallel()
	checker := &recordingChecker{}
	a := auth.NewAuthenticator(testJWT, checker)
	minted, err := auth.SignSession(testJWT, "user-signed", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	edited := func(edit func(jwt.MapClaims)) string {
		c := claimsFor("user-1")
		edit(c)
		return signed(t, jwt.SigningMethodHS256, testJWT.Secret, c)
	}
	for _, tc := range []struct {
		name, header, user string
	}{
		{"SignSession", "Bearer " + minted, "user-signed"},
		{"lower-case scheme", "bearer " + minted, "user-signed"},
		{"userId preferred over sub", "Bearer " + edited(func(c jwt.MapClaims) { c["sub"] = "someone-else" }), "user-1"},
		{"sub when there is no userId", "Bearer " + edited(func(c jwt.MapClaims) { delete(c, "userId") }), "user-1"},
		{"sub when userId is empty", "Bearer " + edited(func(c jwt.MapClaims) { c["userId"] = "" }), "user-1"},
		{"no type", "Bearer " + edited(func(c jwt.MapClaims) { delete(c, "type") }), "user-1"},
		{"expired a second ago, within the leeway", "Bearer " + edited(func(c jwt.MapClaims) {
			c["exp"] = time.Now().Add(-time.Second).Unix()
		}), "user-1"},
		{"audience list including ours", "Bearer " + edited(func(c jwt.MapClaims) {
			c["aud"] = []string{"another-app", testJWT.Audience}
		}), "user-1"},
	} {
		p, err := a.Authenticate(context.Background(), tc.header)
		if err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
			continue
		}
		if p != (auth.Principal{UserID: tc.user, Method: auth.Session, Authorization: tc.header}) {
			t.Errorf("%s: principal %+v, want session of %s", tc.name, p, tc.user)
		}
	}
	if calls := checker.calls(); len(calls) != 0 {
		t.Errorf("JWTs were sent to the token checker: %q", calls)
	}
}

func TestAuthenticateRefusesBadJWTs(t *testing.T) {
	t.Parallel()
	checker := &recordingChecker{}
	a := auth.NewAuthenticator(testJWT, checker)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edited := func(edit func(jwt.MapClaims)) string {
		c := claimsFor("user-1")
		edit(c)
		return signed(t, jwt.SigningMethodHS256, testJWT.Secret, c)
	}
	keep := func(jwt.MapClaims) {}
	for _, tc := range []struct{ name, jwt string }{
		{"HS512", signed(t, jwt.SigningMethodHS512, testJWT.Secret, claimsFor("user-1"))},
		{"alg none", signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claimsFor("user-1"))},
		{"ES256", signed(t, jwt.SigningMethodES256, ecKey, claimsFor("user-1"))},
		{"wrong secret", signed(t, jwt.SigningMethodHS256, []byte("not-the-secret"), claimsFor("user-1"))},
		{"expired beyond the leeway", edited(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * auth.Leeway).Unix() })},
		{"no exp", edited(func(c jwt.MapClaims) { delete(c, "exp") })},
		{"not valid yet", edited(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Minute).Unix() })},
		{"wrong iss", edited(func(c jwt.MapClaims) { c["iss"] = "someone-else" })},
		{"no iss", edited(func(c jwt.MapClaims) { delete(c, "iss") })},
		{"wrong aud", edited(func(c jwt.MapClaims) { c["aud"] = "another-app" })},
		{"no aud", edited(func(c jwt.MapClaims) { delete(c, "aud") })},
		{"type refresh", edited(func(c jwt.MapClaims) { c["type"] = "refresh" })},
		{"no userId and no sub", edited(func(c jwt.MapClaims) { delete(c, "userId"); delete(c, "sub") })},
		{"truncated", edited(keep)[:20]},
		{"not a JWT", "a.b.c"},
	} {
		p, err := a.Authenticate(context.Background(), "Bearer "+tc.jwt)
		if !errors.Is(err, auth.ErrInvalidCredentials) || p != (auth.Principal{}) {
			t.Errorf("%s: got %+v, %v; want ErrInvalidCredentials", tc.name, p, err)
		}
	}
	// Strings without a JWT's shape are checked as tokens (legacy tokens
	// may look like anything); nothing shaped like a JWT reaches the checker.
	if calls := checker.calls(); !slices.Equal(calls, []string{edited(keep)[:20], "a.b.c"}) {
		t.Errorf("the token checker saw %q; want only the two strings that are not JWTs", calls)
	}
}

func TestAuthenticateRefusesOtherHeaders(t *testing.T) {
	t.Parallel()
	a := auth.NewAuthenticator(testJWT, &recordingChecker{})
	minted, err := auth.SignSession(testJWT, "user-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(context.Background(), ""); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("no header: %v, want ErrNoCredentials", err)
	}
	for _, h := range []string{"Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token " + minted, minted} {
		if _, err := a.Authenticate(context.Background(), h); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("%.30q: %v, want ErrInvalidCredentials", h, err)
		}
	}
}

// A PAT is not a JWT: it goes to the TokenChecker, and its answer stands.
func TestAuthenticatePATGoesToTheTokenChecker(t *testing.T) {
	t.Parallel()
	valid, err := token.New(token.PrefixLive)
	if err != nil {
		t.Fatal(err)
	}
	limited, err := token.New(token.PrefixTest)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := token.New(token.PrefixLive)
	if err != nil {
		t.Fatal(err)
	}
	errBusy := errors.New("slow down")
	checker := &recordingChecker{answers: map[string]checkAnswer{
		valid:   {userID: "user-pat", tokenID: "token-1"},
		limited: {err: errBusy},
	}}
	a := auth.NewAuthenticator(testJWT, checker)
	ctx := context.Background()

	p, err := a.Authenticate(ctx, "Bearer "+valid)
	if err != nil || p != (auth.Principal{UserID: "user-pat", Method: auth.PersonalAccessToken, TokenID: "token-1", Authorization: "Bearer " + valid}) {
		t.Errorf("valid PAT: %+v, %v", p, err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+limited); !errors.Is(err, errBusy) {
		t.Errorf("the checker's own error must reach the caller: got %v", err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+unknown); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("unknown PAT: %v, want ErrInvalidCredentials", err)
	}
	if calls := checker.calls(); len(calls) != 3 || calls[0] != valid || calls[1] != limited || calls[2] != unknown {
		t.Errorf("checker asked about %q, want the three PATs in order", calls)
	}
}

func TestServiceSecretsCheck(t *testing.T) {
	t.Parallel()
	secrets := auth.ServiceSecrets{[]byte("current-secret"), []byte("previous-secret")}
	request := func(headers ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/validate", nil)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		headers []string
		want    bool
	}{
		{"Bearer, first secret", []string{"Authorization", "Bearer current-secret"}, true},
		{"Bearer, second secret", []string{"Authorization", "Bearer previous-secret"}, true},
		{"lower-case bearer", []string{"Authorization", "bearer current-secret"}, true},
		{"introspection header", []string{"X-Af-Introspection-Secret", "current-secret"}, true},
		{"introspection header, second secret", []string{"x-af-introspection-secret", "previous-secret"}, true},
		{"introspection header wins over a wrong bearer", []string{
			"Authorization", "Bearer wrong", "X-Af-Introspection-Secret", "current-secret"}, true},
		{"nothing", nil, false},
		{"wrong secret", []string{"Authorization", "Bearer wrong"}, false},
		{"prefix of a secret", []string{"Authorization", "Bearer current"}, false},
		{"secret and more", []string{"Authorization", "Bearer current-secretx"}, false},
		{"Basic scheme", []string{"Authorization", "Basic current-secret"}, false},
		{"no scheme", []string{"Authorization", "current-secret"}, false},
		{"empty bearer", []string{"Authorization", "Bearer "}, false},
		{"wrong introspection header", []string{"X-Af-Introspection-Secret", "current"}, false},
	} {
		if got := secrets.Digests().Check(request(tc.headers...)); got != tc.want {
			t.Errorf("%s: Check = %v, want %v", tc.name, got, tc.want)
		}
	}
	if (auth.ServiceSecrets{}).Digests().Check(request("Authorization", "Bearer current-secret")) {
		t.Error("no secrets configured, yet a request passed")
	}
}

// Middleware records the outcome of authentication; FromContext and
// OptionalFromContext read it back.
func TestContextOutcomes(t *testing.T) {
	t.Parallel()
	a := auth.NewAuthenticator(testJWT, &recordingChecker{})
	minted, err := auth.SignSession(testJWT, "user-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		p, optP     auth.Principal
		err, optErr error
	}
	through := func(header string) outcome {
		var o outcome
		h := a.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			o.p, o.err = auth.FromContext(r.Context())
			o.optP, o.optErr = auth.OptionalFromContext(r.Context())
		}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("Middleware answered %d itself; it must refuse nothing", w.Code)
		}
		return o
	}
	session := auth.Principal{UserID: "user-1", Method: auth.Session, Authorization: "Bearer " + minted}

	if o := through("Bearer " + minted); o.p != session || o.err != nil || o.optP != session || o.optErr != nil {
		t.Errorf("valid JWT: %+v", o)
	}
	o := through("")
	if !errors.Is(o.err, auth.ErrNoCredentials) || o.optP != (auth.Principal{}) || o.optErr != nil {
		t.Errorf("no credentials: FromContext must say so, OptionalFromContext must allow it: %+v", o)
	}
	o = through("Bearer nonsense")
	if !errors.Is(o.err, auth.ErrInvalidCredentials) || !errors.Is(o.optErr, auth.ErrInvalidCredentials) {
		t.Errorf("refused credentials are an error for both: %+v", o)
	}
	if p, err := auth.FromContext(context.Background()); !errors.Is(err, auth.ErrNoCredentials) || p != (auth.Principal{}) {
		t.Errorf("outside Middleware: FromContext = %+v, %v; want ErrNoCredentials", p, err)
	}
	ctx := auth.NewContext(context.Background(), session, nil)
	if p, err := auth.OptionalFromContext(ctx); p != session || err != nil {
		t.Errorf("NewContext: OptionalFromContext = %+v, %v", p, err)
	}
}
