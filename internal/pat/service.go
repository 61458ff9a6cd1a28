// Package pat is the personal access token domain: every rule about creating,
// listing, rotating, revoking and validating tokens lives here once, shared by
// the GraphQL and REST front doors.
//
// It has three parts, each with its own type:
//   - Service: the operations a caller asks for (create, list, get, delete,
//     rotate, revoke-all, limits); each change runs in one transaction with
//     its audit row and tells every replica what it revoked.
//   - Validator: the validation engine behind /validate and PAT
//     authentication: checksum, cache, lookup, revocation listener, the
//     validation rate and lastUsedAt.
//   - Maintenance: what operators run: expired-token cleanup and import.
package pat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/auth"
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

// Config holds the Service's settings.
type Config struct {
	// TokenPrefix is token.PrefixLive or token.PrefixTest.
	TokenPrefix string
	// MaxActive is how many unexpired tokens one user may hold.
	MaxActive int
}

// Deps are the Service's collaborators.
type Deps struct {
	// Quota counts token creations per user.
	Quota limit.Quota
	// Validator is this replica's validation engine, told at once of what
	// the Service revokes.
	Validator *Validator
	Metrics   *metrics.Metrics // may be nil
	Log       *slog.Logger
}

// Service implements the token operations a caller asks for.
type Service struct {
	store
	cfg       Config
	quota     limit.Quota
	validator *Validator
	metrics   *metrics.Metrics
	log       *slog.Logger
}

// New returns a Service storing tokens in pool.
func New(pool *pgxpool.Pool, cfg Config, d Deps) *Service {
	return &Service{
		store:     newStore(pool, d.Metrics),
		cfg:       cfg,
		quota:     d.Quota,
		validator: d.Validator,
		metrics:   d.Metrics,
		log:       d.Log,
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
		return "", &InputError{Reason: ReasonInvalidName, Message: msgInvalidName}
	}
	return n, nil
}

func checkExpiry(expiresAt *time.Time, now time.Time) error {
	if token.CheckExpiry(expiresAt, now) != nil {
		return &InputError{Reason: ReasonInvalidExpiration, Message: msgInvalidExpiration}
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
	// A user over the quota, or a Redis that cannot be reached, is refused
	// before the transaction holds a database connection.
	if err := s.checkQuota(ctx, p.UserID); err != nil {
		return Created{}, err
	}
	var (
		created Created
		res     *limit.Reservation
	)
	err = s.inTx(ctx, func(q *db.Queries) error {
		if err := q.LockUserTokens(ctx, p.UserID); err != nil {
			return err
		}
		if err := s.checkActive(ctx, q, p.UserID, now, 1); err != nil {
			return err
		}
		// The slot is taken only now, under the user's lock and once the cap
		// allows the token: a create refused for the cap never holds a slot
		// that a concurrent create would find spent. A retried transaction
		// keeps the slot its first run took.
		if res == nil {
			r, err := s.takeQuota(ctx, p.UserID)
			if err != nil {
				return err
			}
			res = &r
		}
		created, err = s.insert(ctx, q, p.UserID, name, expiresAt, now)
		if err != nil {
			return err
		}
		return audit(ctx, q, ActionCreate, p.UserID, p.UserID, &created.ID, map[string]any{"name": name})
	})
	if err != nil {
		// The slot was taken for a token that does not exist: give it back.
		if res != nil {
			if rerr := s.quota.Release(context.WithoutCancel(ctx), *res); rerr != nil {
				s.log.ErrorContext(ctx, "release creation quota slot", "error", rerr)
			}
		}
		return Created{}, err
	}
	created.Quota = res.After
	return created, nil
}

// checkQuota fails as takeQuota would when userID has no creation slot left
// or the shared count cannot be reached, but takes no slot.
func (s *Service) checkQuota(ctx context.Context, userID string) error {
	u, err := s.quota.Usage(ctx, userID)
	switch {
	case err != nil:
		s.metrics.LimiterDecision("create", "error")
		s.log.ErrorContext(ctx, "creation quota unavailable; refusing to create a token", "error", err,
			"request_id", requestinfo.FromContext(ctx).ID)
		return fmt.Errorf("creation quota: %w", err)
	case u.Remaining <= 0:
		s.metrics.LimiterDecision("create", "deny")
		return &QuotaError{Limit: u.Limit, Window: u.Window, ResetAt: u.ResetAt}
	}
	return nil
}

// takeQuota takes a creation slot for userID, or fails with *QuotaError, or,
// when the shared count cannot be reached, with an internal error: nobody can
// tell then whether the user is over the quota, so creation fails closed.
func (s *Service) takeQuota(ctx context.Context, userID string) (limit.Reservation, error) {
	res, err := s.quota.Take(ctx, userID)
	var ex *limit.ExceededError
	switch {
	case errors.As(err, &ex):
		s.metrics.LimiterDecision("create", "deny")
		return res, &QuotaError{Limit: ex.Limit, Window: ex.Window, ResetAt: ex.ResetAt}
	case err != nil:
		s.metrics.LimiterDecision("create", "error")
		s.log.ErrorContext(ctx, "creation quota unavailable; refusing to create a token", "error", err,
			"request_id", requestinfo.FromContext(ctx).ID)
		return res, fmt.Errorf("creation quota: %w", err)
	}
	s.metrics.LimiterDecision("create", "allow")
	return res, nil
}

// checkActive fails with *MaxActiveError when adding more tokens would take
// the user above the cap. The caller holds the user's lock (LockUserTokens),
// so no concurrent create can slip in between the count and the insert.
func (s *Service) checkActive(ctx context.Context, q *db.Queries, userID string, now time.Time, more int) error {
	n, err := q.CountActiveTokens(ctx, db.CountActiveTokensParams{UserID: userID, Now: now})
	if err != nil {
		return err
	}
	if int(n)+more > s.cfg.MaxActive {
		return &MaxActiveError{Max: s.cfg.MaxActive}
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

// ListOf is List of userID's tokens: only userID may see them, anyone else
// gets ErrForbidden.
func (s *Service) ListOf(ctx context.Context, p auth.Principal, userID string, first int, after string) (Page, error) {
	if err := requireUser(p); err != nil {
		return Page{}, err
	}
	if p.UserID != userID {
		return Page{}, fmt.Errorf("%w: only the user may list their own tokens", ErrForbidden)
	}
	return s.List(ctx, p, first, after)
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
// query, whatever the number of ids. An anonymous caller (the zero Principal)
// sees nothing: every entry is nil.
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
		return [][]byte{h}, audit(ctx, q, ActionDelete, p.UserID, p.UserID, &id, nil)
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
	now := time.Now()
	if err := checkExpiry(expiresAt, now); err != nil {
		return Created{}, err
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
		if err := retire(ctx, q, old, time.Duration(graceSeconds)*time.Second, now); err != nil {
			return nil, err
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
		return [][]byte{old.TokenHash}, audit(ctx, q, ActionRotate, p.UserID, p.UserID, &id,
			map[string]any{"newTokenId": created.ID, "gracePeriodSeconds": graceSeconds})
	})
	if err != nil {
		return Created{}, err
	}
	return created, nil
}

// retire ends a rotated-out token: at once without a grace period, else it
// expires when the grace period ends, unless it would expire sooner anyway.
func retire(ctx context.Context, q *db.Queries, old db.PersonalAccessToken, grace time.Duration, now time.Time) error {
	if grace == 0 {
		_, err := q.DeleteToken(ctx, db.DeleteTokenParams{ID: old.ID, UserID: old.UserID})
		if errors.Is(err, pgx.ErrNoRows) {
			// Deleted (or revoked) since it was read: as if it never was.
			return ErrNotFound
		}
		return err
	}
	end := now.Add(grace)
	if old.ExpiresAt != nil && !old.ExpiresAt.After(end) {
		return nil
	}
	return q.SetTokenExpiry(ctx, db.SetTokenExpiryParams{ID: old.ID, UserID: old.UserID, ExpiresAt: &end, Now: now})
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
		return hashes, auditMany(ctx, q, ActionRevokeAll, ActorService, users, ids)
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
	if err == nil && s.validator != nil {
		s.validator.forget(hashes)
	}
	return err
}
