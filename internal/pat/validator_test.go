package pat_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/token"
)

// lookups counts the replica's token lookups by hash so far.
func lookups(r *pattest.Replica) int { return r.Queries("token_hash =") }

func TestValidateOutcomes(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Millisecond)
	c := mustCreate(t, r, "user-1", "ci", &exp)
	unknown, err := token.New(token.PrefixLive)
	if err != nil {
		t.Fatal(err)
	}
	// An expired token: imported from the old backend already expired.
	past := time.Now().Add(-time.Hour)
	expired := "af_live_" + strings.Repeat("x", 32)
	if _, _, err := r.Server.Maintenance.Import(context.Background(), []legacy.Token{{
		Line: 2, ID: "legacy-expired", Name: "old", Secret: expired, UserID: "user-1", ExpiresAt: &past,
	}}); err != nil {
		t.Fatal(err)
	}
	// Replicas learn of imports every few seconds; this one, now.
	if err := r.Server.Validator.RefreshImported(context.Background()); err != nil {
		t.Fatal(err)
	}

	v := mustValidate(t, r, c.Secret)
	want := pat.Validation{Outcome: pat.OutcomeValid, UserID: "user-1", TokenID: c.ID, Name: "ci", ExpiresAt: &exp, CreatedAt: c.CreatedAt}
	if v.Outcome != want.Outcome || v.UserID != want.UserID || v.TokenID != want.TokenID || v.Name != want.Name ||
		v.ExpiresAt == nil || !v.ExpiresAt.Equal(exp) || !v.CreatedAt.Equal(c.CreatedAt) || v.RetryAfter != 0 {
		t.Errorf("valid token: %+v, want %+v", v, want)
	}
	for _, tc := range []struct {
		name, tok string
		want      pat.Outcome
	}{
		{"unknown", unknown, pat.OutcomeNotFound},
		{"unknown legacy", "legacy-token-nobody-has", pat.OutcomeNotFound},
		{"expired", expired, pat.OutcomeExpired},
		{"bad checksum", c.Secret[:len(c.Secret)-1] + otherChar(c.Secret[len(c.Secret)-1]), pat.OutcomeMalformed},
		{"wrong prefix", "af_prod_" + c.Secret[8:], pat.OutcomeMalformed},
		{"empty", "", pat.OutcomeMalformed},
		{"control characters", "af_live_abc\ndef", pat.OutcomeMalformed},
	} {
		v := mustValidate(t, r, tc.tok)
		if v.Outcome != tc.want || v.UserID != "" || v.TokenID != "" {
			t.Errorf("%s: %+v, want only the outcome %s", tc.name, v, tc.want)
		}
	}
}

// otherChar is a base62 character other than b.
func otherChar(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// Moved from internal/httpapi: a token that fails its checksum costs no query.
func TestValidateMalformedTouchesNoStore(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	before := r.Queries("")
	tok, err := token.New(token.PrefixLive)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		bad := tok[:10] + string(rune('a'+i%26)) + tok[11:]
		if bad == tok {
			continue
		}
		if v := mustValidate(t, r, bad); v.Outcome != pat.OutcomeMalformed {
			t.Fatalf("want MALFORMED, got %s", v.Outcome)
		}
	}
	if after := r.Queries(""); after != before {
		t.Errorf("malformed tokens sent %d SQL statements, want 0", after-before)
	}
}

func TestValidateRateLimited(t *testing.T) {
	t.Parallel()
	// A window of an hour: a test straddling the end of a minute would start
	// a fresh window and be allowed again.
	r := startReplica(t, func(c *config.Config) { c.ValidateRate, c.ValidateWindow = 3, time.Hour })
	limited := mustCreate(t, r, "user-1", "ci", nil)
	other := mustCreate(t, r, "user-1", "other", nil)
	for i := range 3 {
		if v := mustValidate(t, r, limited.Secret); v.Outcome != pat.OutcomeValid {
			t.Fatalf("validation %d: %s", i+1, v.Outcome)
		}
	}
	v := mustValidate(t, r, limited.Secret)
	if v.Outcome != pat.OutcomeRateLimited || v.RetryAfter <= 0 || v.RetryAfter > time.Hour || v.UserID != "" {
		t.Errorf("4th validation: %+v, want RATE_LIMITED with a wait of at most the window", v)
	}
	// The limit is per token.
	if v := mustValidate(t, r, other.Secret); v.Outcome != pat.OutcomeValid {
		t.Errorf("another token: %s", v.Outcome)
	}
	// Authentication with the token says "slow down", not "invalid".
	_, _, err := r.Server.Validator.CheckToken(context.Background(), limited.Secret)
	var rate *pat.RateError
	if !errors.As(err, &rate) || errors.Is(err, auth.ErrInvalidCredentials) || !rate.ResetAt.After(time.Now()) {
		t.Errorf("CheckToken over the rate: %v, want *pat.RateError with a future ResetAt", err)
	}
}

// Moved from internal/httpapi: an answer cached while the token was valid
// does not outlive the token's expiry.
func TestValidateHonoursExpiryOfCachedAnswer(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CacheTTL = time.Hour })
	exp := time.Now().Add(3 * time.Second)
	c := mustCreate(t, r, "user-1", "short", &exp)
	if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeValid {
		t.Fatalf("before expiry: %s", v.Outcome)
	}
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	before := lookups(r)
	if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeExpired {
		t.Fatalf("after expiry: want EXPIRED, got %s", v.Outcome)
	}
	if lookups(r) != before {
		t.Error("the expired answer came from the database, not from the cache")
	}
}

// Moved from internal/httpapi.
func TestConcurrentMissesShareOneQuery(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	c := mustCreate(t, r, "user-1", "ci", nil)
	before := lookups(r)
	var wg sync.WaitGroup
	outcomes := make(chan pat.Outcome, 30)
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := r.Server.Validator.Validate(context.Background(), c.Secret)
			if err != nil {
				outcomes <- pat.OutcomeUnavailable
				return
			}
			outcomes <- v.Outcome
		}()
	}
	wg.Wait()
	close(outcomes)
	for o := range outcomes {
		if o != pat.OutcomeValid {
			t.Fatalf("a concurrent validation answered %s", o)
		}
	}
	if n := lookups(r) - before; n != 1 {
		t.Errorf("30 concurrent validations of one uncached token sent %d lookups, want 1", n)
	}
}

// Without the database a cached answer still stands; an uncached token is
// unavailable, which authentication must not take for "invalid".
func TestValidateWithoutTheDatabase(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour
	proxy := pattest.NewProxy(t, "127.0.0.1:5432")
	cfg.DatabaseURL = proxy.Rewrite(cfg.DatabaseURL)
	r := pattest.Start(t, cfg)
	cached := mustCreate(t, r, "user-1", "cached", nil)
	uncached := mustCreate(t, r, "user-1", "uncached", nil)
	mustValidate(t, r, cached.Secret)

	proxy.Cut()
	if v := mustValidate(t, r, cached.Secret); v.Outcome != pat.OutcomeValid {
		t.Errorf("cached token with the database down: %s", v.Outcome)
	}
	if v, err := r.Server.Validator.Validate(context.Background(), uncached.Secret); !errors.Is(err, pat.ErrUnavailable) {
		t.Errorf("uncached token with the database down: %+v, %v; want ErrUnavailable", v, err)
	}
	if _, _, err := r.Server.Validator.CheckToken(context.Background(), uncached.Secret); !errors.Is(err, pat.ErrUnavailable) ||
		errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("CheckToken with the database down: %v; want ErrUnavailable, not invalid credentials", err)
	}

	proxy.Restore()
	pattest.Eventually(t, 10*time.Second, func() (bool, string) {
		v, err := r.Server.Validator.Validate(context.Background(), uncached.Secret)
		return err == nil && v.Outcome == pat.OutcomeValid, "database back, still " + string(v.Outcome)
	})
}

// What this replica revokes it stops accepting at once: it does not wait for
// the notice every replica gets.
func TestRevocationDropsTheCacheAtOnce(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CacheTTL = time.Hour })
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		revoke func(user string, c pat.Created) error
	}{
		{"delete", func(user string, c pat.Created) error { return r.Server.Tokens.Delete(ctx, session(user), c.ID) }},
		{"rotate", func(user string, c pat.Created) error {
			_, err := r.Server.Tokens.Rotate(ctx, session(user), c.ID, nil, 0)
			return err
		}},
		{"revoke-all", func(user string, _ pat.Created) error {
			_, err := r.Server.Tokens.RevokeAll(ctx, user, "")
			return err
		}},
	} {
		user := "user-" + tc.name
		c := mustCreate(t, r, user, "ci", nil)
		mustValidate(t, r, c.Secret)
		before := lookups(r)
		if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeValid || lookups(r) != before {
			t.Fatalf("%s: the second validation was not served from the cache (%s)", tc.name, v.Outcome)
		}
		if err := tc.revoke(user, c); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeNotFound {
			t.Errorf("%s: right after the revocation the token validates as %s, want NOT_FOUND", tc.name, v.Outcome)
		}
	}

	// A rotation with grace changes when the old token expires: the cached
	// answer, which said "never", goes too.
	c := mustCreate(t, r, "user-grace", "ci", nil)
	if v := mustValidate(t, r, c.Secret); v.ExpiresAt != nil {
		t.Fatalf("a token without expiry validates with expiresAt %s", v.ExpiresAt)
	}
	if _, err := r.Server.Tokens.Rotate(ctx, session("user-grace"), c.ID, nil, 3600); err != nil {
		t.Fatal(err)
	}
	if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeValid || v.ExpiresAt == nil {
		t.Errorf("right after a rotation with grace: %+v, want VALID with the new expiry", v)
	}
}

// Moved from internal/httpapi: a token that vanishes without a notice (here:
// deleted behind patd's back) is accepted from the cache until the cache TTL,
// the backstop for every missed notice, ends.
func TestMissedRevocationEndsWithCacheTTL(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CacheTTL = 2 * time.Second })
	c := mustCreate(t, r, "user-1", "ci", nil)
	if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeValid {
		t.Fatal(v.Outcome)
	}
	deleteBehindPatdsBack(t, r.Config.DatabaseURL)
	if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeValid {
		t.Fatalf("within the TTL the cached answer stands (no notice was sent): %s", v.Outcome)
	}
	time.Sleep(r.Config.CacheTTL + 100*time.Millisecond)
	if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeNotFound {
		t.Fatalf("after the TTL: want NOT_FOUND, got %s", v.Outcome)
	}
}

func deleteBehindPatdsBack(t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DELETE FROM personal_access_tokens"); err != nil {
		t.Fatal(err)
	}
}

// Uses are written by FlushLastUsed, in one statement for a few tokens, and
// not again within the minute.
func TestLastUsedAtWrittenInBatches(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	one := mustCreate(t, r, "user-1", "one", nil)
	two := mustCreate(t, r, "user-1", "two", nil)
	before := time.Now().Add(-time.Second)
	for range 5 {
		mustValidate(t, r, one.Secret)
		mustValidate(t, r, two.Secret)
	}
	if got := stored(t, r, "user-1"); got[one.ID].LastUsedAt != nil || got[two.ID].LastUsedAt != nil {
		t.Fatalf("lastUsedAt written on the validation path: %v", got)
	}
	writes := r.Queries("SET last_used_at")
	if err := r.Server.Validator.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := r.Queries("SET last_used_at") - writes; n != 1 {
		t.Errorf("one flush of two tokens sent %d statements, want 1", n)
	}
	got := stored(t, r, "user-1")
	for _, id := range []string{one.ID, two.ID} {
		if u := got[id].LastUsedAt; u == nil || u.Before(before) || u.After(time.Now()) {
			t.Errorf("token %s: lastUsedAt %v", id, u)
		}
	}
	// Within the minute, further uses are not written again.
	mustValidate(t, r, one.Secret)
	writes = r.Queries("SET last_used_at")
	if err := r.Server.Validator.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := r.Queries("SET last_used_at") - writes; n != 0 {
		t.Errorf("a token used again within the minute was written again")
	}
}

// A flush writes at most FlushBatch tokens per statement; a batch that fails
// goes back, with the ones after it, to be written by the next flush.
func TestLastUsedAtFlushedInBoundedBatches(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	a := mustCreate(t, r, "user-1", "a", nil)
	b := mustCreate(t, r, "user-1", "b", nil)
	used := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	v := r.Server.Validator
	// Ids that sort around the real ones, so that they fall in different
	// batches: 2.5 batches in all.
	n := 5 * pat.FlushBatch / 2
	for i := range n - 2 {
		v.RecordUse(fmt.Sprintf("%s-%06d", a.ID[:1], i), used)
	}
	v.RecordUse(a.ID, used)
	v.RecordUse(b.ID, used)

	// A paced flush whose context is already done writes nothing and keeps
	// every use for the next one.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.FlushLastUsedPaced(gone); err == nil {
		t.Fatal("a flush with a cancelled context succeeded")
	}
	if got := stored(t, r, "user-1"); got[a.ID].LastUsedAt != nil || got[b.ID].LastUsedAt != nil {
		t.Fatalf("the failed flush wrote: %v", got)
	}

	writes := r.Queries("SET last_used_at")
	if err := v.FlushLastUsedPaced(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Queries("SET last_used_at")-writes, (n+pat.FlushBatch-1)/pat.FlushBatch; got != want {
		t.Errorf("%d uses took %d statements, want %d", n, got, want)
	}
	got := stored(t, r, "user-1")
	for _, id := range []string{a.ID, b.ID} {
		if u := got[id].LastUsedAt; u == nil || !u.Equal(used) {
			t.Errorf("token %s: lastUsedAt %v, want %v", id, u, used)
		}
	}
	// Nothing is left pending.
	writes = r.Queries("SET last_used_at")
	if err := v.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := r.Queries("SET last_used_at") - writes; n != 0 {
		t.Errorf("a second flush sent %d statements, want 0", n)
	}
}

// A running replica drops its cached answers within two rotations of
// storing them (RunCacheRotation: every cache TTL, at least a second apart),
// so a burst of distinct tokens does not hold its memory until the cache
// fills.
func TestCachedAnswersAreDroppedWithinTwoRotations(t *testing.T) {
	t.Parallel()
	const ttl = 300 * time.Millisecond // rotations a second apart
	r := startReplica(t, func(c *config.Config) { c.CacheTTL = ttl })
	c := mustCreate(t, r, "user-1", "ci", nil)
	if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeValid {
		t.Fatalf("validate: %s", v.Outcome)
	}
	if n := r.Server.Validator.CachedAnswers(); n != 1 {
		t.Fatalf("%d answers cached, want 1", n)
	}
	const within = 2*time.Second + 2*time.Second // two rotations, and slack for a busy machine
	deadline := time.Now().Add(within)
	for r.Server.Validator.CachedAnswers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d answers still cached %s after the last store", r.Server.Validator.CachedAnswers(), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
