package pat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/token"
)

// Code is the outcome of a validation.
type Code string

// Validation outcomes, as the validate route reports them.
const (
	Valid       Code = "VALID"
	NotFound    Code = "NOT_FOUND"
	Expired     Code = "EXPIRED"
	Malformed   Code = "MALFORMED"
	RateLimited Code = "RATE_LIMITED"
)

// Validation is the answer to "is this token valid, and whose is it?".
type Validation struct {
	Code      Code
	UserID    string
	TokenID   string
	Name      string
	ExpiresAt *time.Time
	CreatedAt time.Time
	// RetryAfter is set when Code is RateLimited.
	RetryAfter time.Duration
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
func (s *Service) Validate(ctx context.Context, tok string) (Validation, error) {
	if token.Classify(tok) == token.Malformed {
		s.metrics.Validated(string(Malformed))
		return Validation{Code: Malformed}, nil
	}
	h := token.Hash(tok)
	now := time.Now()
	v, hit := s.cache.Get(h)
	s.metrics.CacheLookup(hit)
	if !hit {
		var err error
		v, err = s.load(ctx, h)
		if err != nil {
			s.metrics.Validated("UNAVAILABLE")
			return Validation{}, err
		}
	}
	if v.Code == Valid && v.ExpiresAt != nil && !v.ExpiresAt.After(now) {
		v = Validation{Code: Expired}
	}
	if v.Code == Valid {
		if wait, ok := s.validateRate.Allow(v.TokenID, now); !ok {
			s.metrics.LimiterDecision("validate", "deny")
			s.metrics.Validated(string(RateLimited))
			return Validation{Code: RateLimited, RetryAfter: wait}, nil
		}
		s.metrics.LimiterDecision("validate", "allow")
		s.usage.record(v.TokenID, now)
	}
	s.metrics.Validated(string(v.Code))
	return v, nil
}

// load looks a token hash up in PostgreSQL and caches the answer.
func (s *Service) load(ctx context.Context, h [32]byte) (Validation, error) {
	res, err, _ := s.group.Do(string(h[:]), func() (any, error) {
		// The lookup outlives any one caller's cancellation: others wait on it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.LookupTimeout)
		defer cancel()
		gen := s.revocations.Load()
		row, err := s.q.GetTokenByHash(ctx, h[:])
		if errors.Is(err, pgx.ErrNoRows) {
			v := Validation{Code: NotFound}
			s.cacheAnswer(h, v, min(negativeTTL, s.cfg.CacheTTL), gen)
			return v, nil
		}
		if err != nil {
			return nil, err
		}
		v := Validation{
			Code:      Valid,
			UserID:    row.UserID,
			TokenID:   row.ID,
			Name:      row.Name,
			ExpiresAt: utcPtr(row.ExpiresAt),
			CreatedAt: row.CreatedAt.UTC(),
		}
		s.cacheAnswer(h, v, s.cfg.CacheTTL, gen)
		return v, nil
	})
	if err != nil {
		return Validation{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return res.(Validation), nil
}

// unheardTTL caps how long an answer is cached while this replica does not
// hear revocations, so that one still ends within a second.
const unheardTTL = time.Second

// cacheAnswer caches v unless a revocation arrived since the lookup began
// (generation gen): the row read may be one that was just revoked, and the
// notice that would have dropped it has come and gone.
func (s *Service) cacheAnswer(h [32]byte, v Validation, ttl time.Duration, gen uint64) {
	if !s.listening.Load() {
		ttl = min(ttl, unheardTTL)
	}
	if s.revocations.Load() != gen {
		return
	}
	s.cache.Set(h, v, ttl)
}

// CheckToken implements auth.TokenChecker, so that a PAT can authenticate
// GraphQL and REST requests through the same checks as the validate route.
func (s *Service) CheckToken(ctx context.Context, tok string) (userID, tokenID string, err error) {
	v, err := s.Validate(ctx, tok)
	if err != nil {
		return "", "", err
	}
	switch v.Code {
	case Valid:
	case RateLimited:
		return "", "", &TokenRateLimitError{ResetAt: time.Now().Add(v.RetryAfter)}
	default:
		return "", "", fmt.Errorf("%w: %s", auth.ErrInvalidCredentials, v.Code)
	}
	return v.UserID, v.TokenID, nil
}
