// Package auth turns an Authorization header into a Principal (who is calling
// and how they proved it) and checks the secret that backends present to the
// internal routes.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/token"
)

// Method is how a caller authenticated.
type Method int

const (
	// Session is a session JWT issued by the auth service.
	Session Method = iota + 1
	// PersonalAccessToken is a PAT presented as a bearer token.
	PersonalAccessToken
	// SDKAccess is the short-lived JWT of type "sdk-access" that the backend
	// mints from a PAT for the SDK: it stands for the PAT, with its powers.
	SDKAccess
)

// Principal is an authenticated caller.
type Principal struct {
	UserID string
	Method Method
	// TokenID is the PAT the caller used, when Method is PersonalAccessToken.
	TokenID string
	// Authorization is the header the caller authenticated with, so that
	// patd can ask the auth service on the caller's behalf (organization
	// membership). It is a credential: never log it.
	Authorization string
}

// Errors from Authenticate. Neither says why a credential was refused: that
// detail is for the log, not for whoever holds a bad token.
var (
	// ErrNoCredentials means the request carried no Authorization header.
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrInvalidCredentials means the credentials were refused.
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
)

// TokenChecker looks up a PAT. It returns ErrInvalidCredentials (wrapped or not)
// for a token that is not valid and other errors when it cannot tell.
type TokenChecker interface {
	CheckToken(ctx context.Context, tok string) (userID, tokenID string, err error)
}

// JWTConfig says which session JWTs to accept.
type JWTConfig struct {
	Secret   []byte
	Issuer   string // empty: not checked
	Audience string // empty: not checked
}

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 5 * time.Second

// FailureLimiter counts failed authentications per client address: Allow
// counts one, Exhausted tells, without counting, whether none is left.
type FailureLimiter interface {
	Allow(key string, now time.Time) (retryAfter time.Duration, ok bool)
	Exhausted(key string, now time.Time) (retryAfter time.Duration, exhausted bool)
}

// TooManyFailuresError refuses, without checking them, the credentials of a
// client address that presented bad ones too often, for RetryAfter.
type TooManyFailuresError struct {
	RetryAfter time.Duration
}

func (e *TooManyFailuresError) Error() string {
	return "auth: too many failed authentications from this address"
}

// Authenticator authenticates requests by session JWT, sdk-access JWT or PAT.
type Authenticator struct {
	failures FailureLimiter   // nil: not limited
	metrics  *metrics.Metrics // may be nil
	cfg      JWTConfig
	// parser checks what every JWT must pass; the issuer and audience, which
	// only session JWTs carry, are checked by hand once the type is known.
	parser *jwt.Parser
	tokens TokenChecker
}

// NewAuthenticator returns an Authenticator for the given JWT settings that
// checks PATs with tokens.
func NewAuthenticator(cfg JWTConfig, tokens TokenChecker) *Authenticator {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		// A JWT issued in the future (beyond the leeway) comes from a clock
		// nobody should trust, or was forged to look newer than it is.
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
	)
	return &Authenticator{cfg: cfg, parser: parser, tokens: tokens}
}

// LimitFailures makes Middleware count failed authentications per client
// address in l, and refuse an address that has none left; m counts them.
func (a *Authenticator) LimitFailures(l FailureLimiter, m *metrics.Metrics) *Authenticator {
	a.failures, a.metrics = l, m
	return a
}

// Authenticate checks the value of an Authorization header.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (Principal, error) {
	if header == "" {
		return Principal{}, ErrNoCredentials
	}
	cred := bearer(header)
	if cred == "" {
		return Principal{}, ErrInvalidCredentials
	}
	if !looksLikeJWT(cred) {
		userID, tokenID, err := a.tokens.CheckToken(ctx, cred)
		if err != nil {
			return Principal{}, err
		}
		return Principal{UserID: userID, Method: PersonalAccessToken, TokenID: tokenID, Authorization: header}, nil
	}
	p, err := a.jwt(cred)
	if err != nil {
		return Principal{}, err
	}
	p.Authorization = header
	return p, nil
}

// claims are those of a session or an sdk-access JWT, in one struct so that
// they are decoded once, by the parse that checks the signature, before the
// type says which other checks apply. The registered claims are read as
// jwt.RegisteredClaims reads them, but exp, nbf and iat more strictly (see
// numericDate). encoding/json matches a name in any case and, of a name given
// twice, keeps the last value: every value it decodes for exp, nbf, iat or
// type is checked.
type claims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.ClaimStrings `json:"aud"`
	ExpiresAt numericDate      `json:"exp"`
	NotBefore numericDate      `json:"nbf"`
	IssuedAt  numericDate      `json:"iat"`
	// ID is not used, but a jti that is not a string is refused, as
	// jwt.RegisteredClaims does.
	ID     string    `json:"jti"`
	UserID string    `json:"userId"`
	Type   claimType `json:"type"`
}

// The getters make claims a jwt.Claims, for the parser's checks of the times.

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.t, nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.t, nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.t, nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

// numericDate is an exp, nbf or iat claim; t is nil when it is absent.
type numericDate struct{ t *jwt.NumericDate }

// UnmarshalJSON takes only a JSON number (RFC 7519 NumericDate): a
// jwt.NumericDate would also read a string holding a number, and a
// *jwt.NumericDate field would take null for absent, where encoding/json
// hands the null to a field that is no pointer, like this one. It makes of
// the number the time jwt.NumericDate.UnmarshalJSON makes, without the second
// JSON decode that it does to get there.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	// b is a valid JSON value, so only a number parses: not a string, not null.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("exp, nbf or iat is not a number: %w", err)
	}
	sec, frac := math.Modf(f)
	d.t = jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9)))
	return nil
}

// claimType is the "type" claim, and whether the claims have one at all: a
// session JWT's, when present, even empty or null, must be "access".
type claimType struct {
	name    string
	present bool
}

// UnmarshalJSON reads the type as a string field would; a null leaves the
// name unchanged, but the type present.
func (t *claimType) UnmarshalJSON(b []byte) error {
	t.present = true
	return json.Unmarshal(b, &t.name)
}

// bearer is the credential of a "Bearer <credential>" header, or "".
func bearer(header string) string {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}

// looksLikeJWT reports whether s has a JWT's shape: three segments, the first
// a base64url JSON header naming an algorithm. Anything else is checked as a
// personal access token, so that every token /validate accepts, imported
// legacy ones included, authenticates GraphQL and REST alike.
func looksLikeJWT(s string) bool {
	header, rest, ok := strings.Cut(s, ".")
	if !ok || strings.Count(rest, ".") != 1 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(b, &h) == nil && h.Alg != ""
}

// JWT types ("type" claim) patd accepts.
const (
	typeAccess    = "access"
	typeSDKAccess = "sdk-access"
)

// jwt checks a session JWT, or an sdk-access JWT: both HS256 with the same
// secret, but only session JWTs carry an issuer and an audience.
func (a *Authenticator) jwt(raw string) (Principal, error) {
	var c claims
	_, err := a.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		// "crit" names header extensions the recipient must understand;
		// patd implements none, so RFC 7515 (4.1.11) says refuse.
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header")
		}
		return a.cfg.Secret, nil
	})
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
	}
	method := SDKAccess
	if c.Type.name != typeSDKAccess {
		// What jwt.WithIssuer and jwt.WithAudience would check, for session
		// JWTs only.
		method = Session
		switch {
		// A session JWT's type, when present (even empty or null), is "access".
		case c.Type.present && c.Type.name != typeAccess:
			return Principal{}, fmt.Errorf("%w: token type %q", ErrInvalidCredentials, c.Type.name)
		case a.cfg.Issuer != "" && c.Issuer != a.cfg.Issuer:
			return Principal{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, jwt.ErrTokenInvalidIssuer)
		case a.cfg.Audience != "" && !slices.Contains(c.Audience, a.cfg.Audience):
			return Principal{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, jwt.ErrTokenInvalidAudience)
		}
	}
	uid := c.UserID
	if uid == "" && method == Session {
		uid = c.Subject
	}
	if uid == "" {
		return Principal{}, fmt.Errorf("%w: no userId or sub", ErrInvalidCredentials)
	}
	return Principal{UserID: uid, Method: method}, nil
}

// SignSession mints a session JWT as the auth service would. patd uses it for
// the development JWT it prints; tests use it too.
func SignSession(cfg JWTConfig, userID string, ttl time.Duration) (string, error) {
	now := time.Now()
	c := struct {
		jwt.RegisteredClaims
		UserID string `json:"userId"`
		Type   string `json:"type"`
	}{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			Issuer:    cfg.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		UserID: userID,
		Type:   typeAccess,
	}
	if cfg.Audience != "" {
		c.Audience = jwt.ClaimStrings{cfg.Audience}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(cfg.Secret)
}

// ServiceSecrets are the secrets that backends present to the internal routes.
type ServiceSecrets [][]byte

// Digests hashes the secrets once, for SecretDigests.Check. Call it at start,
// not per request.
func (s ServiceSecrets) Digests() SecretDigests {
	d := make(SecretDigests, len(s))
	for i, secret := range s {
		d[i] = sha256.Sum256(secret)
	}
	return d
}

// SecretDigests are the SHA-256 digests of the service secrets.
type SecretDigests [][sha256.Size]byte

// Check reports whether r carries one of the secrets, as
// "Authorization: Bearer <secret>" or "x-af-introspection-secret: <secret>".
// The digest of what was presented is compared in constant time with every
// secret's, so timing tells nothing about which one, or how much of one,
// matched; comparing digests keeps the time independent of the lengths too.
func (d SecretDigests) Check(r *http.Request) bool {
	presented := r.Header.Get("X-Af-Introspection-Secret")
	if presented == "" {
		presented = bearer(r.Header.Get("Authorization"))
	}
	if presented == "" {
		return false
	}
	p := token.Hash(presented)
	match := 0
	for i := range d {
		match |= subtle.ConstantTimeCompare(p[:], d[i][:])
	}
	return match == 1
}
