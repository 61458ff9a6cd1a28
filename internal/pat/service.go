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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/metrics"
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
	ID     string
	UserID string
	// OrganizationID is the organization the token belongs to; nil for a
	// personal token.
	OrganizationID *string
	Name           string
	MaskedToken    string
	ExpiresAt      *time.Time
	LastUsedAt     *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// NewToken is what a caller asks for when creating a token.
type NewToken struct {
	Name      string
	ExpiresAt *time.Time // nil: never expires
	// OrganizationID, when not empty, makes the token the organization's;
	// the caller must be a member.
	OrganizationID string
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

// Memberships tells whether a user belongs to an organization: nil when so,
// orgs.ErrNotMember when not, any other error when it cannot tell.
type Memberships interface {
	Check(ctx context.Context, authorization, userID, orgID string) error
}

// Deps are the Service's collaborators.
type Deps struct {
	// Quota counts token creations per user.
	Quota limit.Quota
	// Memberships checks organization membership for organization tokens.
	Memberships Memberships
	// CLIStarts limits CLI logins started per client address, and CLIPolls
	// polls per pairing session; nil: defaults kept in this process.
	CLIStarts, CLIPolls RateLimiter
	// Validator is this replica's validation engine, told at once of what
	// the Service revokes.
	Validator *Validator
	Metrics   *metrics.Metrics // may be nil
	Log       *slog.Logger
	// Outbox receives the lifecycle events of every change; nil: none.
	Outbox Outbox
}

// Service implements the token operations a caller asks for.
type Service struct {
	store
	cfg       Config
	quota     limit.Quota
	writes    *userGate
	members   Memberships
	cliStarts RateLimiter
	cliPolls  RateLimiter
	validator *Validator
	metrics   *metrics.Metrics
	log       *slog.Logger
}

// Default CLI login limits.
const (
	DefaultCLIStartsPerMinute = 20 // per client address
	DefaultCLIPollsPerMinute  = 60 // per session: the CLI polls every 2 s
)

// New returns a Service storing tokens in pool.
func New(pool *pgxpool.Pool, cfg Config, d Deps) *Service {
	if d.CLIStarts == nil {
		d.CLIStarts = limit.NewRate(DefaultCLIStartsPerMinute, time.Minute, nil, "")
	}
	if d.CLIPolls == nil {
		d.CLIPolls = limit.NewRate(DefaultCLIPollsPerMinute, time.Minute, nil, "")
	}
	st := newStore(pool, d.Metrics)
	st.outbox = d.Outbox
	return &Service{
		cliStarts: d.CLIStarts,
		cliPolls:  d.CLIPolls,
		store:     st,
		writes:    newUserGate(),
		cfg:       cfg,
		quota:     d.Quota,
		members:   d.Memberships,
		validator: d.Validator,
		metrics:   d.Metrics,
		log:       d.Log,
	}
}

func toToken(r db.PersonalAccessToken) Token {
	return Token{
		ID:             r.ID,
		UserID:         r.UserID,
		OrganizationID: r.OrganizationID,
		Name:           r.Name,
		MaskedToken:    token.Mask(r.TokenStart),
		ExpiresAt:      utcPtr(r.ExpiresAt),
		LastUsedAt:     utcPtr(r.LastUsedAt),
		CreatedAt:      r.CreatedAt.UTC(),
		UpdatedAt:      r.UpdatedAt.UTC(),
	}
}

// optional is s as a nullable column: nil when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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

// List returns a page of the caller's tokens, newest first. first is 1 to
// MaxPageSize; after is the EndCursor of the previous page, or empty.
func (s *Service) List(ctx context.Context, p auth.Principal, first int, after string) (Page, error) {
	if err := requireUser(p); err != nil {
		return Page{}, err
	}
	if err := checkFirst(first); err != nil {
		return Page{}, err
	}
	arg := db.ListTokensParams{UserID: p.UserID, MaxRows: int32(first + 1)}
	if after != "" {
		t, id, err := decodeCursor(after)
		if err != nil {
			return Page{}, notOurCursor()
		}
		arg.AfterCreatedAt, arg.AfterID = &t, &id
	}
	rows, err := s.q.ListTokens(ctx, arg)
	if err != nil {
		return Page{}, fmt.Errorf("list tokens: %w", err)
	}
	rows, more, total, err := pageRows(rows, first, after,
		func() (int64, error) { return s.q.CountTokens(ctx, p.UserID) })
	if err != nil {
		return Page{}, fmt.Errorf("count tokens: %w", err)
	}
	page := Page{TotalCount: int(total), HasNextPage: more}
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
	return s.revokingTx(ctx, func(q txQueries) ([][]byte, error) {
		row, err := q.DeleteToken(ctx, db.DeleteTokenParams{ID: id, UserID: p.UserID})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		if err := audit(ctx, q, ActionDelete, p.UserID, p.UserID, &id, nil); err != nil {
			return nil, err
		}
		return [][]byte{row.TokenHash}, s.emit(ctx, q, revokedEvents([]db.PersonalAccessToken{row}, ReasonDeleted, time.Now(), nil)...)
	})
}

// RevokeAll deletes every token of userID, for when the account goes, or
// with orgID only those of that organization, for when the user leaves it.
// It is called by a backend, not by the user; it returns how many were deleted.
func (s *Service) RevokeAll(ctx context.Context, userID, orgID string) (int, error) {
	var n int
	err := s.revokingTx(ctx, func(q txQueries) ([][]byte, error) {
		rows, err := q.DeleteUserTokens(ctx, db.DeleteUserTokensParams{UserID: userID, OrganizationID: optional(orgID)})
		if err != nil || len(rows) == 0 {
			return nil, err
		}
		n = len(rows)
		ids, users, hashes := make([]string, n), make([]string, n), make([][]byte, n)
		for i, r := range rows {
			ids[i], users[i], hashes[i] = r.ID, userID, r.TokenHash
		}
		if err := auditMany(ctx, q, ActionRevokeAll, ActorService, users, ids, nil); err != nil {
			return nil, err
		}
		return hashes, s.emit(ctx, q, revokedEvents(rows, ReasonRevokedAll, time.Now(), nil)...)
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
func (s *Service) revokingTx(ctx context.Context, fn func(q txQueries) ([][]byte, error)) error {
	var hashes [][]byte
	err := s.inTx(ctx, func(q txQueries) error {
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
