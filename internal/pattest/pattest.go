// Package pattest starts real patd replicas for integration tests: each test
// gets its own PostgreSQL database (dropped afterwards), its own Redis key
// prefix and a free port, so tests run in parallel and two runs at once.
package pattest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/logging"
	"github.com/alternatefutures/patd/internal/server"
)

// Secrets of test replicas, as long as production requires
// (config.MinSecretLength), so that replicas run with the production checks.
const (
	// ServiceSecret is the AUTH_SERVICE_SECRET of test replicas.
	ServiceSecret = "test-service-secret-0123456789abcdef"
	// JWTSecret is the JWT_SECRET of test replicas.
	JWTSecret = "test-jwt-secret-0123456789abcdefghij"
)

// AdminURL is the PostgreSQL database tests connect to in order to create and
// drop their own; PATD_TEST_DATABASE_URL overrides it.
func AdminURL() string {
	if u := os.Getenv("PATD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL is the Redis that tests use; PATD_TEST_REDIS_URL overrides it.
func RedisURL() string {
	if u := os.Getenv("PATD_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Unique returns a name nobody else uses, for databases and key prefixes.
func Unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// FreePort returns a loopback port that nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Database creates an empty database for t and returns its URL. The database
// is dropped when t ends.
func Database(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("connect to PostgreSQL (is it running? make services): %v", err)
	}
	defer admin.Close(ctx)
	name := Unique("patd_test_")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Errorf("drop database: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	return strings.Replace(AdminURL(), "/postgres?", "/"+name+"?", 1)
}

// Config returns the configuration of a test replica with its own database
// and its own Redis key prefix. Replicas started from one Config share both.
func Config(t testing.TB) *config.Config {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":        Database(t),
		"REDIS_URL":           RedisURL(),
		"JWT_SECRET":          JWTSecret,
		"AUTH_SERVICE_SECRET": ServiceSecret,
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.RedisKeyPrefix = RedisPrefix(t, cfg.RedisURL)
	// Every test runs from 127.0.0.1, and many present bad credentials on
	// purpose; the test of the limit sets its own.
	cfg.AuthFailureLimit = 0
	return cfg
}

// RedisPrefix returns a key prefix of t's own in the Redis at url, and
// deletes its keys when t ends.
func RedisPrefix(t testing.TB, url string) string {
	t.Helper()
	prefix := Unique("patdtest:") + ":"
	t.Cleanup(func() {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return
		}
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// Replica is a running patd.
type Replica struct {
	URL    string
	Config *config.Config
	Server *server.Server
	t      testing.TB

	queries *queryCounter
	logs    *LogBuffer
	stop    func()
}

// Logs returns the lines the replica has logged so far (WARN and above).
func (r *Replica) Logs() []string { return r.logs.Lines() }

// LogBuffer is a log destination that a test reads while other goroutines
// write to it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns all that has been written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns what has been written so far, a line each, without the
// newlines.
func (b *LogBuffer) Lines() []string {
	s := strings.TrimSuffix(b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Stop shuts the replica down as SIGTERM would: in-flight requests finish and
// pending lastUsedAt values are written.
func (r *Replica) Stop() { r.stop() }

// Queries returns how many SQL statements the replica has sent so far whose
// text contains substr (all of them for "").
func (r *Replica) Queries(substr string) int {
	r.queries.mu.Lock()
	defer r.queries.mu.Unlock()
	n := 0
	for _, q := range r.queries.sql {
		if strings.Contains(q, substr) {
			n++
		}
	}
	return n
}

type queryCounter struct {
	mu    sync.Mutex
	sql   []string
	delay map[string]time.Duration // statement substring → pause after it
}

// DelayAfter makes every statement containing substr pause for d once its
// rows have been read, before the caller sees them: a way to widen races.
func (r *Replica) DelayAfter(substr string, d time.Duration) {
	r.queries.mu.Lock()
	defer r.queries.mu.Unlock()
	if r.queries.delay == nil {
		r.queries.delay = map[string]time.Duration{}
	}
	r.queries.delay[substr] = d
}

type sqlKey struct{}

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	c.sql = append(c.sql, d.SQL)
	c.mu.Unlock()
	return context.WithValue(ctx, sqlKey{}, d.SQL)
}

func (c *queryCounter) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	sql, _ := ctx.Value(sqlKey{}).(string)
	c.mu.Lock()
	var pause time.Duration
	for substr, d := range c.delay {
		if strings.Contains(sql, substr) {
			pause = d
		}
	}
	c.mu.Unlock()
	time.Sleep(pause)
}

// Start runs a replica with cfg on a free loopback port until t ends.
func Start(t testing.TB, cfg *config.Config) *Replica {
	t.Helper()
	return StartWith(t, cfg, server.Options{})
}

// StartWith is Start with the replica's options (a TracerProvider); its
// QueryTracer is always the one Queries counts with.
func StartWith(t testing.TB, cfg *config.Config, opts server.Options) *Replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &LogBuffer{}
	log := logging.New(testWriter{t: t, logs: logs}, slog.LevelWarn)
	tracer := &queryCounter{}
	opts.QueryTracer = tracer
	srv, err := server.New(ctx, cfg, log, opts)
	if err != nil {
		cancel()
		t.Fatalf("start patd: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	r := &Replica{URL: "http://" + ln.Addr().String(), Config: cfg, Server: srv, t: t, queries: tracer, logs: logs}
	r.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		srv.Close()
	})
	t.Cleanup(r.Stop)
	r.waitReady()
	return r
}

// JWT returns a valid session JWT for userID.
func (r *Replica) JWT(userID string) string {
	r.t.Helper()
	s, err := auth.SignSession(auth.JWTConfig{Secret: r.Config.JWTSecret, Issuer: r.Config.JWTIssuer, Audience: r.Config.JWTAudience}, userID, time.Hour)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it is not JSON.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.Body)
	}
}

// httpClient sends every request of the tests; the timeout turns a hung
// replica into a failure instead of a stuck test binary.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// Do sends a request with the given headers ("Name: value") and body (a
// string, []byte, an io.Reader, sent as it is and chunked unless it knows its
// length, or anything else as JSON).
func (r *Replica) Do(method, path string, body any, headers ...string) Response {
	r.t.Helper()
	resp, err := r.Send(method, path, body, headers...)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp
}

// Send is Do reporting failures as an error instead of failing the test, so
// that goroutines other than the test's may use it.
func (r *Replica) Send(method, path string, body any, headers ...string) (Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, r.URL+path, rd)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		if h == "" {
			continue
		}
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// CreateToken creates a token named name for user over GraphQL, expiring at
// expiresAt (nil: never), and returns its id and secret.
func (r *Replica) CreateToken(t testing.TB, user, name string, expiresAt *time.Time) (id, secret string) {
	t.Helper()
	vars := map[string]any{"name": name}
	if expiresAt != nil {
		vars["exp"] = expiresAt.UTC().Format(time.RFC3339Nano)
	}
	var out struct {
		C struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		} `json:"createPersonalAccessToken"`
	}
	r.GraphQL(t, r.JWT(user), `mutation($name: String!, $exp: Date) { createPersonalAccessToken(name: $name, expiresAt: $exp) { id token } }`, vars).OK(t).Decode(t, &out)
	return out.C.ID, out.C.Token
}

// SDL returns the replica's `_service { sdl }`, the document a router's
// composition gets, failing t when it is empty.
func (r *Replica) SDL(t testing.TB) string {
	t.Helper()
	res := r.GraphQL(t, "", `{ _service { sdl } }`, nil).OK(t)
	var out struct {
		Service struct {
			SDL string `json:"sdl"`
		} `json:"_service"`
	}
	res.Decode(t, &out)
	if strings.TrimSpace(out.Service.SDL) == "" {
		t.Fatalf("_service { sdl } is empty: %s", res.Data)
	}
	return out.Service.SDL
}

// GraphQLResult is a GraphQL answer.
type GraphQLResult struct {
	Status int
	Data   json.RawMessage
	Errors []GraphQLError
	// Body is the response body as sent, for checks on the raw text.
	Body []byte `json:"-"`
}

// GraphQLError is one entry of "errors".
type GraphQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is extensions.code.
func (e GraphQLError) Code() string { s, _ := e.Extensions["code"].(string); return s }

// GraphQL posts a query with variables, authenticated by bearer when not
// empty and with any extra headers ("Name: value"), failing t when there is
// no GraphQL answer. t is the calling test's, not the replica's, so that
// parallel subtests can use it.
func (r *Replica) GraphQL(t testing.TB, bearer, query string, vars map[string]any, headers ...string) GraphQLResult {
	t.Helper()
	authz := ""
	if bearer != "" {
		authz = "Bearer " + bearer
	}
	res, err := r.PostGraphQL(authz, query, vars, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// PostGraphQL posts a query with variables, the Authorization header value
// authz ("" for none: tests of odd headers give it whole) and any extra
// headers ("Name: value"). It never touches a testing.T, so goroutines may
// call it.
func (r *Replica) PostGraphQL(authz, query string, vars map[string]any, headers ...string) (GraphQLResult, error) {
	if authz != "" {
		headers = append(headers[:len(headers):len(headers)], "Authorization: "+authz)
	}
	resp, err := r.Send(http.MethodPost, "/graphql", map[string]any{"query": query, "variables": vars}, headers...)
	if err != nil {
		return GraphQLResult{}, err
	}
	out := GraphQLResult{Status: resp.Status, Body: resp.Body}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return GraphQLResult{}, fmt.Errorf("status %d, body is not JSON (%v): %s", resp.Status, err, resp.Body)
	}
	return out, nil
}

// Decode decodes Data into v.
func (g GraphQLResult) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(g.Data, v); err != nil {
		t.Fatalf("data: %v: %s", err, g.Data)
	}
}

// Code is the code of the only error, failing the test unless there is exactly one.
func (g GraphQLResult) Code(t testing.TB) string {
	t.Helper()
	if len(g.Errors) != 1 {
		t.Fatalf("want exactly one error, got %d: %+v (data %s)", len(g.Errors), g.Errors, g.Data)
	}
	return g.Errors[0].Code()
}

// OK fails the test when the result has errors.
func (g GraphQLResult) OK(t testing.TB) GraphQLResult {
	t.Helper()
	if len(g.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", g.Errors)
	}
	return g
}

// testWriter writes a replica's log to its test's log, and keeps it for
// Logs. The JSON handler writes one line per call.
type testWriter struct {
	t    testing.TB
	logs *LogBuffer
}

func (w testWriter) Write(p []byte) (int, error) {
	_, _ = w.logs.Write(p)
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// String formats for failure messages.
func (r Response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// waitReady waits until the replica reports ready (its revocation listener
// among other things), so that tests start from a replica that hears
// revocations.
func (r *Replica) waitReady() {
	r.t.Helper()
	WaitReady(r.t, r.URL, 10*time.Second)
}

// WaitReady polls baseURL's /readyz until it answers 200, failing t if that
// takes longer than within.
func WaitReady(t testing.TB, baseURL string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(baseURL + "/readyz")
		last := ""
		if err != nil {
			last = err.Error()
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s (last: %s)", baseURL, within, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Eventually polls cond until it reports done, failing the test with cond's
// last description if that takes longer than within.
func Eventually(t testing.TB, within time.Duration, cond func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		done, state := cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after %s: %s", within, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
