// Command patd-bench is `make bench`: it measures patd as it runs in
// production, side by side with the machine's limit, and prints one table.
//
// It creates a database of its own (dropped at the end), starts bin/patd
// against it and the local Redis with every default on (caller secret,
// cache, per-token rate limit set too high to trip, lastUsedAt, metrics, INFO
// logs to a file), fills the token table with a million rows, and loads patd
// over loopback with internal/loadgen. The same validate loads go, alternating
// run by run, to bin/benchlimit, a minimal net/http server that decodes the
// same JSON and answers from a Go map: the limit. Every row is reported as a
// ratio to the limit in the same run, since absolute figures on a shared
// two-core machine mean little. The GraphQL list alternates likewise with
// its statement sent straight to PostgreSQL by as many callers: what the
// database alone gives for it.
//
//	patd-bench -patd bin/patd -limit bin/benchlimit [-duration 3s] [-rows 1000000]
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "patd-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	patd, limit string
	adminURL    string
	redisURL    string
	rows        int
	hot         int
	duration    time.Duration
	warmup      time.Duration
	keep        bool
	profile     string // directory for pprof profiles of the main patd; empty: none
	env         envFlag
	pool        int // pool_max_conns for patd's DATABASE_URL; 0: patd's default
	rounds      int
}

// envFlag collects -env NAME=VALUE, given to every patd the bench starts.
type envFlag map[string]string

func (e envFlag) String() string { return fmt.Sprint(map[string]string(e)) }

func (e envFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	e[k] = v
	return nil
}

type bench struct {
	opt       options
	out       io.Writer
	dir       string
	dbName    string
	dbURL     string
	extraDBs  []string // dropped with dbName
	db        *pgx.Conn
	secret    string
	jwtSecret string
	main      *proc
	limit     *proc
	others    []*proc
	pprofAddr string
	rows      []*row
	notes     []string

	// The rows the targets read, also in rows.
	hits                    []*row // patd's cache hits, at 16 and 64 conns
	malformed, legacy, miss *row
	small, large, covering  *row // scaleRows' misses with the cache off
	list, floor, create     *row // GraphQL, and the list's statement alone
}

// row is one line of the table.
type row struct {
	server string // patd or limit
	name   string
	conns  int
	res    *loadgen.Result
	// lookups is how many token-hash index scans PostgreSQL counted during
	// the row's patd runs; -1: not measured.
	lookups int64
	// vs is the limit row this one is compared with.
	vs   *row
	note string
	// served is the process that served the row; hwm its peak RSS (KiB),
	// read when the row was done.
	served *proc
	hwm    int64
}

// add appends rows served by p to the table.
func (b *bench) add(p *proc, rows ...*row) {
	for _, r := range rows {
		r.served, r.hwm = p, peakRSS(p.cmd.Process.Pid)
		b.rows = append(b.rows, r)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("patd-bench", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.patd, "patd", "bin/patd", "patd binary")
	fs.StringVar(&o.limit, "limit", "bin/benchlimit", "the limit's binary (cmd/benchlimit)")
	fs.StringVar(&o.adminURL, "db", envOr("PATD_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"PostgreSQL database to create and drop the bench's database from")
	fs.StringVar(&o.redisURL, "redis", envOr("PATD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis for patd's limits")
	fs.IntVar(&o.rows, "rows", 1_000_000, "rows in the token table")
	fs.IntVar(&o.hot, "hot", 100, "distinct tokens of the cache-hit load")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "measured time of each run")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured load before each run")
	fs.IntVar(&o.rounds, "rounds", 3, "runs per server of each row compared with another (limit and patd; 1,000 and all rows), alternating")
	fs.BoolVar(&o.keep, "keep", false, "keep the database and the logs (for a look at them)")
	fs.IntVar(&o.pool, "pool", 0, "pool_max_conns in patd's DATABASE_URL (0: patd's default)")
	o.env = envFlag{}
	fs.Var(o.env, "env", "NAME=VALUE for every patd the bench starts (repeatable), to try a setting")
	fs.StringVar(&o.profile, "profile", "", "write CPU profiles of the main patd under the cache-hit, miss and GraphQL loads, and its heap after the miss, to this directory (sets PPROF_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.rows < 2_000 {
		return fmt.Errorf("-rows: want at least 2000")
	}
	b := &bench{opt: o, out: out, secret: randomSecret(), jwtSecret: randomSecret()}
	defer b.cleanup()
	started := time.Now()
	if err := b.setup(ctx); err != nil {
		return err
	}
	if err := b.measure(ctx); err != nil {
		return err
	}
	b.stopAll()
	b.report(time.Since(started))
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func randomSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "patd-bench: "+format+"\n", args...)
}

// setup creates the database, starts the limit and the main patd.
func (b *bench) setup(ctx context.Context) error {
	var err error
	if b.dir, err = os.MkdirTemp("", "patd-bench-"); err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, b.opt.adminURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL (make services): %w", err)
	}
	defer admin.Close(ctx)
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	b.dbName = fmt.Sprintf("patd_bench_%x", suffix)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+b.dbName); err != nil {
		return err
	}
	b.dbURL = strings.Replace(b.opt.adminURL, "/postgres?", "/"+b.dbName+"?", 1)
	if b.dbURL == b.opt.adminURL {
		return fmt.Errorf("-db: want a URL ending in /postgres?…, got %q", b.opt.adminURL)
	}

	tokens := make([]string, b.opt.hot)
	for i := range tokens {
		tokens[i] = benchToken(i)
	}
	tokenFile := b.dir + "/hot-tokens"
	if err := os.WriteFile(tokenFile, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	b.limit, err = start(ctx, "limit", b.dir, b.opt.limit, []string{"-addr", addr, "-tokens", tokenFile},
		map[string]string{"BENCHLIMIT_SECRET": b.secret}, listening, addr)
	if err != nil {
		return err
	}
	b.logf("limit listening on %s", addr)
	// The main patd applies the migrations.
	var extra map[string]string
	if b.opt.profile != "" {
		if err := os.MkdirAll(b.opt.profile, 0o755); err != nil {
			return err
		}
		if b.pprofAddr, err = freeAddr(); err != nil {
			return err
		}
		extra = map[string]string{"PPROF_ADDR": b.pprofAddr}
	}
	if b.main, err = b.startPatd(ctx, "patd", extra); err != nil {
		return err
	}
	b.db, err = pgx.Connect(ctx, b.dbURL)
	return err
}

// withPool is url with -pool's pool_max_conns, when given.
func (b *bench) withPool(url string) string {
	if b.opt.pool <= 0 {
		return url
	}
	return url + "&pool_max_conns=" + strconv.Itoa(b.opt.pool)
}

// startPatd starts a patd with every default but those the bench must
// change (limits high enough never to trip), and extra.
func (b *bench) startPatd(ctx context.Context, name string, extra map[string]string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	env := map[string]string{
		"PORT":                port,
		"BIND_ADDR":           "127.0.0.1",
		"DATABASE_URL":        b.withPool(b.dbURL),
		"REDIS_URL":           b.opt.redisURL,
		"JWT_SECRET":          b.jwtSecret,
		"AUTH_SERVICE_SECRET": b.secret,
		// On, but never the cause of a refusal under this load.
		"PAT_VALIDATE_RATE": "1000000000",
		"PAT_CREATE_LIMIT":  "1000000",
		"PAT_MAX_ACTIVE":    "1000000",
	}
	for k, v := range b.opt.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	p, err := start(ctx, name, b.dir, b.opt.patd, []string{"serve"}, env, readyz, addr)
	if err != nil {
		return nil, err
	}
	b.logf("%s listening on %s", name, addr)
	if name != "patd" {
		b.others = append(b.others, p)
	}
	return p, nil
}

func (b *bench) stopAll() {
	for _, p := range append([]*proc{b.main, b.limit}, b.others...) {
		p.stop()
	}
}

func (b *bench) cleanup() {
	b.stopAll()
	ctx := context.Background()
	if b.db != nil {
		b.db.Close(ctx)
	}
	if b.dbName != "" && !b.opt.keep {
		if admin, err := pgx.Connect(ctx, b.opt.adminURL); err == nil {
			for _, name := range append([]string{b.dbName}, b.extraDBs...) {
				_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			}
			admin.Close(ctx)
		}
	}
	if b.dir != "" {
		if b.opt.keep {
			b.logf("kept database %s and logs in %s", b.dbName, b.dir)
		} else {
			_ = os.RemoveAll(b.dir)
		}
	}
}

// lookups is how many scans of an index on token_hash PostgreSQL has
// counted: one per lookup of a presented token. Nothing else patd does scans
// it (lastUsedAt is written by id, cleanup reads expires_at).
func (b *bench) lookups(ctx context.Context) int64 { return lookupsIn(ctx, b.db) }

func lookupsIn(ctx context.Context, db *pgx.Conn) int64 {
	var n int64
	err := db.QueryRow(ctx, `
SELECT coalesce(sum(s.idx_scan), 0)::bigint
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE s.relname = 'personal_access_tokens' AND a.attname = 'token_hash'`).Scan(&n)
	if err != nil {
		return -1
	}
	return n
}

// statsSettle is how long to wait before reading the counters of the
// statistics views: a PostgreSQL backend publishes its counts at most once a
// second (PGSTAT_MIN_INTERVAL).
const statsSettle = 1500 * time.Millisecond

// loads, each a loadgen.Request.

func (b *bench) validate(pick func(rng *mrand.Rand, dst []byte) []byte) loadgen.Request {
	rngs := connRNGs(uint64(time.Now().UnixNano()))
	authz := "Authorization: Bearer " + b.secret
	bodies := make([][]byte, len(rngs))
	return func(conn int, dst []byte) []byte {
		body := append(bodies[conn][:0], `{"token":"`...)
		body = pick(rngs[conn], body)
		body = append(body, `"}`...)
		bodies[conn] = body
		return loadgen.Post(dst, "/validate", body, authz)
	}
}

// connRNGs is a random source for each connection of a load (up to 1024),
// the i-th seeded with i and seed.
func connRNGs(seed uint64) []*mrand.Rand {
	rngs := make([]*mrand.Rand, 1024)
	for i := range rngs {
		rngs[i] = mrand.New(mrand.NewPCG(uint64(i), seed))
	}
	return rngs
}

func pickRange(n int) func(rng *mrand.Rand, dst []byte) []byte {
	return func(rng *mrand.Rand, dst []byte) []byte { return append(dst, benchToken(rng.IntN(n))...) }
}

func pickFixed(tok string) func(rng *mrand.Rand, dst []byte) []byte {
	return func(_ *mrand.Rand, dst []byte) []byte { return append(dst, tok...) }
}

// graphql posts query with a session JWT of one of users, chosen at random.
func (b *bench) graphql(query string, users []string) (loadgen.Request, error) {
	body, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		return nil, err
	}
	headers := make([]string, len(users))
	cfg := auth.JWTConfig{Secret: []byte(b.jwtSecret), Issuer: "alternatefutures-auth", Audience: "alternatefutures-app"}
	for i, u := range users {
		jwt, err := auth.SignSession(cfg, u, 2*time.Hour)
		if err != nil {
			return nil, err
		}
		headers[i] = "Authorization: Bearer " + jwt
	}
	rngs := connRNGs(7)
	return func(conn int, dst []byte) []byte {
		return loadgen.Post(dst, "/graphql", body, headers[rngs[conn].IntN(len(headers))])
	}, nil
}

func statusIs(want int) loadgen.Check {
	return func(status int, _ []byte) bool { return status == want }
}

// limitAnswers accepts the limit's answers to a validate: 200 for the tokens
// of its map, 401 for any other.
func limitAnswers(status int, _ []byte) bool { return status == 200 || status == 401 }

// graphqlOK accepts a 200 without "errors".
func graphqlOK(status int, body []byte) bool {
	return status == 200 && !strings.Contains(string(body), `"errors"`)
}

func (b *bench) load(ctx context.Context, p *proc, conns int, req loadgen.Request, check loadgen.Check, readBody bool, warmup, d time.Duration) *loadgen.Result {
	return loadgen.Run(ctx, loadgen.Config{
		Addr: p.addr, Connections: conns, Duration: d, Warmup: warmup,
		Request: req, Check: check, ReadBody: readBody,
	})
}

// versus runs one validate load on the limit and on the main patd, rounds
// times each, alternating, and adds both rows: slow swings of the shared
// machine's load fall on both.
//
// want is the status patd must answer; the limit knows only the hot tokens,
// and answers 401 for the others where patd looks them up.
func (b *bench) versus(ctx context.Context, name string, conns int, want int, req loadgen.Request) (*row, error) {
	lim := &row{server: "limit", name: name, conns: conns, res: loadgen.NewResult(), lookups: -1}
	pd := &row{server: "patd", name: name, conns: conns, res: loadgen.NewResult(), vs: lim}
	before := b.lookups(ctx)
	h0, m0 := cacheStats(b.main.addr)
	for range b.opt.rounds {
		lim.res.Merge(b.load(ctx, b.limit, conns, req, limitAnswers, false, b.opt.warmup, b.opt.duration))
		pd.res.Merge(b.load(ctx, b.main, conns, req, statusIs(want), false, b.opt.warmup, b.opt.duration))
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	h1, m1 := cacheStats(b.main.addr)
	time.Sleep(statsSettle)
	pd.lookups = b.lookups(ctx) - before
	pd.note = hitRateNote(h0, m0, h1, m1)
	b.add(b.limit, lim)
	b.add(b.main, pd)
	b.logf("%-28s %3d conns: limit %8.0f req/s, patd %8.0f req/s", name, conns, lim.res.RPS(), pd.res.RPS())
	return pd, nil
}

// measure runs every row.
func (b *bench) measure(ctx context.Context) error {
	rows := b.opt.rows

	if err := b.scaleRows(ctx); err != nil {
		return err
	}

	// The validate rows against the limit.
	hot := b.validate(pickRange(b.opt.hot))
	// A versus row is 2 × rounds runs; the profile covers them all (patd is
	// idle during the limit's).
	versusSeconds := int((time.Duration(2*b.opt.rounds)*(b.opt.warmup+b.opt.duration) + time.Second).Seconds())
	for _, conns := range []int{16, 64} {
		err := b.profiled(ctx, fmt.Sprintf("hit-%d", conns), versusSeconds, func() error {
			r, err := b.versus(ctx, fmt.Sprintf("validate, cache hit (%d tokens)", b.opt.hot), conns, 200, hot)
			if err != nil {
				return err
			}
			b.hits = append(b.hits, r)
			return nil
		})
		if err != nil {
			return err
		}
	}
	limitHit := b.hits[0].vs // the limit's cache-hit row at 16 connections
	var err error
	if b.malformed, err = b.versus(ctx, "validate, malformed token", 16, 401, b.validate(pickFixed(malformedToken()))); err != nil {
		return err
	}
	if b.legacy, err = b.versus(ctx, "validate, random legacy-shaped", 16, 401, b.validate(appendLegacy)); err != nil {
		return err
	}
	err = b.profiled(ctx, "miss", versusSeconds, func() error {
		var err error
		b.miss, err = b.versus(ctx, fmt.Sprintf("validate, miss (%s tokens)", thousands(rows)), 16, 200, b.validate(pickRange(rows)))
		return err
	})
	if err != nil {
		return err
	}
	b.heapProfile(ctx, "after-miss")

	// More distinct hot tokens than the cache holds.
	const cacheSize = 10_000
	smallCache, err := b.startPatd(ctx, "patd-smallcache", map[string]string{"PAT_CACHE_SIZE": strconv.Itoa(cacheSize)})
	if err != nil {
		return err
	}
	hotSet := 2 * cacheSize
	req := b.validate(pickRange(hotSet))
	b.load(ctx, smallCache, 16, req, nil, false, 0, 2*b.opt.duration) // fill the cache
	h0, m0 := cacheStats(smallCache.addr)
	r := &row{server: "patd", name: fmt.Sprintf("hot set %s > PAT_CACHE_SIZE %s", thousands(hotSet), thousands(cacheSize)), conns: 16, lookups: -1, vs: limitHit}
	r.res = b.load(ctx, smallCache, 16, req, statusIs(200), false, 0, b.opt.duration)
	h1, m1 := cacheStats(smallCache.addr)
	r.note = hitRateNote(h0, m0, h1, m1)
	b.add(smallCache, r)
	smallCache.stop()
	if err := ctx.Err(); err != nil {
		return err
	}

	// GraphQL on the main patd.
	users := make([]string, benchUsers)
	for i := range users {
		users[i] = benchUser(i)
	}
	list, err := b.graphql(`query { personalAccessTokens(first: 100) { totalCount data { id name maskedToken expiresAt lastUsedAt createdAt } pageInfo { hasNextPage endCursor } } }`, users)
	if err != nil {
		return err
	}
	// The list alternates, run by run, with its statement on PostgreSQL
	// alone, in the same moments of the machine.
	r = &row{server: "patd", name: "GraphQL list of 100 tokens", conns: 16, lookups: -1, vs: limitHit, note: "ratio vs the limit's validate", res: loadgen.NewResult()}
	floor := &row{server: "pg", name: "the list's statement, PostgreSQL alone", conns: 16, lookups: -1, note: "no patd: 16 callers, a pool of patd's size", res: loadgen.NewResult()}
	runSeconds := int((b.opt.warmup + b.opt.duration).Seconds() + 0.5)
	for round := range b.opt.rounds {
		res, err := b.listFloor(ctx, 16, b.opt.warmup, b.opt.duration)
		if err != nil {
			return fmt.Errorf("the list's statement alone: %w", err)
		}
		floor.res.Merge(res)
		run := func() error {
			r.res.Merge(b.load(ctx, b.main, 16, list, graphqlOK, true, b.opt.warmup, b.opt.duration))
			return ctx.Err()
		}
		if round == 0 {
			err = b.profiled(ctx, "graphql-list", runSeconds, run)
		} else {
			err = run()
		}
		if err != nil {
			return err
		}
	}
	b.add(b.main, r)
	b.rows = append(b.rows, floor)
	b.list, b.floor = r, floor

	var suffix [3]byte
	_, _ = rand.Read(suffix[:])
	creators := make([]string, 1000)
	for i := range creators {
		creators[i] = fmt.Sprintf("bench-creator-%x-%d", suffix, i)
	}
	create, err := b.graphql(`mutation { createPersonalAccessToken(name: "bench") { id token maskedToken } }`, creators)
	if err != nil {
		return err
	}
	r = &row{server: "patd", name: "GraphQL create", conns: 16, lookups: -1, vs: limitHit, note: "ratio vs the limit's validate"}
	_ = b.profiled(ctx, "graphql-create", runSeconds, func() error {
		r.res = b.load(ctx, b.main, 16, create, graphqlOK, true, b.opt.warmup, b.opt.duration)
		return nil
	})
	b.add(b.main, r)
	b.create = r
	b.heapProfile(ctx, "end")
	b.memoryNote()
	return ctx.Err()
}

// explain notes the plan of the validate lookup (the query of
// sql/queries/tokens.sql GetTokenByHash) at full size.
func (b *bench) explain(ctx context.Context, label string) {
	tok := benchToken(b.opt.rows / 2)
	rows, err := b.db.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id, user_id, organization_id, name, expires_at, created_at FROM personal_access_tokens
WHERE token_hash = sha256(convert_to($1::text, 'UTF8'))`, tok)
	if err != nil {
		b.notes = append(b.notes, "EXPLAIN failed: "+err.Error())
		return
	}
	var plan []string
	for rows.Next() {
		var line string
		if rows.Scan(&line) == nil {
			plan = append(plan, strings.TrimSpace(line))
		}
	}
	b.notes = append(b.notes, "lookup plan at "+thousands(b.opt.rows)+" rows"+label+": "+strings.Join(plan, "; "))
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}
