// Package pat is the personal access token service: every rule about creating,
// listing, rotating, revoking and validating tokens lives here once, shared by
// the GraphQL and REST front doors. Each change runs in one transaction with
// its audit row.
package pat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/cache"
	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/requestinfo"
	"github.com/alternatefutures/patd/internal/token"
)

// Page sizes accepted by List.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
	// MaxGracePeriod is the longest a rotated-out token may stay valid.
	MaxGracePeriod = 7 * 24 * time.Hour
)

// Token is a stored token as its owner may see it: never the secret.
type Token struct {
	ID          string
	UserID      string
	Name        string
	MaskedToken string
	ExpiresAt   *time.Time
	LastUsedAt  *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Created is a token just minted, with its secret: the one time it is shown.
type Created struct {
	Token
	Secret string
	// Quota is where the user stands against the creation quota afterwards
	// (zero for rotations, which do not use it).
	Quota limit.Usage
}

// Page is one page of a user's tokens, newest first.
type Page struct {
	Tokens      []Token
	TotalCount  int
	HasNextPage bool
	EndCursor   string // empty when the page is empty
}

// Limits is where a user stands against the creation quota and the active cap.
type Limits struct {
	Quota           limit.Usage
	ActiveTokens    int
	MaxActiveTokens int
}

// Config holds the service's settings.
type Config struct {
	// TokenPrefix is token.PrefixLive or token.PrefixTest.
	TokenPrefix string
	// MaxActive is how many unexpired tokens one user may hold.
	MaxActive int
	// CacheTTL is how long a validation answer may be served from memory.
	CacheTTL time.Duration
	// CacheSize bounds the validation cache, in entries.
	CacheSize int
	// LookupTimeout bounds one validation query.
	LookupTimeout time.Duration
}

// RateLimiter decides, without I/O, whether one more use of a key is allowed.
type RateLimiter interface {
	Allow(key string, now time.Time) (retryAfter time.Duration, ok bool)
}

// Deps are the service's collaborators.
type Deps struct {
	// Quota counts token creations per user.
	Quota limit.Quota
	// ValidateRate limits validations per token.
	ValidateRate RateLimiter
	Metrics      *metrics.Metrics // may be nil
	Log          *slog.Logger
}

// Service implements the token operations over PostgreSQL.
type Service struct {
	pool         *pgxpool.Pool
	q            *db.Queries
	cfg          Config
	quota        limit.Quota
	validateRate RateLimiter
	metrics      *metrics.Metrics
	log          *slog.Logger

	cache     *cache.Cache[Validation]
	group     singleflight.Group
	usage     *usageRecorder
	listening atomic.Bool
	// revocations counts cache invalidations; a lookup that saw it move
	// may have read a row revoked meanwhile, and does not cache its answer.
	revocations atomic.Uint64
}

// New returns a Service storing tokens in pool.
func New(pool *pgxpool.Pool, cfg Config, d Deps) *Service {
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = 2 * time.Second
	}
	if d.ValidateRate == nil {
		d.ValidateRate = limit.NewRate(0, time.Minute, nil, "")
	}
	return &Service{
		pool:         pool,
		q:            db.New(pool),
		cfg:          cfg,
		quota:        d.Quota,
		validateRate: d.ValidateRate,
		metrics:      d.Metrics,
		log:          d.Log,
		cache:        cache.New[Validation](cfg.CacheSize),
		usage:        newUsageRecorder(),
	}
}

func toToken(r db.PersonalAccessToken) Token {
	return Token{
		ID:          r.ID,
		UserID:      r.UserID,
		Name:        r.Name,
		MaskedToken: token.Mask(r.TokenStart),
		ExpiresAt:   utcPtr(r.ExpiresAt),
		LastUsedAt:  utcPtr(r.LastUsedAt),
		CreatedAt:   r.CreatedAt.UTC(),
		UpdatedAt:   r.UpdatedAt.UTC(),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// requireUser returns ErrUnauthenticated for the zero Principal.
func requireUser(p auth.Principal) error {
	if p.UserID == "" {
		return ErrUnauthenticated
	}
	return nil
}

// requireSession refuses callers that authenticated with a PAT: a leaked token
// must not be able to mint more.
func requireSession(p auth.Principal) error {
	if err := requireUser(p); err != nil {
		return err
	}
	if p.Method != auth.Session {
		return fmt.Errorf("%w: a personal access token cannot create or rotate tokens", ErrForbidden)
	}
	return nil
}

func checkName(name string) (string, error) {
	n, err := token.NormalizeName(name)
	if err != nil {
		return "", inputError(ReasonInvalidName,
			"token name must be 1 to %d letters, digits, spaces, '-', '_' or '.'", token.MaxNameLength)
	}
	return n, nil
}

func checkExpiry(expiresAt *time.Time, now time.Time) error {
	if token.CheckExpiry(expiresAt, now) != nil {
		return inputError(ReasonInvalidExpiration, "expiresAt must be in the future and at most 10 years ahead")
	}
	return nil
}

// Create mints a token for the caller.
func (s *Service) Create(ctx context.Context, p auth.Principal, name string, expiresAt *time.Time) (Created, error) {
	if err := requireSession(p); err != nil {
		return Created{}, err
	}
	now := time.Now()
	name, err := checkName(name)
	if err != nil {
		return Created{}, err
	}
	if err := checkExpiry(expiresAt, now); err != nil {
		return Created{}, err
	}
	res, err := s.quota.Take(ctx, p.UserID)
	if err != nil {
		var ex *limit.ExceededError
		if errors.As(err, &ex) {
			s.metrics.LimiterDecision("create", "deny")
			return Created{}, &RateLimitError{Limit: ex.Limit, Window: ex.Window, ResetAt: ex.ResetAt}
		}
		s.metrics.LimiterDecision("create", "error")
		// Without the shared count nobody can tell whether the user is over
		// the quota: refuse (fail closed).
		s.log.ErrorContext(ctx, "creation quota unavailable; refusing to create a token", "error", err,
			"request_id", requestinfo.FromContext(ctx).ID)
		return Created{}, fmt.Errorf("creation quota: %w", err)
	}
	s.metrics.LimiterDecision("create", "allow")
	var created Created
	err = s.inTx(ctx, func(q *db.Queries) error {
		if err := q.LockUserTokens(ctx, p.UserID); err != nil {
			return err
		}
		if err := s.checkActive(ctx, q, p.UserID, now, 1); err != nil {
			return err
		}
		created, err = s.insert(ctx, q, p.UserID, name, expiresAt, now)
		if err != nil {
			return err
		}
		return s.audit(ctx, q, "create", p.UserID, p.UserID, &created.ID, map[string]any{"name": name})
	})
	if err != nil {
		// The slot was taken for a token that does not exist: give it back.
		if rerr := s.quota.Release(context.WithoutCancel(ctx), res); rerr != nil {
			s.log.ErrorContext(ctx, "release creation quota slot", "error", rerr)
		}
		return Created{}, err
	}
	created.Quota = res.After
	return created, nil
}

// checkActive fails with MaxTokensError when adding more tokens would take the
// user above the cap. The caller holds the user's lock (LockUserTokens), so no
// concurrent create can slip in between the count and the insert.
func (s *Service) checkActive(ctx context.Context, q *db.Queries, userID string, now time.Time, more int) error {
	n, err := q.CountActiveTokens(ctx, db.CountActiveTokensParams{UserID: userID, Now: now})
	if err != nil {
		return err
	}
	if int(n)+more > s.cfg.MaxActive {
		return &MaxTokensError{Max: s.cfg.MaxActive}
	}
	return nil
}

func (s *Service) insert(ctx context.Context, q *db.Queries, userID, name string, expiresAt *time.Time, now time.Time) (Created, error) {
	secret, err := token.New(s.cfg.TokenPrefix)
	if err != nil {
		return Created{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Created{}, err
	}
	h := token.Hash(secret)
	row, err := q.InsertToken(ctx, db.InsertTokenParams{
		ID:         id.String(),
		UserID:     userID,
		Name:       name,
		TokenHash:  h[:],
		TokenStart: token.Start(secret),
		ExpiresAt:  utcPtr(expiresAt),
		CreatedAt:  now,
	})
	if err != nil {
		return Created{}, err
	}
	return Created{Token: toToken(row), Secret: secret}, nil
}

// List returns a page of the caller's tokens, newest first. first is 1 to
// MaxPageSize; after is the EndCursor of the previous page, or empty.
func (s *Service) List(ctx context.Context, p auth.Principal, first int, after string) (Page, error) {
	if err := requireUser(p); err != nil {
		return Page{}, err
	}
	if first < 1 || first > MaxPageSize {
		return Page{}, inputError(ReasonInvalidPagination, "first must be between 1 and %d", MaxPageSize)
	}
	arg := db.ListTokensParams{UserID: p.UserID, MaxRows: int32(first + 1)}
	if after != "" {
		t, id, err := decodeCursor(after)
		if err != nil {
			return Page{}, inputError(ReasonInvalidPagination, "after is not a cursor this API returned")
		}
		arg.AfterCreatedAt, arg.AfterID = &t, &id
	}
	rows, err := s.q.ListTokens(ctx, arg)
	if err != nil {
		return Page{}, fmt.Errorf("list tokens: %w", err)
	}
	total, err := s.q.CountTokens(ctx, p.UserID)
	if err != nil {
		return Page{}, fmt.Errorf("count tokens: %w", err)
	}
	page := Page{TotalCount: int(total), HasNextPage: len(rows) > first}
	rows = rows[:min(len(rows), first)]
	page.Tokens = make([]Token, len(rows))
	for i, r := range rows {
		page.Tokens[i] = toToken(r)
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1]
		page.EndCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

// Get returns the caller's token id, or ErrNotFound, also when it is someone else's.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Token, error) {
	if err := requireUser(p); err != nil {
		return Token{}, err
	}
	row, err := s.q.GetToken(ctx, db.GetTokenParams{ID: id, UserID: p.UserID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, ErrNotFound
	}
	if err != nil {
		return Token{}, fmt.Errorf("get token: %w", err)
	}
	return toToken(row), nil
}

// GetMany returns, in the order of ids, the caller's tokens among ids, with a
// nil for each one that does not exist or is not the caller's. It costs one
// query, whatever the number of ids. With no caller every entry is nil.
func (s *Service) GetMany(ctx context.Context, p auth.Principal, ids []string) ([]*Token, error) {
	out := make([]*Token, len(ids))
	if p.UserID == "" || len(ids) == 0 {
		return out, nil
	}
	rows, err := s.q.GetTokensByIDs(ctx, db.GetTokensByIDsParams{Ids: ids, UserID: p.UserID})
	if err != nil {
		return nil, fmt.Errorf("get tokens: %w", err)
	}
	byID := make(map[string]*Token, len(rows))
	for _, r := range rows {
		t := toToken(r)
		byID[r.ID] = &t
	}
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// Delete deletes the caller's token id. A PAT may delete tokens, itself included.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	if err := requireUser(p); err != nil {
		return err
	}
	return s.revokingTx(ctx, func(q *db.Queries) ([][]byte, error) {
		h, err := q.DeleteToken(ctx, db.DeleteTokenParams{ID: id, UserID: p.UserID})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		return [][]byte{h}, s.audit(ctx, q, "delete", p.UserID, p.UserID, &id, nil)
	})
}

// Rotate replaces the caller's token id with a new one of the same name. The
// new token expires at expiresAt, or when the old one did when expiresAt is
// nil. The old token stays valid for graceSeconds (0: revoked at once, at
// most MaxGracePeriod); while it does, it counts against the active cap.
func (s *Service) Rotate(ctx context.Context, p auth.Principal, id string, expiresAt *time.Time, graceSeconds int) (Created, error) {
	if err := requireSession(p); err != nil {
		return Created{}, err
	}
	if graceSeconds < 0 || graceSeconds > int(MaxGracePeriod/time.Second) {
		return Created{}, inputError(ReasonInvalidGrace, "gracePeriodSeconds must be between 0 and %d", int(MaxGracePeriod/time.Second))
	}
	grace := time.Duration(graceSeconds) * time.Second
	now := time.Now()
	if expiresAt != nil {
		if err := checkExpiry(expiresAt, now); err != nil {
			return Created{}, err
		}
	}
	var created Created
	err := s.revokingTx(ctx, func(q *db.Queries) ([][]byte, error) {
		if err := q.LockUserTokens(ctx, p.UserID); err != nil {
			return nil, err
		}
		old, err := q.GetToken(ctx, db.GetTokenParams{ID: id, UserID: p.UserID})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		exp := expiresAt
		if exp == nil && old.ExpiresAt != nil {
			exp = old.ExpiresAt
			if err := checkExpiry(exp, now); err != nil {
				return nil, inputError(ReasonInvalidExpiration, "the token has expired; give the new one an expiresAt")
			}
		}
		if grace == 0 {
			if _, err := q.DeleteToken(ctx, db.DeleteTokenParams{ID: id, UserID: p.UserID}); err != nil {
				return nil, err
			}
		} else if end := now.Add(grace); old.ExpiresAt == nil || old.ExpiresAt.After(end) {
			if _, err := q.SetTokenExpiry(ctx, db.SetTokenExpiryParams{ID: id, UserID: p.UserID, ExpiresAt: &end, Now: now}); err != nil {
				return nil, err
			}
		}
		if err := s.checkActive(ctx, q, p.UserID, now, 1); err != nil {
			return nil, err
		}
		created, err = s.insert(ctx, q, p.UserID, old.Name, exp, now)
		if err != nil {
			return nil, err
		}
		// Cached answers for the old token are stale either way: it is gone
		// or expires sooner.
		return [][]byte{old.TokenHash}, s.audit(ctx, q, "rotate", p.UserID, p.UserID, &id,
			map[string]any{"newTokenId": created.ID, "gracePeriodSeconds": graceSeconds})
	})
	if err != nil {
		return Created{}, err
	}
	return created, nil
}

// RevokeAll deletes every token of userID, for when the account goes. It is
// called by a backend, not by the user; it returns how many were deleted.
func (s *Service) RevokeAll(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.revokingTx(ctx, func(q *db.Queries) ([][]byte, error) {
		rows, err := q.DeleteUserTokens(ctx, userID)
		if err != nil || len(rows) == 0 {
			return nil, err
		}
		n = len(rows)
		ids, users, hashes := make([]string, n), make([]string, n), make([][]byte, n)
		for i, r := range rows {
			ids[i], users[i], hashes[i] = r.ID, userID, r.TokenHash
		}
		return hashes, s.auditMany(ctx, q, "revoke_all", "service", users, ids)
	})
	return n, err
}

// Limits tells where the caller stands against the creation quota and the cap.
func (s *Service) Limits(ctx context.Context, p auth.Principal) (Limits, error) {
	if err := requireUser(p); err != nil {
		return Limits{}, err
	}
	u, err := s.quota.Usage(ctx, p.UserID)
	if err != nil {
		return Limits{}, fmt.Errorf("creation quota: %w", err)
	}
	n, err := s.q.CountActiveTokens(ctx, db.CountActiveTokensParams{UserID: p.UserID, Now: time.Now()})
	if err != nil {
		return Limits{}, fmt.Errorf("count active tokens: %w", err)
	}
	return Limits{Quota: u, ActiveTokens: int(n), MaxActiveTokens: s.cfg.MaxActive}, nil
}

// inTx runs fn in one transaction.
func (s *Service) inTx(ctx context.Context, fn func(q *db.Queries) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return fn(s.q.WithTx(tx))
	})
}

// revokingTx runs fn in one transaction that also notifies every replica of
// the token hashes fn returns, and drops them from this replica's cache once
// the transaction has committed.
func (s *Service) revokingTx(ctx context.Context, fn func(q *db.Queries) ([][]byte, error)) error {
	var hashes [][]byte
	err := s.inTx(ctx, func(q *db.Queries) error {
		var err error
		if hashes, err = fn(q); err != nil {
			return err
		}
		return notifyRevoked(ctx, q, hashes)
	})
	if err == nil {
		s.forget(hashes)
	}
	return err
}

// audit records one change; never the token itself.
func (s *Service) audit(ctx context.Context, q *db.Queries, action, actorID, userID string, tokenID *string, detail map[string]any) error {
	info := requestinfo.FromContext(ctx)
	if detail == nil {
		detail = map[string]any{}
	}
	d, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return q.InsertAuditEvent(ctx, db.InsertAuditEventParams{
		Action:    action,
		ActorID:   actorID,
		UserID:    userID,
		TokenID:   tokenID,
		Detail:    d,
		ClientIp:  info.ClientIP,
		UserAgent: info.UserAgent,
		RequestID: info.ID,
	})
}

// auditMany records one event per token in one statement.
func (s *Service) auditMany(ctx context.Context, q *db.Queries, action, actorID string, userIDs, tokenIDs []string) error {
	info := requestinfo.FromContext(ctx)
	return q.InsertAuditEvents(ctx, db.InsertAuditEventsParams{
		Action:    action,
		ActorID:   actorID,
		UserIds:   userIDs,
		TokenIds:  tokenIDs,
		ClientIp:  info.ClientIP,
		UserAgent: info.UserAgent,
		RequestID: info.ID,
	})
}
