package auth_test

import (
	"context"
	"errors"
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
