package pat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/cache"
	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/token"
)

// Outcome is the answer of a validation, as the validate route reports it.
type Outcome string

// Validation outcomes. OutcomeUnavailable is never in a Validation: Validate
// returns ErrUnavailable instead; it names the outcome in metrics.
const (
	OutcomeValid       Outcome = "VALID"
	OutcomeNotFound    Outcome = "NOT_FOUND"
	OutcomeExpired     Outcome = "EXPIRED"
	OutcomeMalformed   Outcome = "MALFORMED"
	OutcomeRateLimited Outcome = "RATE_LIMITED"
	OutcomeUnavailable Outcome = "UNAVAILABLE"
)

// Validation is the answer to "is this token valid, and whose is it?".
type Validation struct {
	Outcome Outcome
	UserID  string
	TokenID string
	// OrganizationID is the token's organization; nil for a personal token.
	OrganizationID *string
	Name           string
	ExpiresAt      *time.Time
	CreatedAt      time.Time
	// RetryAfter is how long to wait when Outcome is OutcomeRateLimited.
	RetryAfter time.Duration
}

// ValidatorConfig holds the Validator's settings.
type ValidatorConfig struct {
	// CacheTTL is how long a validation answer may be served from memory.
	CacheTTL time.Duration
	// CacheSize bounds the validation cache, in entries.
	CacheSize int
	// LookupTimeout bounds one validation query (default 2 s).
	LookupTimeout time.Duration
}

// RateLimiter decides, without I/O, whether one more use of a key is allowed.
type RateLimiter interface {
	Allow(key string, now time.Time) (retryAfter time.Duration, ok bool)
}

// ValidatorDeps are the Validator's collaborators.
type ValidatorDeps struct {
	// Rate limits validations per token; nil: no limit.
	Rate    RateLimiter
	Metrics *metrics.Metrics // may be nil
	Log     *slog.Logger
}

// Validator answers "is this token valid, and whose is it?" from memory
// where it can. It keeps the cache current by listening for revocations
// (ListenRevocations), drops old answers (RunCacheRotation) and records uses
// for lastUsedAt (RunLastUsedFlusher).
type Validator struct {
	store
	cfg     ValidatorConfig
	rate    RateLimiter
	metrics *metrics.Metrics
	log     *slog.Logger

	cache     *cache.Cache[Validation]
	group     singleflight.Group
	usage     *usageRecorder
	imported  *importedSet
	listening atomic.Bool
	// beforeCache, when set (tests only), runs after a lookup and just before
	// its answer is stored, to interleave a revocation deterministically.
	beforeCache atomic.Pointer[func()]
}

// NewValidator returns a Validator of the tokens stored in pool.
func NewValidator(pool *pgxpool.Pool, cfg ValidatorConfig, d ValidatorDeps) *Validator {
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = 2 * time.Second
	}
	if d.Rate == nil {
		d.Rate = limit.NewRate(0, time.Minute, nil, "")
	}
	v := &Validator{
		store:    newStore(pool, d.Metrics),
		cfg:      cfg,
		rate:     d.Rate,
		metrics:  d.Metrics,
		log:      d.Log,
		cache:    cache.New[Validation](cfg.CacheSize),
		usage:    newUsageRecorder(),
		imported: newImportedSet(),
	}
	// Nobody listens for revocations yet.
	v.cache.Restrict(unheardTTL)
	return v
}

// negativeTTL is how long "no such token" is cached: long enough to absorb a
// client retrying a bad token in a loop, short enough that an imported token
// is seen soon.
const negativeTTL = 5 * time.Second

// Validate checks a presented token: checksum first (a malformed token costs no
// I/O), then the cache, then PostgreSQL, with concurrent misses for one token
// collapsed into one query. A valid answer records the use for lastUsedAt
// without waiting for the write. The error is ErrUnavailable (wrapped) when
// the token is not cached and the database cannot answer.
func (v *Validator) Validate(ctx context.Context, tok string) (Validation, error) {
	kind := token.Classify(tok)
	if kind == token.Malformed {
		v.metrics.Validated(string(OutcomeMalformed))
		return Validation{Outcome: OutcomeMalformed}, nil
	}
	h := token.Hash(tok)
	if kind == token.Legacy && !v.imported.mayContain(h) {
		// Not patd's form and never imported: no such token, and no I/O.
		v.metrics.Validated(string(OutcomeNotFound))
		return Validation{Outcome: OutcomeNotFound}, nil
	}
	now := time.Now()
	ans, hit := v.cache.Get(h)
	v.metrics.CacheLookup(hit)
	if !hit {
		var err error
		if ans, err = v.load(ctx, h); err != nil {
			v.metrics.Validated(string(OutcomeUnavailable))
			return Validation{}, err
		}
	}
	if ans.Outcome == OutcomeValid && ans.ExpiresAt != nil && !ans.ExpiresAt.After(now) {
		ans = Validation{Outcome: OutcomeExpired}
	}
	if ans.Outcome == OutcomeValid {
		if wait, ok := v.rate.Allow(ans.TokenID, now); !ok {
			v.metrics.LimiterDecision("validate", "deny")
			v.metrics.Validated(string(OutcomeRateLimited))
			return Validation{Outcome: OutcomeRateLimited, RetryAfter: wait}, nil
		}
		v.metrics.LimiterDecision("validate", "allow")
		v.usage.record(ans.TokenID, now)
	}
	v.metrics.Validated(string(ans.Outcome))
	return ans, nil
}

// load looks a token hash up in PostgreSQL and caches the answer.
func (v *Validator) load(ctx context.Context, h [32]byte) (Validation, error) {
	res, err, _ := v.group.Do(string(h[:]), func() (any, error) {
		// The lookup outlives any one caller's cancellation: others wait on it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.cfg.LookupTimeout)
		defer cancel()
		// A revocation handled after this point may be about the row about
		// to be read: the cache's generation then moves and the answer is
		// not stored. The answer's age counts from here: a revocation may
		// commit any time after the query starts.
		gen, read := v.cache.Generation(), time.Now()
		row, err := v.q.GetTokenByHash(ctx, h[:])
		if errors.Is(err, pgx.ErrNoRows) {
			ans := Validation{Outcome: OutcomeNotFound}
			v.cacheAnswer(h, ans, read, min(negativeTTL, v.cfg.CacheTTL), gen)
			return ans, nil
		}
		if err != nil {
			return nil, err
		}
		ans := Validation{
			Outcome:        OutcomeValid,
			UserID:         row.UserID,
			TokenID:        row.ID,
			OrganizationID: row.OrganizationID,
			Name:           row.Name,
			ExpiresAt:      utcPtr(row.ExpiresAt),
			CreatedAt:      row.CreatedAt.UTC(),
		}
		v.cacheAnswer(h, ans, read, v.cfg.CacheTTL, gen)
		return ans, nil
	})
	if err != nil {
		return Validation{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return res.(Validation), nil
}

// unheardTTL is the most an answer may be cached, counted from its lookup,
// while this replica does not hear revocations, so that one it missed still
// takes effect within a second.
const unheardTTL = time.Second

// cacheAnswer caches ans, read at read, unless a revocation arrived since the
// lookup began (generation gen): the row read may be one that was just
// revoked, and the notice that would have dropped it has come and gone. The
// check and the store are one step of the cache, under the lock that
// revocations take; so is the cap of unheardTTL while nobody listens.
func (v *Validator) cacheAnswer(h [32]byte, ans Validation, read time.Time, ttl time.Duration, gen uint64) {
	if f := v.beforeCache.Load(); f != nil {
		(*f)()
	}
	v.cache.SetIf(h, ans, read, ttl, gen)
}

// RunCacheRotation rotates the cache's generations until ctx is done, at
// least rotationInterval apart (a timer reset after each rotation: a ticker
// catches up after a stall, and two close rotations would drop live
// answers). No answer outlives the interval, and each is dropped within two
// of being stored, so that the memory of a burst of distinct tokens comes
// back (a Go map never shrinks; the cache drops a whole generation instead).
func (v *Validator) RunCacheRotation(ctx context.Context) {
	if v.cfg.CacheTTL <= 0 {
		return // nothing is cached
	}
	d := rotationInterval(v.cfg.CacheTTL)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v.cache.Rotate()
			t.Reset(d)
		}
	}
}

// rotationInterval is how often the cache rotates for a cache TTL of ttl:
// the TTL, which every answer's time to live is at most, but not more often
// than once a second, since a rotation makes a map and a tiny TTL would make
// that constant work. Rotating later than the TTL only keeps memory longer.
func rotationInterval(ttl time.Duration) time.Duration { return max(ttl, time.Second) }

// CachedAnswers is how many answers the cache holds, expired or not.
func (v *Validator) CachedAnswers() int { return v.cache.Len() }

// CheckToken implements auth.TokenChecker, so that a PAT authenticates
// GraphQL and REST requests through the same checks as the validate route.
func (v *Validator) CheckToken(ctx context.Context, tok string) (userID, tokenID string, err error) {
	ans, err := v.Validate(ctx, tok)
	if err != nil {
		return "", "", err
	}
	switch ans.Outcome {
	case OutcomeValid:
		return ans.UserID, ans.TokenID, nil
	case OutcomeRateLimited:
		return "", "", &RateError{ResetAt: time.Now().Add(ans.RetryAfter)}
	default:
		return "", "", fmt.Errorf("%w: %s", auth.ErrInvalidCredentials, ans.Outcome)
	}
}
