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
	"net/http"
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
	secret   []byte
	// session checks issuer and audience; sdk the others, which carry neither.
	session *jwt.Parser
	sdk     *jwt.Parser
	tokens  TokenChecker
}

// NewAuthenticator returns an Authenticator for the given JWT settings that
// checks PATs with tokens.
func NewAuthenticator(cfg JWTConfig, tokens TokenChecker) *Authenticator {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		// A JWT issued in the future (beyond the leeway) comes from a clock
		// nobody should trust, or was forged to look newer than it is.
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
	}
	sdk := jwt.NewParser(opts...)
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Authenticator{secret: cfg.Secret, session: jwt.NewParser(opts...), sdk: sdk, tokens: tokens}
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

type sessionClaims struct {
	jwt.RegisteredClaims
	UserID string `json:"userId"`
	Type   string `json:"type"`
	// hasType is whether the claims have a "type" at all: when present, even
	// empty or null, it must be "access".
	hasType bool
}

// UnmarshalJSON reads the claims more strictly than the jwt library: exp, nbf
// and iat must be JSON numbers (RFC 7519 NumericDate), where the library
// would also read a string holding a number, or take null for absent.
func (c *sessionClaims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		if v, ok := raw[name]; ok && !isJSONNumber(v) {
			return fmt.Errorf("claim %s is not a number", name)
		}
	}
	_, c.hasType = raw["type"]
	type plain sessionClaims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// isJSONNumber reports whether v, a valid JSON value, is a number.
func isJSONNumber(v json.RawMessage) bool {
	return len(v) > 0 && (v[0] == '-' || '0' <= v[0] && v[0] <= '9')
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
	var c sessionClaims
	parser, method := a.session, Session
	if peekType(raw) == typeSDKAccess {
		parser, method = a.sdk, SDKAccess
	}
	_, err := parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		// "crit" names header extensions the recipient must understand;
		// patd implements none, so RFC 7515 (4.1.11) says refuse.
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header")
		}
		return a.secret, nil
	})
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
	}
	switch {
	case method == SDKAccess && c.Type == typeSDKAccess:
	// A session JWT's type, when present (even empty or null), is "access".
	case method == Session && (!c.hasType || c.Type == typeAccess):
	default:
		return Principal{}, fmt.Errorf("%w: token type %q", ErrInvalidCredentials, c.Type)
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

// peekType reads the "type" claim of an unverified JWT, only to choose how to
// verify it; the verification itself then checks the claim again.
func peekType(raw string) string {
	var c sessionClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &c); err != nil {
		return ""
	}
	return c.Type
}

// SignSession mints a session JWT as the auth service would. patd uses it for
// the development JWT it prints; tests use it too.
func SignSession(cfg JWTConfig, userID string, ttl time.Duration) (string, error) {
	now := time.Now()
	c := sessionClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			Issuer:    cfg.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		UserID: userID,
		Type:   "access",
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
