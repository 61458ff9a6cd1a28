package graph_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/token"
)

func TestEveryOperationNeedsAuthentication(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-noauth")
	tok := mustCreate(t, r, jwt, "existing")
	before := takeSnapshot(t, r, jwt)

	ops := []struct {
		name, query, field string
		vars               map[string]any
	}{
		{"personalAccessTokens", listQuery, "personalAccessTokens", nil},
		{"personalAccessTokens(first, after)", listQuery, "personalAccessTokens", map[string]any{"first": 0, "after": "garbage"}},
		{"personalAccessToken", getQuery, "personalAccessToken", map[string]any{"id": tok.ID}},
		{"apiKeyRateLimit", rateLimitQuery, "apiKeyRateLimit", nil},
		{"createPersonalAccessToken", createMutation, "createPersonalAccessToken", createVars("sneaky", nil)},
		{"createPersonalAccessToken with bad input", createMutation, "createPersonalAccessToken", createVars("<bad>", nil)},
		{"deletePersonalAccessToken", deleteMutation, "deletePersonalAccessToken", map[string]any{"id": tok.ID}},
		{"rotatePersonalAccessToken", rotateMutation, "rotatePersonalAccessToken", map[string]any{"id": tok.ID, "grace": 60}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			res := r.GraphQL(t, "", op.query, op.vars)
			wantError(t, res, "UNAUTHENTICATED")
			wantNullData(t, res, op.field)
		})
	}
	t.Cleanup(func() {
		assertUnchanged(t, r, jwt, before)
		if !authenticates(t, r, tok.Token) {
			t.Error("an unauthenticated request revoked a token")
		}
	})
}

func TestPublicFieldsNeedNoAuth(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	for _, bearer := range []string{"", "garbage"} {
		res := r.GraphQL(t, bearer, `{ __typename }`, nil)
		ok(t, res)
		if string(res.Data) != `{"__typename":"Query"}` {
			t.Errorf("bearer %q: { __typename } = %s", bearer, res.Data)
		}
		res = r.GraphQL(t, bearer, `mutation { __typename }`, nil)
		ok(t, res)
		if string(res.Data) != `{"__typename":"Mutation"}` {
			t.Errorf("bearer %q: mutation { __typename } = %s", bearer, res.Data)
		}
	}
}

func TestRejectedCredentials(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	const user = "user-badcred"
	secret := r.Config.JWTSecret
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := sessionClaims(r, user)
		edit(c)
		return c
	}
	hs256 := func(edit func(jwt.MapClaims)) string {
		return "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, claims(edit))
	}
	same := func(jwt.MapClaims) {}
	valid := hs256(same)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	unknownPAT, err := token.New(token.PrefixLive)
	if err != nil {
		t.Fatal(err)
	}
	// Change one checksum character: the token can no longer be valid.
	last := "A"
	if strings.HasSuffix(unknownPAT, "A") {
		last = "B"
	}
	badChecksum := unknownPAT[:len(unknownPAT)-1] + last

	cases := map[string]string{
		"Bearer without credential":   "Bearer",
		"Bearer and spaces":           "Bearer    ",
		"Basic scheme":                "Basic dXNlcjpwYXNz",
		"valid JWT with Token scheme": "Token " + strings.TrimPrefix(valid, "Bearer "),
		"valid JWT without scheme":    strings.TrimPrefix(valid, "Bearer "),
		"not a JWT":                   "Bearer not-a-jwt",
		"three dots":                  "Bearer a.b.c",
		"JWT with trailing junk":      valid + " junk",
		"truncated JWT":               valid[:len(valid)-5],
		"PAT with bad checksum":       "Bearer " + badChecksum,
		"PAT never stored":            "Bearer " + unknownPAT,
		"test-prefix PAT":             "Bearer af_test_" + unknownPAT[len("af_live_"):],
		"legacy-looking junk":         "Bearer af_live_" + strings.Repeat("x", 32),
		"expired JWT":                 hs256(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"expired beyond leeway":       hs256(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() }),
		"wrong secret":                "Bearer " + signJWT(t, jwt.SigningMethodHS256, []byte("not-the-secret"), claims(same)),
		"alg none":                    "Bearer " + signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(same)),
		"HS384":                       "Bearer " + signJWT(t, jwt.SigningMethodHS384, secret, claims(same)),
		"HS512":                       "Bearer " + signJWT(t, jwt.SigningMethodHS512, secret, claims(same)),
		"ES256":                       "Bearer " + signJWT(t, jwt.SigningMethodES256, ecKey, claims(same)),
		"missing exp":                 hs256(func(c jwt.MapClaims) { delete(c, "exp") }),
		"wrong iss":                   hs256(func(c jwt.MapClaims) { c["iss"] = "someone-else" }),
		"missing iss":                 hs256(func(c jwt.MapClaims) { delete(c, "iss") }),
		"wrong aud":                   hs256(func(c jwt.MapClaims) { c["aud"] = "another-app" }),
		"wrong aud list":              hs256(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }),
		"missing aud":                 hs256(func(c jwt.MapClaims) { delete(c, "aud") }),
		"type refresh":                hs256(func(c jwt.MapClaims) { c["type"] = "refresh" }),
		"type id":                     hs256(func(c jwt.MapClaims) { c["type"] = "id" }),
		"no userId and no sub":        hs256(func(c jwt.MapClaims) { delete(c, "userId"); delete(c, "sub") }),
		"empty userId and sub":        hs256(func(c jwt.MapClaims) { c["userId"] = ""; c["sub"] = "" }),
		"not valid before the future": hs256(func(c jwt.MapClaims) {
			c["nbf"] = time.Now().Add(time.Minute).Unix()
		}),
	}
	for label, authz := range cases {
		t.Run(label, func(t *testing.T) {
			t.Parallel()
			if code := authCode(t, r, authz); code != "UNAUTHENTICATED" {
				t.Fatalf("read with %q: code %q, want UNAUTHENTICATED", label, code)
			}
			res, err := r.PostGraphQL(authz, createMutation, createVars("minted", nil))
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, res, "UNAUTHENTICATED")
			wantNullData(t, res, "createPersonalAccessToken")
		})
	}
	t.Cleanup(func() {
		if l := listAll(t, r, r.JWT(user)); l.TotalCount != 0 {
			t.Errorf("refused credentials created %d tokens", l.TotalCount)
		}
		if authCode(t, r, valid) != "" {
			t.Error("the valid JWT the bad ones were made from is refused")
		}
	})
}

func TestAcceptedJWTs(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	secret := r.Config.JWTSecret
	hs256 := func(user string, edit func(jwt.MapClaims)) string {
		c := sessionClaims(r, user)
		edit(c)
		return signJWT(t, jwt.SigningMethodHS256, secret, c)
	}

	// JWTs are signed when the subtest runs: parallel subtests may start late.
	cases := []struct {
		name  string
		authz func() string
		user  string
	}{
		{"pattest JWT", func() string { return "Bearer " + r.JWT("user-ok-1") }, "user-ok-1"},
		{"lower-case scheme", func() string { return "bearer " + r.JWT("user-ok-2") }, "user-ok-2"},
		{"exp 2 s ago, within the 5 s leeway", func() string {
			return "Bearer " + hs256("user-ok-3", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Second).Unix() })
		}, "user-ok-3"},
		{"only sub", func() string {
			return "Bearer " + hs256("user-ok-4", func(c jwt.MapClaims) { delete(c, "userId") })
		}, "user-ok-4"},
		{"userId preferred over sub", func() string {
			return "Bearer " + hs256("user-ok-5", func(c jwt.MapClaims) { c["sub"] = "someone-else" })
		}, "user-ok-5"},
		{"no type", func() string {
			return "Bearer " + hs256("user-ok-6", func(c jwt.MapClaims) { delete(c, "type") })
		}, "user-ok-6"},
		{"aud list including ours", func() string {
			return "Bearer " + hs256("user-ok-7", func(c jwt.MapClaims) { c["aud"] = []string{"another-app", r.Config.JWTAudience} })
		}, "user-ok-7"},
		{"no iat", func() string {
			return "Bearer " + hs256("user-ok-8", func(c jwt.MapClaims) { delete(c, "iat") })
		}, "user-ok-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			authz := tc.authz()
			if code := authCode(t, r, authz); code != "" {
				t.Fatalf("refused with %s", code)
			}
			if !actsAs(t, r, authz, tc.user) {
				t.Fatalf("does not act as %s", tc.user)
			}
			if tc.name == "userId preferred over sub" && actsAs(t, r, authz, "someone-else") {
				t.Fatal("acts as sub when userId is present")
			}
			// A session may create, and the token belongs to that user.
			res, err := r.PostGraphQL(authz, createMutation, createVars("mine", nil))
			if err != nil {
				t.Fatal(err)
			}
			ok(t, res)
			l := listAll(t, r, r.JWT(tc.user))
			if l.TotalCount != 1 || l.Data[0].User.ID != tc.user {
				t.Fatalf("token of %s: %+v", tc.user, l.Data)
			}
		})
	}
}

func TestIssuerAndAudienceUncheckedWhenEmpty(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.JWTIssuer, c.JWTAudience = "", "" })
	secret := r.Config.JWTSecret
	base := func(user string) jwt.MapClaims {
		return jwt.MapClaims{"userId": user, "exp": time.Now().Add(time.Hour).Unix()}
	}
	withClaims := func(user string, extra map[string]any) string {
		c := base(user)
		for k, v := range extra {
			c[k] = v
		}
		return "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, c)
	}
	for _, tc := range []struct {
		name  string
		authz string
		user  string
	}{
		{"pattest JWT", "Bearer " + r.JWT("user-unchecked-0"), "user-unchecked-0"},
		{"no iss or aud", withClaims("user-unchecked-1", nil), "user-unchecked-1"},
		{"any iss and aud", withClaims("user-unchecked-2", map[string]any{"iss": "anyone", "aud": "anything"}), "user-unchecked-2"},
		{"default iss and aud", withClaims("user-unchecked-3", map[string]any{"iss": "alternatefutures-auth", "aud": "alternatefutures-app"}), "user-unchecked-3"},
	} {
		if code := authCode(t, r, tc.authz); code != "" {
			t.Errorf("%s: refused with %s", tc.name, code)
			continue
		}
		if !actsAs(t, r, tc.authz, tc.user) {
			t.Errorf("%s: does not act as %s", tc.name, tc.user)
		}
	}
	// The rest is still checked.
	for name, authz := range map[string]string{
		"wrong secret": "Bearer " + signJWT(t, jwt.SigningMethodHS256, []byte("nope"), base("u")),
		"no exp":       "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"userId": "u"}),
		"HS512":        "Bearer " + signJWT(t, jwt.SigningMethodHS512, secret, base("u")),
		"refresh":      withClaims("u", map[string]any{"type": "refresh"}),
	} {
		if code := authCode(t, r, authz); code != "UNAUTHENTICATED" {
			t.Errorf("%s: code %q, want UNAUTHENTICATED", name, code)
		}
	}
}

func TestPATBearerMayReadAndDelete(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	const user = "user-patbearer"
	jwt := r.JWT(user)
	self := mustCreate(t, r, jwt, "self")
	victim := mustCreate(t, r, jwt, "victim")
	survivor := mustCreate(t, r, jwt, "survivor")
	other := mustCreate(t, r, r.JWT("user-patbearer-other"), "not mine")

	l := listAll(t, r, self.Token)
	if l.TotalCount != 3 || l.find(self.ID) == nil || l.find(victim.ID) == nil || l.find(survivor.ID) == nil {
		t.Fatalf("list as PAT: %v", l.ids())
	}
	if got := getToken(t, r, self.Token, victim.ID); got == nil || got.Name != "victim" || got.User.ID != user {
		t.Fatalf("personalAccessToken as PAT: %+v", got)
	}
	if got := getToken(t, r, self.Token, other.ID); got != nil {
		t.Fatalf("PAT sees another user's token: %+v", *got)
	}
	rl := getRateLimit(t, r, self.Token)
	if rl.Limit != r.Config.CreateLimit || rl.ActiveTokens != 3 || rl.MaxActiveTokens != r.Config.MaxActive ||
		rl.Remaining != r.Config.CreateLimit-3 {
		t.Fatalf("apiKeyRateLimit as PAT: %+v", rl)
	}
	if !actsAs(t, r, "Bearer "+self.Token, user) {
		t.Fatal("PAT does not act as its owner")
	}
	var ents struct {
		E []*tokenEntity `json:"_entities"`
	}
	decode(t, r.GraphQL(t, self.Token, tokenEntitiesQuery, map[string]any{"reps": tokenReps(victim.ID, other.ID)}), &ents)
	if len(ents.E) != 2 || ents.E[0] == nil || ents.E[0].ID != victim.ID || ents.E[1] != nil {
		t.Fatalf("_entities as PAT: %+v", ents.E)
	}

	// A PAT cannot mint: neither create nor rotate, and nothing changes.
	before := takeSnapshot(t, r, jwt)
	res := r.GraphQL(t, self.Token, createMutation, createVars("minted by a PAT", nil))
	wantError(t, res, "FORBIDDEN")
	wantNullData(t, res, "createPersonalAccessToken")
	for _, grace := range []int{0, 3600} {
		res = r.GraphQL(t, self.Token, rotateMutation, map[string]any{"id": victim.ID, "grace": grace})
		wantError(t, res, "FORBIDDEN")
		wantNullData(t, res, "rotatePersonalAccessToken")
	}
	res = r.GraphQL(t, self.Token, rotateMutation, map[string]any{"id": self.ID})
	wantError(t, res, "FORBIDDEN")
	assertUnchanged(t, r, jwt, before)

	// It may delete, another token and then itself.
	var del struct {
		Deleted bool `json:"deletePersonalAccessToken"`
	}
	decode(t, r.GraphQL(t, self.Token, deleteMutation, map[string]any{"id": victim.ID}), &del)
	if !del.Deleted {
		t.Fatal("delete as PAT returned false")
	}
	wantError(t, r.GraphQL(t, self.Token, deleteMutation, map[string]any{"id": other.ID}), "NOT_FOUND")
	decode(t, r.GraphQL(t, self.Token, deleteMutation, map[string]any{"id": self.ID}), &del)
	if !del.Deleted {
		t.Fatal("a PAT deleting itself returned false")
	}
	eventuallyRefused(t, r, self.Token)
	eventuallyRefused(t, r, victim.Token)
	res = r.GraphQL(t, self.Token, listQuery, nil)
	wantError(t, res, "UNAUTHENTICATED")
	if l := listAll(t, r, jwt); l.TotalCount != 1 || l.Data[0].ID != survivor.ID {
		t.Fatalf("after the deletes: %v, want only %s", l.ids(), survivor.ID)
	}
	if !authenticates(t, r, survivor.Token) || !authenticates(t, r, other.Token) {
		t.Fatal("an untouched token stopped authenticating")
	}
}

func TestExpiredPATIsRefused(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.MaxActive = 1 })
	jwt := r.JWT("user-expiring")
	exp := time.Now().Add(2500 * time.Millisecond).Truncate(time.Millisecond)
	e := mustCreateExp(t, r, jwt, "short-lived", exp.UnixMilli())
	if deref(e.ExpiresAt) != msUTC(exp) {
		t.Fatalf("expiresAt = %s, want %s", deref(e.ExpiresAt), msUTC(exp))
	}
	if !authenticates(t, r, e.Token) {
		t.Fatal("a token that has not expired yet is refused")
	}
	if rl := getRateLimit(t, r, jwt); rl.ActiveTokens != 1 {
		t.Fatalf("activeTokens = %d, want 1", rl.ActiveTokens)
	}
	wantError(t, r.GraphQL(t, jwt, createMutation, createVars("second", nil)), "MAX_TOKENS_EXCEEDED")

	time.Sleep(time.Until(exp) + 100*time.Millisecond)
	if authenticates(t, r, e.Token) {
		t.Fatal("an expired token still authenticates")
	}
	res := r.GraphQL(t, e.Token, deleteMutation, map[string]any{"id": e.ID})
	wantError(t, res, "UNAUTHENTICATED")
	// An expired token no longer counts against the cap.
	if rl := getRateLimit(t, r, jwt); rl.ActiveTokens != 0 {
		t.Fatalf("activeTokens = %d after expiry, want 0", rl.ActiveTokens)
	}
	mustCreate(t, r, jwt, "replacement")
}
