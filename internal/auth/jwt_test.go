package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alternatefutures/patd/internal/auth"
)

// jwtTestSecret is as long as production requires.
var jwtTestSecret = []byte("jwt-test-secret-0123456789abcdefghijklmnop")

// mintTestJWT signs claims with HS256 and jwtTestSecret, with the extra
// header fields given.
func mintTestJWT(t *testing.T, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(jwtTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// goodTestClaims are claims every check accepts, edited by edit.
func goodTestClaims(edit func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"userId": "user-1", "sub": "user-1", "type": "access",
		"iss": "issuer", "aud": "audience",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func testAuthenticator() *auth.Authenticator {
	// Session JWTs never reach the PAT checker.
	return auth.NewAuthenticator(auth.JWTConfig{Secret: jwtTestSecret, Issuer: "issuer", Audience: "audience"}, nil)
}

// JWTs that bend the rules are refused: an iat in the future (beyond the
// leeway) is a token minted by a clock nobody should trust, or forged to
// outlive a revocation by issue time; a type that is present must be
// "access", even when empty or null; the times are JSON numbers, as RFC 7519
// says, not strings the library would otherwise read as numbers; and a
// "crit" header names extensions patd does not implement, which RFC 7515
// says must be refused.
func TestJWTRefusesBentClaims(t *testing.T) {
	t.Parallel()
	a := testAuthenticator()
	now := time.Now()
	future := now.Add(time.Hour).Unix()
	refused := map[string]string{
		"iat a minute ahead":    mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() }), nil),
		"iat a year ahead":      mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["iat"] = now.AddDate(1, 0, 0).Unix() }), nil),
		"empty type":            mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["type"] = "" }), nil),
		"null type":             mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["type"] = nil }), nil),
		"refresh type":          mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["type"] = "refresh" }), nil),
		"exp as a string":       mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["exp"] = "9999999999" }), nil),
		"exp as a float string": mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["exp"] = "9999999999.5" }), nil),
		"exp null":              mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["exp"] = nil }), nil),
		"iat as a string":       mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["iat"] = "0" }), nil),
		"nbf as a string":       mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["nbf"] = "0" }), nil),
		"crit header":           mintTestJWT(t, goodTestClaims(nil), map[string]any{"crit": []string{"exp"}}),
		"empty crit header":     mintTestJWT(t, goodTestClaims(nil), map[string]any{"crit": []string{}}),
		"crit of an extension":  mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["exp"] = future }), map[string]any{"crit": []string{"b64"}, "b64": false}),
	}
	for name, raw := range refused {
		t.Run(name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), "Bearer "+raw)
			if !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("accepted as %+v (err %v)", p, err)
			}
		})
	}
}

// The same checks let ordinary session JWTs through, so the refusals above
// are about what they changed.
func TestJWTAcceptsOrdinaryClaims(t *testing.T) {
	t.Parallel()
	a := testAuthenticator()
	now := time.Now()
	accepted := map[string]string{
		"every claim":       mintTestJWT(t, goodTestClaims(nil), nil),
		"no type":           mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { delete(c, "type") }), nil),
		"no iat":            mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { delete(c, "iat") }), nil),
		"iat within leeway": mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["iat"] = now.Add(auth.Leeway / 2).Unix() }), nil),
		"fractional exp":    mintTestJWT(t, goodTestClaims(func(c jwt.MapClaims) { c["exp"] = float64(now.Add(time.Hour).Unix()) + 0.5 }), nil),
		"signed by SignSession": func() string {
			s, err := auth.SignSession(auth.JWTConfig{Secret: jwtTestSecret, Issuer: "issuer", Audience: "audience"}, "user-1", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}(),
	}
	for name, raw := range accepted {
		t.Run(name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), "Bearer "+raw)
			if err != nil || p.UserID != "user-1" || p.Method != auth.Session {
				t.Errorf("refused: %+v, %v", p, err)
			}
		})
	}
}

// mintRawJWT signs payload, claims JSON written by hand (so it may repeat a
// name or be malformed), with HS256 and jwtTestSecret.
func mintRawJWT(t *testing.T, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	signing := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(signing, jwtTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc(sig)
}

// sdkTestClaims are the claims of an sdk-access JWT as the backend mints it
// from a PAT (no issuer, no audience), edited by edit.
func sdkTestClaims(edit func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"userId": "user-1", "projectId": "proj-1", "type": "sdk-access",
		"iat": now.Unix(), "exp": now.Add(8 * time.Minute).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// An sdk-access JWT carries neither issuer nor audience, so none is checked,
// and it names its user by userId alone; the signature and the times are
// checked as a session JWT's.
func TestJWTSDKAccess(t *testing.T) {
	t.Parallel()
	a := testAuthenticator()
	now := time.Now()
	accepted := map[string]string{
		"as the backend mints it": mintTestJWT(t, sdkTestClaims(nil), nil),
		"with an issuer and audience of its own": mintTestJWT(t, sdkTestClaims(func(c jwt.MapClaims) {
			c["iss"], c["aud"] = "someone-else", "another-app"
		}), nil),
		"expired a second ago, within the leeway": mintTestJWT(t, sdkTestClaims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }), nil),
	}
	for name, raw := range accepted {
		t.Run(name, func(t *testing.T) {
			header := "Bearer " + raw
			p, err := a.Authenticate(context.Background(), header)
			if err != nil || p != (auth.Principal{UserID: "user-1", Method: auth.SDKAccess, Authorization: header}) {
				t.Errorf("got %+v, %v; want the sdk-access principal of user-1", p, err)
			}
		})
	}
	sdk := func(edit func(jwt.MapClaims)) string { return mintTestJWT(t, sdkTestClaims(edit), nil) }
	refused := map[string]string{
		"HS512":                     signed(t, jwt.SigningMethodHS512, jwtTestSecret, sdkTestClaims(nil)),
		"alg none":                  signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, sdkTestClaims(nil)),
		"wrong secret":              signed(t, jwt.SigningMethodHS256, []byte("not-the-secret"), sdkTestClaims(nil)),
		"crit header":               mintTestJWT(t, sdkTestClaims(nil), map[string]any{"crit": []string{"exp"}}),
		"expired beyond the leeway": sdk(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * auth.Leeway).Unix() }),
		"no exp":                    sdk(func(c jwt.MapClaims) { delete(c, "exp") }),
		"exp as a string":           sdk(func(c jwt.MapClaims) { c["exp"] = "9999999999" }),
		"not valid yet":             sdk(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }),
		"iat a minute ahead":        sdk(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() }),
		"sub but no userId":         sdk(func(c jwt.MapClaims) { delete(c, "userId"); c["sub"] = "user-1" }),
		// Without the sdk-access type it is a session JWT, which must name
		// the issuer and the audience.
		"a session's type":     sdk(func(c jwt.MapClaims) { c["type"] = "access" }),
		"no type":              sdk(func(c jwt.MapClaims) { delete(c, "type") }),
		"type in other case":   sdk(func(c jwt.MapClaims) { c["type"] = "SDK-Access" }),
		"type a number":        sdk(func(c jwt.MapClaims) { c["type"] = 1 }),
		"userId a number":      sdk(func(c jwt.MapClaims) { c["userId"] = 1 }),
		"nbf null":             sdk(func(c jwt.MapClaims) { c["nbf"] = nil }),
		"iat null":             sdk(func(c jwt.MapClaims) { c["iat"] = nil }),
		"aud a number":         sdk(func(c jwt.MapClaims) { c["aud"] = 1 }),
		"claims not an object": mintRawJWT(t, `["sdk-access"]`),
	}
	for name, raw := range refused {
		t.Run(name, func(t *testing.T) {
			if p, err := a.Authenticate(context.Background(), "Bearer "+raw); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("accepted as %+v (err %v)", p, err)
			}
		})
	}
}

// Claims of the wrong JSON type are refused, whichever claim; names patd does
// not know are ignored; a name given twice takes its last value. encoding/json
// matches names in any case, so the checks of exp and type apply in any case.
func TestJWTClaimsJSON(t *testing.T) {
	t.Parallel()
	a := testAuthenticator()
	now := time.Now()
	session := func(edit func(jwt.MapClaims)) string { return mintTestJWT(t, goodTestClaims(edit), nil) }
	// rest are the claims of goodTestClaims but exp, as JSON members.
	rest := fmt.Sprintf(`"userId":"user-1","type":"access","iss":"issuer","aud":"audience","iat":%d`, now.Unix())
	past, future := now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix()
	accepted := map[string]string{
		"an unknown claim":        session(func(c jwt.MapClaims) { c["projectId"] = map[string]any{"id": 1} }),
		"exp twice, the last due": mintRawJWT(t, fmt.Sprintf(`{%s,"exp":%d,"exp":%d}`, rest, past, future)),
		"aud as a list":           session(func(c jwt.MapClaims) { c["aud"] = []string{"audience"} }),
	}
	for name, raw := range accepted {
		t.Run(name, func(t *testing.T) {
			if p, err := a.Authenticate(context.Background(), "Bearer "+raw); err != nil || p.UserID != "user-1" || p.Method != auth.Session {
				t.Errorf("refused: %+v, %v", p, err)
			}
		})
	}
	refused := map[string]string{
		"exp twice, the last past":   mintRawJWT(t, fmt.Sprintf(`{%s,"exp":%d,"exp":%d}`, rest, future, past)),
		"exp twice, the last string": mintRawJWT(t, fmt.Sprintf(`{%s,"exp":%d,"exp":"%d"}`, rest, future, future)),
		"type twice, the last other": mintRawJWT(t, fmt.Sprintf(`{%s,"exp":%d,"type":"refresh"}`, rest, future)),
		"trailing data":              mintRawJWT(t, fmt.Sprintf(`{%s,"exp":%d} {}`, rest, future)),
		"not JSON":                   mintRawJWT(t, fmt.Sprintf(`{%s,"exp":%d`, rest, future)),
		"null":                       mintRawJWT(t, `null`),
		"nbf null":                   session(func(c jwt.MapClaims) { c["nbf"] = nil }),
		"iat null":                   session(func(c jwt.MapClaims) { c["iat"] = nil }),
		"exp a bool":                 session(func(c jwt.MapClaims) { c["exp"] = true }),
		"iss a number":               session(func(c jwt.MapClaims) { c["iss"] = 1 }),
		"sub a number":               session(func(c jwt.MapClaims) { delete(c, "userId"); c["sub"] = 1 }),
		"userId a number":            session(func(c jwt.MapClaims) { c["userId"] = 1 }),
		"type a number":              session(func(c jwt.MapClaims) { c["type"] = 1 }),
		"jti a number":               session(func(c jwt.MapClaims) { c["jti"] = 1 }),
		"aud a number":               session(func(c jwt.MapClaims) { c["aud"] = 1 }),
		"aud with a number":          session(func(c jwt.MapClaims) { c["aud"] = []any{"audience", 1} }),
		"aud a list without ours":    session(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }),
		"aud an empty list":          session(func(c jwt.MapClaims) { c["aud"] = []string{} }),
		"aud empty":                  session(func(c jwt.MapClaims) { c["aud"] = "" }),
		"iss empty":                  session(func(c jwt.MapClaims) { c["iss"] = "" }),
		"EXP as a string":            session(func(c jwt.MapClaims) { delete(c, "exp"); c["EXP"] = "9999999999" }),
		"Type refresh":               session(func(c jwt.MapClaims) { delete(c, "type"); c["Type"] = "refresh" }),
	}
	for name, raw := range refused {
		t.Run(name, func(t *testing.T) {
			if p, err := a.Authenticate(context.Background(), "Bearer "+raw); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("accepted as %+v (err %v)", p, err)
			}
		})
	}
}

// Issuer and audience are each checked only when configured.
func TestJWTIssuerAudienceConfig(t *testing.T) {
	t.Parallel()
	type check struct {
		iss, aud any // nil: the claim is left out
		ok       bool
	}
	for _, tc := range []struct {
		name   string
		cfg    auth.JWTConfig
		checks []check
	}{
		{"neither", auth.JWTConfig{Secret: jwtTestSecret}, []check{
			{nil, nil, true}, {"someone-else", "another-app", true},
		}},
		{"issuer only", auth.JWTConfig{Secret: jwtTestSecret, Issuer: "issuer"}, []check{
			{"issuer", nil, true}, {"issuer", "another-app", true},
			{"someone-else", "audience", false}, {nil, "audience", false},
		}},
		{"audience only", auth.JWTConfig{Secret: jwtTestSecret, Audience: "audience"}, []check{
			{nil, "audience", true}, {"someone-else", []string{"x", "audience"}, true},
			{"issuer", "another-app", false}, {"issuer", nil, false},
		}},
	} {
		a := auth.NewAuthenticator(tc.cfg, nil)
		for _, c := range tc.checks {
			raw := mintTestJWT(t, goodTestClaims(func(m jwt.MapClaims) {
				delete(m, "iss")
				delete(m, "aud")
				if c.iss != nil {
					m["iss"] = c.iss
				}
				if c.aud != nil {
					m["aud"] = c.aud
				}
			}), nil)
			p, err := a.Authenticate(context.Background(), "Bearer "+raw)
			if ok := err == nil && p.Method == auth.Session && p.UserID == "user-1"; ok != c.ok {
				t.Errorf("%s: iss %v, aud %v: got %+v, %v; want accepted %v", tc.name, c.iss, c.aud, p, err, c.ok)
			}
		}
	}
}
