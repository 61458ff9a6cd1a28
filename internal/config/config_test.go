package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/token"
)

// lookup returns a lookupEnv backed by env: a key present in the map is set
// (possibly to the empty string), any other is unset.
func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// Secrets long enough for production (MinSecretLength bytes).
const (
	jwtSecret     = "jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	serviceSecret = "service-secret-0123456789abcdefghijklmnopqrstuvwxyz"
)

// withSecrets returns env plus both required secrets, so that production
// configurations load.
func withSecrets(env map[string]string) map[string]string {
	out := map[string]string{"JWT_SECRET": jwtSecret, "AUTH_SERVICE_SECRET": serviceSecret}
	for k, v := range env {
		out[k] = v
	}
	return out
}

func mustLoad(t *testing.T, env map[string]string) *Config {
	t.Helper()
	c, err := Load(lookup(env))
	if err != nil {
		t.Fatalf("Load(%v): %v", env, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, withSecrets(nil))
	checks := []struct {
		name      string
		got, want any
	}{
		{"Port", c.Port, 8080},
		{"DatabaseURL", c.DatabaseURL, "postgres://localhost:5432/patd?sslmode=disable"},
		{"RedisURL", c.RedisURL, ""},
		{"CreateLimit", c.CreateLimit, 50},
		{"CreateWindow", c.CreateWindow, 24 * time.Hour},
		{"MaxActive", c.MaxActive, 500},
		{"ValidateRate", c.ValidateRate, 1000},
		{"ValidateWindow", c.ValidateWindow, time.Minute},
		{"CacheTTL", c.CacheTTL, 30 * time.Second},
		{"MaxDepth", c.MaxDepth, 12},
		{"MaxComplexity", c.MaxComplexity, DefaultMaxComplexity},
		{"Env", c.Env, Production},
		{"Development()", c.Development(), false},
		{"TokenPrefix", c.TokenPrefix, "af_live_"},
		{"TokenPrefix const", c.TokenPrefix, token.PrefixLive},
		{"JWTIssuer", c.JWTIssuer, "alternatefutures-auth"},
		{"JWTAudience", c.JWTAudience, "alternatefutures-app"},
		{"JWTSecret", string(c.JWTSecret), jwtSecret},
		{"ServiceSecrets", len(c.ServiceSecrets), 1},
		{"TrustedProxies", len(c.TrustedProxies), 0},
		{"Generated", len(c.Generated), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if c.CacheSize <= 0 {
		t.Errorf("CacheSize = %d, want > 0", c.CacheSize)
	}
	if c.RedisKeyPrefix == "" {
		t.Error("RedisKeyPrefix is empty")
	}
	// A full page (first: 500 with every field) must get through the default.
	if c.MaxComplexity < 7500 {
		t.Errorf("default MaxComplexity %d lets no full page through", c.MaxComplexity)
	}
}

// Set to the empty string, the numeric and other variables fall back to their
// defaults: empty counts as unset.
func TestEmptyMeansDefault(t *testing.T) {
	c := mustLoad(t, withSecrets(map[string]string{
		"PORT": "", "PAT_CREATE_LIMIT": "", "PAT_MAX_ACTIVE": "", "PAT_VALIDATE_RATE": "",
		"PAT_CACHE_TTL": "", "GRAPHQL_MAX_DEPTH": "", "TOKEN_ENV": "", "PATD_ENV": "",
		"REDIS_URL": "", "TRUSTED_PROXIES": "", "DATABASE_URL": "",
	}))
	if c.Port != 8080 || c.CreateLimit != 50 || c.MaxActive != 500 || c.ValidateRate != 1000 ||
		c.CacheTTL != 30*time.Second || c.MaxDepth != 12 || c.TokenPrefix != "af_live_" ||
		c.Env != Production || c.RedisURL != "" || c.DatabaseURL == "" {
		t.Errorf("empty variables did not give the defaults: %+v", c)
	}
}

func TestValuesAreRead(t *testing.T) {
	c := mustLoad(t, withSecrets(map[string]string{
		"PORT":                   "9090",
		"DATABASE_URL":           "postgres://db/x",
		"REDIS_URL":              "rediss://cache:6380/1",
		"PAT_CREATE_LIMIT":       "5",
		"PAT_MAX_ACTIVE":         "7",
		"PAT_VALIDATE_RATE":      "0",
		"PAT_CACHE_TTL":          "1m30s",
		"GRAPHQL_MAX_DEPTH":      "20",
		"GRAPHQL_MAX_COMPLEXITY": "123",
		"TOKEN_ENV":              "test",
		"JWT_ISSUER":             "iss",
		"JWT_AUDIENCE":           "aud",
	}))
	if c.Port != 9090 || c.DatabaseURL != "postgres://db/x" || c.RedisURL != "rediss://cache:6380/1" ||
		c.CreateLimit != 5 || c.MaxActive != 7 || c.ValidateRate != 0 || c.CacheTTL != 90*time.Second ||
		c.MaxDepth != 20 || c.MaxComplexity != 123 || c.TokenPrefix != "af_test_" ||
		c.JWTIssuer != "iss" || c.JWTAudience != "aud" {
		t.Errorf("values not read: %+v", c)
	}
	if c.TokenPrefix != token.PrefixTest {
		t.Errorf("TOKEN_ENV=test: prefix %q, want %q", c.TokenPrefix, token.PrefixTest)
	}
}

func TestIssuerAudienceEmptyMeansNotChecked(t *testing.T) {
	c := mustLoad(t, withSecrets(map[string]string{"JWT_ISSUER": "", "JWT_AUDIENCE": ""}))
	if c.JWTIssuer != "" || c.JWTAudience != "" {
		t.Errorf("JWT_ISSUER/JWT_AUDIENCE set to empty: got %q / %q, want both empty (not checked)", c.JWTIssuer, c.JWTAudience)
	}
	c = mustLoad(t, withSecrets(map[string]string{"JWT_ISSUER": ""}))
	if c.JWTIssuer != "" || c.JWTAudience != "alternatefutures-app" {
		t.Errorf("only JWT_ISSUER empty: got %q / %q", c.JWTIssuer, c.JWTAudience)
	}
}

func TestProductionRequiresSecrets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		missing []string
	}{
		{"both unset", map[string]string{}, []string{"JWT_SECRET", "AUTH_SERVICE_SECRET"}},
		{"no JWT_SECRET", map[string]string{"AUTH_SERVICE_SECRET": serviceSecret}, []string{"JWT_SECRET"}},
		{"no AUTH_SERVICE_SECRET", map[string]string{"JWT_SECRET": jwtSecret}, []string{"AUTH_SERVICE_SECRET"}},
		{"empty JWT_SECRET", map[string]string{"JWT_SECRET": "", "AUTH_SERVICE_SECRET": serviceSecret}, []string{"JWT_SECRET"}},
		{"empty AUTH_SERVICE_SECRET", map[string]string{"JWT_SECRET": jwtSecret, "AUTH_SERVICE_SECRET": ""}, []string{"AUTH_SERVICE_SECRET"}},
		{"blank JWT_SECRET", map[string]string{"JWT_SECRET": "   ", "AUTH_SERVICE_SECRET": serviceSecret}, []string{"JWT_SECRET"}},
		{"only commas in AUTH_SERVICE_SECRET", map[string]string{"JWT_SECRET": jwtSecret, "AUTH_SERVICE_SECRET": " , ,"}, []string{"AUTH_SERVICE_SECRET"}},
		{"explicit production", map[string]string{"PATD_ENV": "production", "JWT_SECRET": jwtSecret}, []string{"AUTH_SERVICE_SECRET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(lookup(tc.env))
			if err == nil {
				t.Fatalf("Load succeeded in production without %v: %+v", tc.missing, c)
			}
			if c != nil {
				t.Errorf("Load returned a config with its error: %+v", c)
			}
			for _, name := range tc.missing {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
			for _, name := range []string{"JWT_SECRET", "AUTH_SERVICE_SECRET"} {
				if !slices.Contains(tc.missing, name) && strings.Contains(err.Error(), name+":") {
					t.Errorf("error %q names %s, which was given", err, name)
				}
			}
		})
	}
}

func TestServiceSecretList(t *testing.T) {
	a, b, cc := strings.Repeat("a", 32), strings.Repeat("b", 40), strings.Repeat("c", 64)
	c := mustLoad(t, map[string]string{"JWT_SECRET": jwtSecret, "AUTH_SERVICE_SECRET": a + ", " + b + " ," + cc})
	var got []string
	for _, s := range c.ServiceSecrets {
		got = append(got, string(s))
	}
	if !slices.Equal(got, []string{a, b, cc}) {
		t.Errorf("ServiceSecrets = %q, want [a… b… c…]", got)
	}
	c = mustLoad(t, map[string]string{"JWT_SECRET": jwtSecret, "AUTH_SERVICE_SECRET": a + ",," + b + ","})
	if len(c.ServiceSecrets) != 2 {
		t.Errorf("empty entries kept: %q", c.ServiceSecrets)
	}
}

// In production a secret shorter than 32 bytes is refused, naming the
// variable and never showing the secret: an HS256 key or a service secret
// that short can be guessed offline from one signed JWT, or online.
func TestProductionRequiresLongSecrets(t *testing.T) {
	short := strings.Repeat("s", MinSecretLength-1)
	exact := strings.Repeat("e", MinSecretLength)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		refused []string // variables the error must name; none: loads
	}{
		{"short JWT_SECRET", map[string]string{"JWT_SECRET": short, "AUTH_SERVICE_SECRET": serviceSecret}, []string{"JWT_SECRET"}},
		{"short AUTH_SERVICE_SECRET", map[string]string{"JWT_SECRET": jwtSecret, "AUTH_SERVICE_SECRET": short}, []string{"AUTH_SERVICE_SECRET"}},
		{"one short AUTH_SERVICE_SECRET of two", map[string]string{"JWT_SECRET": jwtSecret, "AUTH_SERVICE_SECRET": serviceSecret + "," + short}, []string{"AUTH_SERVICE_SECRET"}},
		{"both short", map[string]string{"JWT_SECRET": short, "AUTH_SERVICE_SECRET": short}, []string{"JWT_SECRET", "AUTH_SERVICE_SECRET"}},
		{"short once trimmed", map[string]string{"JWT_SECRET": "  " + short + "  ", "AUTH_SERVICE_SECRET": serviceSecret}, []string{"JWT_SECRET"}},
		{"exactly 32 bytes", map[string]string{"JWT_SECRET": exact, "AUTH_SERVICE_SECRET": exact}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(lookup(tc.env))
			if len(tc.refused) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded in production with a short secret (%d-byte JWT secret)", len(c.JWTSecret))
			}
			for _, name := range tc.refused {
				if !strings.Contains(err.Error(), name+":") {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
			for _, name := range []string{"JWT_SECRET", "AUTH_SERVICE_SECRET"} {
				if !slices.Contains(tc.refused, name) && strings.Contains(err.Error(), name+":") {
					t.Errorf("error %q names %s, which is long enough", err, name)
				}
			}
			if strings.Contains(err.Error(), short) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
	// Development takes what it is given: it never guards anything real.
	c := mustLoad(t, map[string]string{"PATD_ENV": "development", "JWT_SECRET": "j", "AUTH_SERVICE_SECRET": "a"})
	if string(c.JWTSecret) != "j" || len(c.ServiceSecrets) != 1 || string(c.ServiceSecrets[0]) != "a" {
		t.Errorf("development with short secrets: %q %q", c.JWTSecret, c.ServiceSecrets)
	}
}

func TestDevelopmentGeneratesSecrets(t *testing.T) {
	c := mustLoad(t, map[string]string{"PATD_ENV": "development"})
	if !c.Development() {
		t.Fatal("Development() is false")
	}
	if len(c.JWTSecret) < 32 {
		t.Errorf("generated JWT secret too short: %d bytes", len(c.JWTSecret))
	}
	if len(c.ServiceSecrets) != 1 || len(c.ServiceSecrets[0]) < 32 {
		t.Errorf("generated service secrets: %q", c.ServiceSecrets)
	}
	if !slices.Contains(c.Generated, "JWT_SECRET") || !slices.Contains(c.Generated, "AUTH_SERVICE_SECRET") || len(c.Generated) != 2 {
		t.Errorf("Generated = %q, want JWT_SECRET and AUTH_SERVICE_SECRET", c.Generated)
	}
	if string(c.JWTSecret) == string(c.ServiceSecrets[0]) {
		t.Error("the two generated secrets are the same")
	}
	c2 := mustLoad(t, map[string]string{"PATD_ENV": "development"})
	if string(c.JWTSecret) == string(c2.JWTSecret) || string(c.ServiceSecrets[0]) == string(c2.ServiceSecrets[0]) {
		t.Error("generated secrets are not random")
	}

	// A secret that is given is used and not listed as generated.
	c = mustLoad(t, map[string]string{"PATD_ENV": "development", "JWT_SECRET": "given"})
	if string(c.JWTSecret) != "given" || !slices.Equal(c.Generated, []string{"AUTH_SERVICE_SECRET"}) {
		t.Errorf("JWT_SECRET given: secret %q, Generated %q", c.JWTSecret, c.Generated)
	}
	c = mustLoad(t, map[string]string{"PATD_ENV": "development", "AUTH_SERVICE_SECRET": "given", "JWT_SECRET": ""})
	if len(c.ServiceSecrets) != 1 || string(c.ServiceSecrets[0]) != "given" || !slices.Equal(c.Generated, []string{"JWT_SECRET"}) {
		t.Errorf("AUTH_SERVICE_SECRET given: secrets %q, Generated %q", c.ServiceSecrets, c.Generated)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"PORT", "abc"},
		{"PORT", "70000"},
		{"PORT", "-1"},
		{"PAT_CACHE_TTL", "forever"},
		{"PAT_CACHE_TTL", "-5s"},
		{"PAT_CREATE_LIMIT", "0"},
		{"PAT_CREATE_LIMIT", "many"},
		{"PAT_MAX_ACTIVE", "0"},
		{"PAT_VALIDATE_RATE", "-1"},
		{"GRAPHQL_MAX_DEPTH", "0"},
		{"GRAPHQL_MAX_COMPLEXITY", "x"},
		{"TOKEN_ENV", "prod"},
		{"PATD_ENV", "staging"},
		{"REDIS_URL", "http://x"},
		{"REDIS_URL", "localhost:6379"},
		{"TRUSTED_PROXIES", "notacidr"},
		{"TRUSTED_PROXIES", "10.0.0.0/8,300.1.1.1"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			c, err := Load(lookup(withSecrets(map[string]string{tc.name: tc.value})))
			if err == nil {
				t.Fatalf("%s=%q accepted: %+v", tc.name, tc.value, c)
			}
			if !strings.Contains(err.Error(), tc.name) {
				t.Errorf("%s=%q: error %q does not name the variable", tc.name, tc.value, err)
			}
		})
	}
}

// Every bad variable is reported at once, not only the first.
func TestAllErrorsReported(t *testing.T) {
	_, err := Load(lookup(map[string]string{"PORT": "abc", "TOKEN_ENV": "prod", "REDIS_URL": "http://x"}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, name := range []string{"PORT", "TOKEN_ENV", "REDIS_URL", "JWT_SECRET", "AUTH_SERVICE_SECRET"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// BIND_ADDR chooses the interface the HTTP port listens on (all by default);
// METRICS_ADDR, when set, gives /metrics a listener of its own.
func TestListenAddresses(t *testing.T) {
	c := mustLoad(t, withSecrets(nil))
	if c.BindAddr != "" || c.MetricsAddr != "" || c.ListenAddr() != ":8080" {
		t.Errorf("defaults: BindAddr %q, MetricsAddr %q, ListenAddr %q; want all interfaces, /metrics on the HTTP port",
			c.BindAddr, c.MetricsAddr, c.ListenAddr())
	}
	for _, tc := range []struct{ bind, port, metrics, listen string }{
		{"127.0.0.1", "9000", "127.0.0.1:9090", "127.0.0.1:9000"},
		{"::1", "", ":9090", "[::1]:8080"},
		{" 10.1.2.3 ", "", "[::1]:9090", "10.1.2.3:8080"},
		{"0.0.0.0", "", "", "0.0.0.0:8080"},
	} {
		c := mustLoad(t, withSecrets(map[string]string{"BIND_ADDR": tc.bind, "PORT": tc.port, "METRICS_ADDR": tc.metrics}))
		if c.ListenAddr() != tc.listen || c.MetricsAddr != tc.metrics {
			t.Errorf("BIND_ADDR=%q PORT=%q METRICS_ADDR=%q: listen %q, metrics %q; want %q, %q",
				tc.bind, tc.port, tc.metrics, c.ListenAddr(), c.MetricsAddr, tc.listen, tc.metrics)
		}
	}
	for _, tc := range []struct{ name, value string }{
		{"BIND_ADDR", "localhost:8080"},
		{"BIND_ADDR", "300.1.1.1"},
		{"BIND_ADDR", "example.com"},
		{"METRICS_ADDR", "9090"},
		{"METRICS_ADDR", "127.0.0.1"},
		{"METRICS_ADDR", "127.0.0.1:99999"},
		{"METRICS_ADDR", "127.0.0.1:http"},
		{"METRICS_ADDR", "nohost.example:9090"},
	} {
		c, err := Load(lookup(withSecrets(map[string]string{tc.name: tc.value})))
		if err == nil || !strings.Contains(err.Error(), tc.name+":") {
			t.Errorf("%s=%q: config %v, error %v; want an error naming %s", tc.name, tc.value, c != nil, err, tc.name)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	c := mustLoad(t, withSecrets(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1,172.16.5.4/12"}))
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "::1/128", "172.16.0.0/12"}
	if !slices.Equal(got, want) {
		t.Errorf("TrustedProxies = %q, want %q", got, want)
	}
	if !c.TrustedProxies[1].Contains(netip.MustParseAddr("192.168.1.7")) || c.TrustedProxies[1].Contains(netip.MustParseAddr("192.168.1.8")) {
		t.Error("a bare IP must trust that address only")
	}
}

func TestDatabaseURL(t *testing.T) {
	if got := DatabaseURL(lookup(nil)); got != "postgres://localhost:5432/patd?sslmode=disable" {
		t.Errorf("default DatabaseURL = %q", got)
	}
	if got := DatabaseURL(lookup(map[string]string{"DATABASE_URL": ""})); got != "postgres://localhost:5432/patd?sslmode=disable" {
		t.Errorf("empty DATABASE_URL = %q", got)
	}
	if got := DatabaseURL(lookup(map[string]string{"DATABASE_URL": "postgres://x/y"})); got != "postgres://x/y" {
		t.Errorf("DatabaseURL = %q", got)
	}
	// DatabaseURL needs nothing else: no secrets.
	if got := DatabaseURL(lookup(map[string]string{"DATABASE_URL": "postgres://x/y", "PORT": "abc"})); got != "postgres://x/y" {
		t.Errorf("DatabaseURL with other bad variables = %q", got)
	}
}
