// Package config reads patd's configuration from the environment once, at start,
// and checks it, so that the rest of the program receives plain values.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/alternatefutures/patd/internal/token"
)

// Environments patd knows.
const (
	Production  = "production"
	Development = "development"
)

const defaultDatabaseURL = "postgres://localhost:5432/patd?sslmode=disable"

// Config is everything patd is told by its environment.
type Config struct {
	Port int
	// BindAddr is the IP address the HTTP port listens on; empty: all.
	BindAddr string
	// MetricsAddr (host:port) is where /metrics is served apart from the
	// other routes; empty: on the HTTP port with them.
	MetricsAddr string
	DatabaseURL string
	// RedisURL is empty when limits are kept in process.
	RedisURL string
	// RedisKeyPrefix starts every Redis key ("patd:"; tests use their own).
	RedisKeyPrefix string

	JWTSecret   []byte
	JWTIssuer   string // empty: not checked
	JWTAudience string // empty: not checked
	// ServiceSecrets are the secrets backends may present; more than one while
	// a secret is being rotated.
	ServiceSecrets [][]byte

	Env         string
	TokenPrefix string

	CreateLimit int
	// CreateWindow is the rolling window of CreateLimit: 24 h, shorter only in tests.
	CreateWindow time.Duration
	MaxActive    int
	ValidateRate int
	// AuthFailureLimit is how many failed bearer authentications a client
	// address may make per minute before its tokens are refused unchecked
	// (0: no limit).
	AuthFailureLimit int
	// ValidateWindow is the window of ValidateRate: a minute, shorter only in tests.
	ValidateWindow time.Duration
	CacheTTL       time.Duration
	// StatementTimeout bounds every SQL statement of the serving pool (0: none).
	StatementTimeout time.Duration
	// CacheSize bounds the validation cache, in entries (PAT_CACHE_SIZE).
	CacheSize     int
	MaxDepth      int
	MaxComplexity int

	TrustedProxies []netip.Prefix

	// AuthServiceURL is the auth service patd asks about organization
	// membership; empty: organization tokens cannot be created.
	AuthServiceURL string
	// AppURL is the web app, where CLI login links point.
	AppURL string

	// AccessLogSample is the share of ordinary validate answers that get an
	// access-log line (ACCESS_LOG_SAMPLE); PprofAddr, when set, a loopback
	// address serving net/http/pprof (PPROF_ADDR).
	AccessLogSample float64
	PprofAddr       string

	// Events: leak reports in (GitHub, GitLab), lifecycle webhooks out.
	Events Events

	// Generated names the secrets that development mode made up because they
	// were missing; the caller prints them.
	Generated []string
}

// ListenAddr is the address the HTTP port listens on, for net.Listen.
func (c *Config) ListenAddr() string {
	return net.JoinHostPort(c.BindAddr, strconv.Itoa(c.Port))
}

// Development reports whether patd runs in development mode.
func (c *Config) Development() bool { return c.Env == Development }

// DefaultMaxComplexity lets a full page through: first: 500 with every token
// field, user { id } and __typename costs about 7,500.
const DefaultMaxComplexity = 10000

// Load reads the configuration through lookupEnv (os.LookupEnv in production)
// and checks it. Errors name the variable at fault, and every bad variable is
// reported, not only the first. A variable set to the empty string counts as
// unset, except JWT_ISSUER and JWT_AUDIENCE, where empty means "not checked".
func Load(lookupEnv func(string) (string, bool)) (*Config, error) {
	r := &reader{lookup: lookupEnv}
	c := &Config{
		CreateWindow:   24 * time.Hour,
		RedisKeyPrefix: "patd:",
		ValidateWindow: time.Minute,
	}
	// The environment first: what is required of the secrets depends on it.
	r.server(c)
	r.stores(c)
	r.limits(c)
	r.secrets(c)
	r.services(c)
	r.perf(c)
	r.events(c)
	if err := errors.Join(r.errs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// services reads where the services patd talks to are: AUTH_SERVICE_URL
// and APP_URL.
func (r *reader) services(c *Config) {
	c.AuthServiceURL = r.url("AUTH_SERVICE_URL", "")
	c.AppURL = strings.TrimRight(r.url("APP_URL", "https://app.alternatefutures.ai"), "/")
}

// url is the http(s) URL in name, def when unset.
func (r *reader) url(name, def string) string {
	s := strings.TrimSpace(r.str(name, def))
	if s != "" && !isHTTPURL(s) {
		r.fail("%s: want an http:// or https:// URL", name)
	}
	return s
}

// reader reads variables and collects what is wrong with them.
type reader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (r *reader) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf(format, args...))
}

// str is the value of name, or def when it is unset or empty (JWT_ISSUER and
// JWT_AUDIENCE may be set to empty).
func (r *reader) str(name, def string) string {
	v, ok := r.lookup(name)
	if !ok || (v == "" && name != "JWT_ISSUER" && name != "JWT_AUDIENCE") {
		return def
	}
	return v
}

// int is the whole number in name, def when unset; below min is an error.
func (r *reader) int(name string, def, min int) int {
	s := r.str(name, strconv.Itoa(def))
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < min {
		r.fail("%s: want a whole number of at least %d, got %q", name, min, s)
	}
	return n
}

// server reads how the process runs, where it listens and whom it believes:
// PATD_ENV, PORT, BIND_ADDR, METRICS_ADDR and TRUSTED_PROXIES.
func (r *reader) server(c *Config) {
	c.Env = r.str("PATD_ENV", Production)
	switch c.Env {
	case Production, Development:
	default:
		r.fail("PATD_ENV: want %q or %q, got %q", Production, Development, c.Env)
	}
	c.Port = r.int("PORT", 8080, 0)
	if c.Port > 65535 {
		r.fail("PORT: %d is not a port", c.Port)
	}
	// Addresses, not host names: a name could resolve to an interface
	// nobody meant to expose.
	if s := strings.TrimSpace(r.str("BIND_ADDR", "")); s != "" {
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" {
			r.fail("BIND_ADDR: want an IP address such as 127.0.0.1 or ::, got %q", s)
		}
		c.BindAddr = s
	}
	if s := strings.TrimSpace(r.str("METRICS_ADDR", "")); s != "" {
		if _, ok := listenAddr(s); !ok {
			r.fail("METRICS_ADDR: want an IP address and port such as 127.0.0.1:9090, got %q", s)
		}
		c.MetricsAddr = s
	}
	for _, s := range strings.Split(r.str("TRUSTED_PROXIES", ""), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				r.fail("TRUSTED_PROXIES: %q is not a CIDR", s)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
}

// listenAddr parses s as "ip:port" or ":port" with a numeric port; the IP is
// the zero Addr for ":port".
func listenAddr(s string) (ip netip.Addr, ok bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}, false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return netip.Addr{}, false
	}
	if host == "" {
		return netip.Addr{}, true
	}
	a, err := netip.ParseAddr(host)
	return a, err == nil && a.Zone() == ""
}

// stores reads where PostgreSQL and Redis are.
func (r *reader) stores(c *Config) {
	c.DatabaseURL = r.str("DATABASE_URL", defaultDatabaseURL)
	c.RedisURL = r.str("REDIS_URL", "")
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		r.fail("REDIS_URL: want a redis:// or rediss:// URL")
	}
}

// limits reads the token rules and the limits on what callers may ask.
func (r *reader) limits(c *Config) {
	switch te := r.str("TOKEN_ENV", "live"); te {
	case "live":
		c.TokenPrefix = token.PrefixLive
	case "test":
		c.TokenPrefix = token.PrefixTest
	default:
		r.fail("TOKEN_ENV: want live or test, got %q", te)
	}
	c.CreateLimit = r.int("PAT_CREATE_LIMIT", 50, 1)
	c.MaxActive = r.int("PAT_MAX_ACTIVE", 500, 1)
	c.ValidateRate = r.int("PAT_VALIDATE_RATE", 1000, 0)
	c.AuthFailureLimit = r.int("AUTH_FAILURE_LIMIT", 60, 0)
	c.MaxDepth = r.int("GRAPHQL_MAX_DEPTH", 12, 1)
	c.MaxComplexity = r.int("GRAPHQL_MAX_COMPLEXITY", DefaultMaxComplexity, 1)
	c.CacheTTL = r.duration("PAT_CACHE_TTL", "30s")
	c.StatementTimeout = r.duration("DB_STATEMENT_TIMEOUT", "5s")
}

// duration is the Go duration in name ("30s"), def when unset; negative is
// an error.
func (r *reader) duration(name, def string) time.Duration {
	s := r.str(name, def)
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		r.fail("%s: want a duration such as %s, got %q", name, def, s)
	}
	return d
}

// MinSecretLength is the fewest bytes production accepts in JWT_SECRET and in
// each AUTH_SERVICE_SECRET value: an HS256 key shorter than its 32-byte hash
// can be guessed offline from any one JWT it signed.
const MinSecretLength = 32

// secrets reads the JWT settings and the service secrets. In development a
// missing secret is generated (and listed in c.Generated) and a short one is
// taken as it is; in production either is an error.
func (r *reader) secrets(c *Config) {
	c.JWTIssuer = r.str("JWT_ISSUER", "alternatefutures-auth")
	c.JWTAudience = r.str("JWT_AUDIENCE", "alternatefutures-app")
	if s := strings.TrimSpace(r.str("JWT_SECRET", "")); s != "" {
		c.JWTSecret = []byte(s)
		r.long(c, "JWT_SECRET", "", s)
	} else if c.Development() {
		c.JWTSecret = []byte(randomSecret())
		c.Generated = append(c.Generated, "JWT_SECRET")
	} else {
		r.fail("JWT_SECRET: required")
	}
	values := strings.Split(r.str("AUTH_SERVICE_SECRET", ""), ",")
	for i, s := range values {
		if s = strings.TrimSpace(s); s != "" {
			c.ServiceSecrets = append(c.ServiceSecrets, []byte(s))
			which := ""
			if len(values) > 1 {
				which = fmt.Sprintf("value %d of the list: ", i+1)
			}
			r.long(c, "AUTH_SERVICE_SECRET", which, s)
		}
	}
	if len(c.ServiceSecrets) == 0 {
		if c.Development() {
			c.ServiceSecrets = [][]byte{[]byte(randomSecret())}
			c.Generated = append(c.Generated, "AUTH_SERVICE_SECRET")
		} else {
			r.fail("AUTH_SERVICE_SECRET: required")
		}
	}
}

// long refuses, in production, a secret shorter than MinSecretLength. The
// message gives its length, never the secret.
func (r *reader) long(c *Config, name, which, secret string) {
	if !c.Development() && len(secret) < MinSecretLength {
		r.fail("%s: %swant at least %d bytes, got %d", name, which, MinSecretLength, len(secret))
	}
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// DatabaseURL reads only DATABASE_URL, for the commands that need nothing else
// (migrate, cleanup, import).
func DatabaseURL(lookupEnv func(string) (string, bool)) string {
	if v, ok := lookupEnv("DATABASE_URL"); ok && v != "" {
		return v
	}
	return defaultDatabaseURL
}
