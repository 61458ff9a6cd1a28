// Package config reads patd's configuration from the environment once, at start,
// and checks it, so that the rest of the program receives plain values.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
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
	Port        int
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
	// ValidateWindow is the window of ValidateRate: a minute, shorter only in tests.
	ValidateWindow time.Duration
	CacheTTL       time.Duration
	// CacheSize bounds the validation cache, in entries (not configurable by
	// environment: 100,000 answers take about 20 MiB).
	CacheSize     int
	MaxDepth      int
	MaxComplexity int

	TrustedProxies []netip.Prefix

	// AuthServiceURL is the auth service patd asks about organization
	// membership; empty: organization tokens cannot be created.
	AuthServiceURL string
	// AppURL is the web app, where CLI login links point.
	AppURL string

	// Events: leak reports in (GitHub, GitLab), lifecycle webhooks out.
	Events Events

	// Generated names the secrets that development mode made up because they
	// were missing; the caller prints them.
	Generated []string
}

// Development reports whether patd runs in development mode.
func (c *Config) Development() bool { return c.Env == Development }

// DefaultMaxComplexity lets a full page through: first: 500 with every token
// field, user { id } and __typename costs about 7,500.
const DefaultMaxComplexity = 10000

// Load reads the configuration through lookupEnv (os.LookupEnv in production)
// and checks it. Errors name the variable at fault. A variable set to the empty
// string counts as unset, except JWT_ISSUER and JWT_AUDIENCE, where empty means
// "not checked".
func Load(lookupEnv func(string) (string, bool)) (*Config, error) {
	env := func(name, def string) string {
		v, ok := lookupEnv(name)
		if !ok || (v == "" && name != "JWT_ISSUER" && name != "JWT_AUDIENCE") {
			return def
		}
		return v
	}
	var errs []error
	intVar := func(name string, def, min int) int {
		s := env(name, strconv.Itoa(def))
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s: want a whole number of at least %d, got %q", name, min, s))
		}
		return n
	}

	c := &Config{
		DatabaseURL:    env("DATABASE_URL", defaultDatabaseURL),
		RedisURL:       env("REDIS_URL", ""),
		JWTIssuer:      env("JWT_ISSUER", "alternatefutures-auth"),
		JWTAudience:    env("JWT_AUDIENCE", "alternatefutures-app"),
		Env:            env("PATD_ENV", Production),
		CreateWindow:   24 * time.Hour,
		CacheSize:      100_000,
		RedisKeyPrefix: "patd:",
		ValidateWindow: time.Minute,
		AuthServiceURL: env("AUTH_SERVICE_URL", ""),
		AppURL:         strings.TrimRight(env("APP_URL", "https://app.alternatefutures.ai"), "/"),
	}
	c.Port = intVar("PORT", 8080, 0)
	if c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT: %d is not a port", c.Port))
	}
	c.CreateLimit = intVar("PAT_CREATE_LIMIT", 50, 1)
	c.MaxActive = intVar("PAT_MAX_ACTIVE", 500, 1)
	c.ValidateRate = intVar("PAT_VALIDATE_RATE", 1000, 0)
	c.MaxDepth = intVar("GRAPHQL_MAX_DEPTH", 12, 1)
	c.MaxComplexity = intVar("GRAPHQL_MAX_COMPLEXITY", DefaultMaxComplexity, 1)

	ttl := env("PAT_CACHE_TTL", "30s")
	d, err := time.ParseDuration(ttl)
	if err != nil || d < 0 {
		errs = append(errs, fmt.Errorf("PAT_CACHE_TTL: want a duration such as 30s, got %q", ttl))
	}
	c.CacheTTL = d

	switch c.Env {
	case Production, Development:
	default:
		errs = append(errs, fmt.Errorf("PATD_ENV: want %q or %q, got %q", Production, Development, c.Env))
	}
	switch te := env("TOKEN_ENV", "live"); te {
	case "live":
		c.TokenPrefix = token.PrefixLive
	case "test":
		c.TokenPrefix = token.PrefixTest
	default:
		errs = append(errs, fmt.Errorf("TOKEN_ENV: want live or test, got %q", te))
	}

	for name, u := range map[string]string{"AUTH_SERVICE_URL": c.AuthServiceURL, "APP_URL": c.AppURL} {
		if p, err := url.Parse(u); u != "" && (err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "") {
			errs = append(errs, fmt.Errorf("%s: want an http:// or https:// URL", name))
		}
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		errs = append(errs, errors.New("REDIS_URL: want a redis:// or rediss:// URL"))
	}

	for _, s := range strings.Split(env("TRUSTED_PROXIES", ""), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR", s))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}

	if s := strings.TrimSpace(env("JWT_SECRET", "")); s != "" {
		c.JWTSecret = []byte(s)
	} else if c.Development() {
		c.JWTSecret = []byte(randomSecret())
		c.Generated = append(c.Generated, "JWT_SECRET")
	} else {
		errs = append(errs, errors.New("JWT_SECRET: required"))
	}
	for _, s := range strings.Split(env("AUTH_SERVICE_SECRET", ""), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.ServiceSecrets = append(c.ServiceSecrets, []byte(s))
		}
	}
	if len(c.ServiceSecrets) == 0 {
		if c.Development() {
			c.ServiceSecrets = [][]byte{[]byte(randomSecret())}
			c.Generated = append(c.Generated, "AUTH_SERVICE_SECRET")
		} else {
			errs = append(errs, errors.New("AUTH_SERVICE_SECRET: required"))
		}
	}
	var eventErrs []error
	c.Events, eventErrs = loadEvents(env)
	errs = append(errs, eventErrs...)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
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
