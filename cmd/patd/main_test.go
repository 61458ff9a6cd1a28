package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
)

// These tests call run directly. run reads the environment through
// os.LookupEnv, so they set it with t.Setenv and cannot run in parallel.

// patdVars are the variables patd reads; cleanEnv blanks them (empty counts
// as unset) so that the machine's environment cannot leak into a test.
var patdVars = []string{
	"PORT", "DATABASE_URL", "REDIS_URL", "JWT_SECRET", "JWT_ISSUER", "JWT_AUDIENCE",
	"AUTH_SERVICE_SECRET", "PATD_ENV", "TOKEN_ENV", "PAT_CREATE_LIMIT", "PAT_MAX_ACTIVE",
	"PAT_VALIDATE_RATE", "PAT_CACHE_TTL", "GRAPHQL_MAX_DEPTH", "GRAPHQL_MAX_COMPLEXITY", "TRUSTED_PROXIES",
	"BIND_ADDR", "METRICS_ADDR", "PAT_CACHE_SIZE", "ACCESS_LOG_SAMPLE", "PPROF_ADDR",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER",
}

// cleanEnv leaves DATABASE_URL as the only variable set, as for a cron job or
// a migration job that is given nothing else.
func cleanEnv(t *testing.T, databaseURL string) {
	t.Helper()
	for _, k := range patdVars {
		t.Setenv(k, "")
	}
	t.Setenv("DATABASE_URL", databaseURL)
}

// runPatd runs `patd args...` and returns what it wrote.
func runPatd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestVersion(t *testing.T) {
	out, errOut, err := runPatd(t, "version")
	if err != nil || out != "patd dev\n" || errOut != "" {
		t.Errorf("version: out %q, stderr %q, err %v; want \"patd dev\\n\"", out, errOut, err)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, _, err := runPatd(t, args...)
		if err != nil {
			t.Errorf("%v: %v", args, err)
		}
		for _, c := range []string{"serve", "migrate", "cleanup", "import", "version"} {
			if !strings.Contains(out, c) {
				t.Errorf("%v: usage does not list %s:\n%s", args, c, out)
			}
		}
		if !strings.Contains(out, "usage: patd") {
			t.Errorf("%v: no usage line:\n%s", args, out)
		}
	}
}

// `patd COMMAND --help` prints the command's flags and asks main to exit 0
// (flag.ErrHelp), without touching the database or the configuration.
func TestCommandHelp(t *testing.T) {
	cleanEnv(t, "postgres://127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1")
	for _, c := range []string{"serve", "migrate", "cleanup", "import", "version"} {
		out, errOut, err := runPatd(t, c, "--help")
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s --help: err %v, want flag.ErrHelp", c, err)
		}
		if out != "" {
			t.Errorf("%s --help wrote to stdout: %q", c, out)
		}
		if !strings.Contains(errOut, "usage: patd "+c) {
			t.Errorf("%s --help: usage missing from stderr: %q", c, errOut)
		}
	}
	_, errOut, _ := runPatd(t, "import", "--help")
	if !strings.Contains(errOut, "-csv") {
		t.Errorf("import --help does not describe --csv: %q", errOut)
	}
}

func TestUnknownCommand(t *testing.T) {
	out, errOut, err := runPatd(t, "frobnicate")
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("unknown command: err %v, want one naming it", err)
	}
	if out != "" || !strings.Contains(errOut, "usage: patd") {
		t.Errorf("unknown command: stdout %q, stderr %q; want usage on stderr", out, errOut)
	}
	if _, _, err := runPatd(t, "version", "--bogus"); err == nil || errors.Is(err, flag.ErrHelp) {
		t.Errorf("unknown flag: err %v", err)
	}
}

func TestImportNeedsAFile(t *testing.T) {
	cleanEnv(t, "postgres://127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1")
	if _, errOut, err := runPatd(t, "import"); err == nil || !strings.Contains(err.Error(), "--csv") {
		t.Errorf("import without --csv: err %v, stderr %q", err, errOut)
	}
	if _, _, err := runPatd(t, "import", "--csv", filepath.Join(t.TempDir(), "missing.csv")); err == nil {
		t.Error("import of a missing file succeeded")
	}
	bad := writeFile(t, "bad.csv", "id,name,userId\n1,x,u\n")
	if _, _, err := runPatd(t, "import", "--csv", bad); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("import of a file with no token column: err %v", err)
	}
}

func tables(t *testing.T, url string) []string {
	t.Helper()
	rows, err := connect(t, url).Query(context.Background(),
		`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestMigrate(t *testing.T) {
	url := pattest.Database(t)
	cleanEnv(t, url)
	t.Setenv("JWT_SECRET", "x")
	t.Setenv("AUTH_SERVICE_SECRET", "y")
	for i := range 2 {
		if out, errOut, err := runPatd(t, "migrate"); err != nil {
			t.Fatalf("migrate run %d: %v (stdout %q, stderr %q)", i+1, err, out, errOut)
		}
		got := tables(t, url)
		for _, want := range []string{"personal_access_tokens", "pat_audit_events"} {
			if !slices.Contains(got, want) {
				t.Errorf("after migrate run %d: no table %s (have %q)", i+1, want, got)
			}
		}
	}
}

// Like cleanup and import, migrate needs nothing but DATABASE_URL: a
// migration job is not given the service's secrets (config.DatabaseURL says
// as much: "for the commands that need nothing else (migrate, cleanup,
// import)").
func TestMigrateNeedsOnlyDatabaseURL(t *testing.T) {
	url := pattest.Database(t)
	cleanEnv(t, url)
	if _, _, err := runPatd(t, "migrate"); err != nil {
		t.Fatalf("migrate with only DATABASE_URL set: %v", err)
	}
	if got := tables(t, url); !slices.Contains(got, "personal_access_tokens") {
		t.Errorf("no tables after migrate: %q", got)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Legacy tokens of the old backend: af_live_ + 32 base62 (no checksum), and
// an opaque string.
const (
	goodToken      = "af_live_Good0123456789abcdefghijABCDEFGH"
	expiredToken   = "af_live_Expd0123456789abcdefghijABCDEFGH"
	multilineToken = "af_live_Mult0123456789abcdefghijABCDEFGH"
	rejectedToken1 = "af_live_Rej10123456789abcdefghijABCDEFGH"
	rejectedToken2 = "af_live_Rej20123456789abcdefghijABCDEFGH"
	rejectedToken3 = "af_live_Rej30123456789abcdefghijABCDEFGH"
	snakeToken1    = "af_live_Snk10123456789abcdefghijABCDEFGH"
	snakeToken2    = "opaque-legacy-secret-0123456789"
)

// camelCSV is the export as `COPY personal_access_token TO … CSV HEADER`
// writes it: camelCase columns, timestamp(3) without zone (UTC), empty for
// NULL. Lines: 1 header, 2 good, 3 expired, 4 no token, 5 no userId, 6
// unreadable timestamp, 7-8 a good row whose quoted name spans two lines, 9
// no id.
var camelCSV = strings.Join([]string{
	"id,name,token,userId,expiresAt,lastUsedAt,createdAt,updatedAt",
	"tok-good,My laptop," + goodToken + ",user-1,,2025-02-01 08:00:00.5,2025-01-31 12:00:00.123,2025-01-31 12:30:00",
	"tok-expired,old one," + expiredToken + ",user-1,2024-01-01 00:00:00,,2023-06-01 00:00:00,2023-06-01 00:00:00",
	"tok-notoken,x,,user-2,,,2025-01-01 00:00:00,2025-01-01 00:00:00",
	"tok-nouser,x," + rejectedToken1 + ",,,,2025-01-01 00:00:00,2025-01-01 00:00:00",
	"tok-badtime,x," + rejectedToken2 + ",user-3,yesterday,,2025-01-01 00:00:00,2025-01-01 00:00:00",
	`tok-multi,"work, (main) machine",` + multilineToken + ",user-2,,,2025-01-31 14:00:00.123+02,",
	"," + "x," + rejectedToken3 + ",user-3,,,,",
}, "\n") + "\n"

var snakeCSV = "id,name,token,user_id,expires_at,last_used_at,created_at,updated_at\r\n" +
	"tok-snake-1,ci," + snakeToken1 + ",user-9,2099-01-01 00:00:00+00,,2024-05-05 05:05:05.005+00,2024-05-06 00:00:00+00\r\n" +
	"tok-snake-2,,\"" + snakeToken2 + "\",user-9,,,,\r\n"

type tokenRow struct {
	ID, UserID, Name, TokenStart string
	TokenHash                    []byte
	ExpiresAt, LastUsedAt        *time.Time
	CreatedAt, UpdatedAt         time.Time
}

func tokenRows(t *testing.T, url string) map[string]tokenRow {
	t.Helper()
	rows, err := connect(t, url).Query(context.Background(),
		`SELECT id, user_id, name, token_start, token_hash, expires_at, last_used_at, created_at, updated_at FROM personal_access_tokens`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tokenRow{}
	for rows.Next() {
		var r tokenRow
		if err := rows.Scan(&r.ID, &r.UserID, &r.Name, &r.TokenStart, &r.TokenHash, &r.ExpiresAt, &r.LastUsedAt, &r.CreatedAt, &r.UpdatedAt); err != nil {
			t.Fatal(err)
		}
		out[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func auditTokenIDs(t *testing.T, url, action string) []string {
	t.Helper()
	rows, err := connect(t, url).Query(context.Background(),
		`SELECT coalesce(token_id, '') FROM pat_audit_events WHERE action = $1 ORDER BY token_id`, action)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestImport(t *testing.T) {
	url := pattest.Database(t)
	cleanEnv(t, url)
	// On a database never migrated, import creates the schema first.
	empty := writeFile(t, "empty.csv", "id,name,token,userId,expiresAt,lastUsedAt,createdAt,updatedAt\n")
	if out, errOut, err := runPatd(t, "import", "--csv", empty); err != nil || out != "imported 0, skipped 0 (already present), rejected 0\n" {
		t.Errorf("header only: stdout %q, err %v (%s)", out, err, errOut)
	}
	camel := writeFile(t, "export.csv", camelCSV)

	out, errOut, err := runPatd(t, "import", "--csv", camel)
	if err == nil {
		t.Error("import with rejected rows returned no error (exit status 0)")
	}
	if want := "imported 3, skipped 0 (already present), rejected 4\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	for _, want := range []struct {
		line   int
		reason string
	}{{4, "token"}, {5, "userId"}, {6, "expiresAt"}, {8, "id"}} {
		found := false
		for _, l := range strings.Split(errOut, "\n") {
			if strings.Contains(l, fmt.Sprintf("line %d:", want.line)) && strings.Contains(l, want.reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("stderr does not report line %d (%s):\n%s", want.line, want.reason, errOut)
		}
	}
	for _, l := range []int{2, 3, 7} {
		if strings.Contains(errOut, fmt.Sprintf("line %d:", l)) {
			t.Errorf("stderr reports good line %d:\n%s", l, errOut)
		}
	}
	for _, tok := range []string{goodToken, expiredToken, multilineToken, rejectedToken1, rejectedToken2, rejectedToken3} {
		if strings.Contains(out+errOut, tok) {
			t.Errorf("the output shows token %s", tok)
		}
	}

	rows := tokenRows(t, url)
	if len(rows) != 3 {
		t.Fatalf("want 3 tokens in the database, got %d: %v", len(rows), rows)
	}
	good := rows["tok-good"]
	if good.UserID != "user-1" || good.Name != "My laptop" || good.ExpiresAt != nil ||
		!good.CreatedAt.Equal(utc("2025-01-31 12:00:00.123")) || !good.UpdatedAt.Equal(utc("2025-01-31 12:30:00")) ||
		good.LastUsedAt == nil || !good.LastUsedAt.Equal(utc("2025-02-01 08:00:00.5")) {
		t.Errorf("tok-good stored as %+v", good)
	}
	if h := sha256.Sum256([]byte(goodToken)); !bytes.Equal(good.TokenHash, h[:]) {
		t.Errorf("token_hash is not sha256 of the token")
	}
	if good.TokenStart != goodToken[:12] {
		t.Errorf("token_start = %q, want %q", good.TokenStart, goodToken[:12])
	}
	exp := rows["tok-expired"]
	if exp.ExpiresAt == nil || !exp.ExpiresAt.Equal(utc("2024-01-01 00:00:00")) || !exp.CreatedAt.Equal(utc("2023-06-01 00:00:00")) {
		t.Errorf("tok-expired stored as %+v", exp)
	}
	multi := rows["tok-multi"]
	if multi.Name != "work, (main) machine" || multi.UserID != "user-2" || !multi.CreatedAt.Equal(utc("2025-01-31 12:00:00.123")) ||
		!multi.UpdatedAt.Equal(multi.CreatedAt) {
		t.Errorf("tok-multi stored as %+v", multi)
	}
	if h := sha256.Sum256([]byte(multilineToken)); !bytes.Equal(multi.TokenHash, h[:]) {
		t.Errorf("tok-multi: token_hash is not sha256 of the token")
	}

	if got := auditTokenIDs(t, url, "import"); !slices.Equal(got, []string{"tok-expired", "tok-good", "tok-multi"}) {
		t.Errorf("import audit rows for %q, want one for each imported token", got)
	}

	// Idempotent: a second run imports nothing twice.
	out, _, err = runPatd(t, "import", "--csv", camel)
	if err == nil {
		t.Error("second run: no error despite rejected rows")
	}
	if want := "imported 0, skipped 3 (already present), rejected 4\n"; out != want {
		t.Errorf("second run: stdout %q, want %q", out, want)
	}
	if n := len(tokenRows(t, url)); n != 3 {
		t.Errorf("second run: %d tokens, want 3", n)
	}
	if n := len(auditTokenIDs(t, url, "import")); n != 3 {
		t.Errorf("second run: %d import audit rows, want 3", n)
	}

	// snake_case headers, CRLF line ends, a file with no bad row: exit 0.
	snake := writeFile(t, "snake.csv", snakeCSV)
	out, errOut, err = runPatd(t, "import", "--csv", snake)
	if err != nil {
		t.Errorf("snake_case import: %v (stderr %q)", err, errOut)
	}
	if want := "imported 2, skipped 0 (already present), rejected 0\n"; out != want {
		t.Errorf("snake_case import: stdout %q, want %q", out, want)
	}
	out, _, err = runPatd(t, "import", "--csv", snake)
	if want := "imported 0, skipped 2 (already present), rejected 0\n"; err != nil || out != want {
		t.Errorf("snake_case second run: stdout %q, err %v; want %q", out, err, want)
	}
	rows = tokenRows(t, url)
	s1, s2 := rows["tok-snake-1"], rows["tok-snake-2"]
	if s1.UserID != "user-9" || s1.ExpiresAt == nil || !s1.ExpiresAt.Equal(utc("2099-01-01 00:00:00")) ||
		!s1.CreatedAt.Equal(utc("2024-05-05 05:05:05.005")) || !s1.UpdatedAt.Equal(utc("2024-05-06 00:00:00")) {
		t.Errorf("tok-snake-1 stored as %+v", s1)
	}
	if s2.UserID != "user-9" || s2.Name == "" || s2.CreatedAt.IsZero() {
		t.Errorf("tok-snake-2 stored as %+v", s2)
	}

	// The plaintext appears nowhere in the database.
	db := connect(t, url)
	for _, tok := range []string{goodToken, expiredToken, multilineToken, snakeToken1, snakeToken2, rejectedToken1, rejectedToken2, rejectedToken3} {
		var n int
		err := db.QueryRow(context.Background(), `
			SELECT (SELECT count(*) FROM personal_access_tokens p WHERE strpos(p::text, $1) > 0)
			     + (SELECT count(*) FROM pat_audit_events e WHERE strpos(e::text, $1) > 0)`, tok).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("token %.12s… is stored in plain text in %d rows", tok, n)
		}
	}

	// The imported tokens validate through a replica on the same database.
	cfg := pattest.Config(t)
	cfg.DatabaseURL = url
	r := pattest.Start(t, cfg)
	type answer struct {
		Valid   bool   `json:"valid"`
		Code    string `json:"code"`
		UserID  string `json:"userId"`
		TokenID string `json:"tokenId"`
		Name    string `json:"name"`
		Exp     *int64 `json:"exp"`
		Iat     int64  `json:"iat"`
	}
	validate := func(tok string) (int, answer) {
		t.Helper()
		resp := r.Do(http.MethodPost, "/validate", map[string]string{"token": tok}, "Authorization: Bearer "+pattest.ServiceSecret)
		var a answer
		if err := json.Unmarshal(resp.Body, &a); err != nil {
			t.Fatalf("validate: %v: %s", err, resp)
		}
		return resp.Status, a
	}
	if st, a := validate(goodToken); st != http.StatusOK || !a.Valid || a.Code != "VALID" || a.UserID != "user-1" ||
		a.TokenID != "tok-good" || a.Name != "My laptop" || a.Exp != nil || a.Iat != utc("2025-01-31 12:00:00.123").Unix() {
		t.Errorf("good legacy token: %d %+v", st, a)
	}
	if st, a := validate(expiredToken); st != http.StatusUnauthorized || a.Valid || a.Code != "EXPIRED" {
		t.Errorf("expired legacy token: %d %+v", st, a)
	}
	if st, a := validate(snakeToken1); st != http.StatusOK || a.TokenID != "tok-snake-1" || a.UserID != "user-9" ||
		a.Exp == nil || *a.Exp != utc("2099-01-01 00:00:00").Unix() {
		t.Errorf("snake_case token: %d %+v", st, a)
	}
	if st, a := validate(snakeToken2); st != http.StatusOK || a.TokenID != "tok-snake-2" {
		t.Errorf("opaque legacy token: %d %+v", st, a)
	}
	if st, a := validate(rejectedToken1); st != http.StatusUnauthorized || a.Code != "NOT_FOUND" {
		t.Errorf("token of a rejected row: %d %+v", st, a)
	}
}

func TestCleanup(t *testing.T) {
	url := pattest.Database(t)
	cleanEnv(t, url)
	// On a database never migrated, cleanup creates the schema first.
	if out, errOut, err := runPatd(t, "cleanup"); err != nil || out != "deleted 0 expired tokens\n" {
		t.Errorf("cleanup on a fresh database: %q, %v (%s)", out, err, errOut)
	}
	past := time.Now().UTC().Add(-time.Hour).Format("2006-01-02 15:04:05.000")
	future := time.Now().UTC().Add(time.Hour).Format("2006-01-02 15:04:05.000")
	f := writeFile(t, "tokens.csv", strings.Join([]string{
		"id,name,token,userId,expiresAt,lastUsedAt,createdAt,updatedAt",
		"gone-1,a,legacy-secret-gone-1,user-1," + past + ",,2024-01-01 00:00:00,",
		"gone-2,b,legacy-secret-gone-2,user-2,2020-01-01 00:00:00,,2019-01-01 00:00:00,",
		"stays-1,c,legacy-secret-stays-1,user-1," + future + ",,2024-01-01 00:00:00,",
		"stays-2,d,legacy-secret-stays-2,user-1,,,2024-01-01 00:00:00,",
	}, "\n")+"\n")
	if out, errOut, err := runPatd(t, "import", "--csv", f); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, errOut)
	}

	// While another session holds the cleanup lock, cleanup does nothing.
	ctx := context.Background()
	lock := connect(t, url)
	if _, err := lock.Exec(ctx, `SELECT pg_advisory_lock($1::int4, 0)`, pat.LockNamespaceCleanup); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runPatd(t, "cleanup")
	if err != nil {
		t.Fatalf("cleanup while locked: %v (%s)", err, errOut)
	}
	if !strings.Contains(out, "another replica is cleaning up") {
		t.Errorf("cleanup while locked: stdout %q", out)
	}
	if n := len(tokenRows(t, url)); n != 4 {
		t.Errorf("cleanup while locked deleted tokens: %d left, want 4", n)
	}
	if _, err := lock.Exec(ctx, `SELECT pg_advisory_unlock($1::int4, 0)`, pat.LockNamespaceCleanup); err != nil {
		t.Fatal(err)
	}

	out, errOut, err = runPatd(t, "cleanup")
	if err != nil {
		t.Fatalf("cleanup: %v (%s)", err, errOut)
	}
	if out != "deleted 2 expired tokens\n" {
		t.Errorf("cleanup: stdout %q, want %q", out, "deleted 2 expired tokens\n")
	}
	rows := tokenRows(t, url)
	var left []string
	for id := range rows {
		left = append(left, id)
	}
	slices.Sort(left)
	if !slices.Equal(left, []string{"stays-1", "stays-2"}) {
		t.Errorf("after cleanup: %q left, want the unexpired stays-1 and stays-2", left)
	}
	if got := auditTokenIDs(t, url, "cleanup"); !slices.Equal(got, []string{"gone-1", "gone-2"}) {
		t.Errorf("cleanup audit rows for %q, want gone-1 and gone-2", got)
	}
	var users []string
	r, err := connect(t, url).Query(ctx, `SELECT user_id FROM pat_audit_events WHERE action = 'cleanup' ORDER BY token_id`)
	if err != nil {
		t.Fatal(err)
	}
	if users, err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil || !slices.Equal(users, []string{"user-1", "user-2"}) {
		t.Errorf("cleanup audit users %q (%v)", users, err)
	}

	// The lock is released: nothing left to do, and a second run says so.
	if out, _, err := runPatd(t, "cleanup"); err != nil || out != "deleted 0 expired tokens\n" {
		t.Errorf("second cleanup: %q, %v", out, err)
	}
	var held bool
	if err := connect(t, url).QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('pat:cleanup', 0))`).Scan(&held); err != nil || !held {
		t.Errorf("cleanup left its lock held (%v)", err)
	}
}

// Rows that could never be tokens, or that PostgreSQL would store as
// nonsense, are rejected with their line numbers; the good ones land.
func TestImportRejectsWhatCouldNeverValidate(t *testing.T) {
	url := pattest.Database(t)
	cleanEnv(t, url)
	good := "af_live_" + strings.Repeat("G", 32)
	csv := strings.Join([]string{
		"id,name,token,userId,expiresAt,lastUsedAt,createdAt,updatedAt",
		"long,x," + strings.Repeat("a", 600) + ",user-1,,,,",
		`space,x,"abc def",user-1,,,,`,
		"badsum,x,af_live_" + strings.Repeat("A", 36) + ",user-1,,,,",
		`markup,"<b>x</b>",legacy-secret-1,user-1,,,,`,
		`newline,"two` + "\n" + `lines",legacy-secret-2,user-1,,,,`,
		"year0,x,legacy-secret-3,user-1,0000-01-01 00:00:00,,,",
		"year9999,x,legacy-secret-4,user-1,,,9999-12-31 00:00:00,",
		"good,Café CI (main)," + good + ",user-1,,,,",
	}, "\n") + "\n"
	out, errOut, err := runPatd(t, "import", "--csv", writeFile(t, "bad.csv", csv))
	if err == nil || out != "imported 1, skipped 0 (already present), rejected 7\n" {
		t.Errorf("stdout %q, err %v; stderr:\n%s", out, err, errOut)
	}
	// The record with a line break starts on line 6 and ends on 7: the
	// next one is line 8.
	for _, line := range []int{2, 3, 4, 5, 6, 8, 9} {
		if !strings.Contains(errOut, fmt.Sprintf("line %d:", line)) {
			t.Errorf("line %d is not reported:\n%s", line, errOut)
		}
	}
	if strings.Contains(errOut, "line 10:") || strings.Contains(errOut, strings.Repeat("a", 100)) {
		t.Errorf("the good row was reported, or a rejected token echoed:\n%s", errOut)
	}
	if rows := tokenRows(t, url); len(rows) != 1 || rows["good"].Name != "Café CI (main)" {
		t.Errorf("stored %v", rows)
	}
}

// The same secret under two ids, the token deleted since: a re-import must
// not bring it back under either id (tombstones are kept by hash).
func TestReimportNeverResurrectsARemovedSecret(t *testing.T) {
	url := pattest.Database(t)
	cleanEnv(t, url)
	secret := "af_live_" + strings.Repeat("R", 32)
	csv := "id,name,token,userId\nfirst,a," + secret + ",user-1\nsecond,b," + secret + ",user-2\n"
	file := writeFile(t, "dup.csv", csv)
	if out, _, err := runPatd(t, "import", "--csv", file); err != nil || out != "imported 1, skipped 1 (already present), rejected 0\n" {
		t.Fatalf("first import: %q %v", out, err)
	}
	db := connect(t, url)
	if _, err := db.Exec(context.Background(), `DELETE FROM personal_access_tokens WHERE id = 'first'`); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runPatd(t, "import", "--csv", file); err != nil || out != "imported 0, skipped 2 (already present), rejected 0\n" {
		t.Errorf("re-import after the delete: %q %v", out, err)
	}
	if rows := tokenRows(t, url); len(rows) != 0 {
		t.Errorf("a removed secret came back: %v", rows)
	}
}

// A file with no line breaks is not read whole: the import stops with a
// clear error.
func TestImportRefusesEndlessLines(t *testing.T) {
	url := pattest.Database(t)
	cleanEnv(t, url)
	csv := "id,name,token,userId\nx,x," + strings.Repeat("a", 200<<10) + ",u\n"
	_, _, err := runPatd(t, "import", "--csv", writeFile(t, "endless.csv", csv))
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a 200 KiB line: %v", err)
	}
}
