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
	"github.com/alternatefutures/patd/internal/orgs"
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

// Create mints a token for the caller, who must have signed in (a PAT or an
// sdk-access JWT cannot mint more). For an organization token the caller's
// membership is checked first, before any quota is spent.
func (s *Service) Create(ctx context.Context, p auth.Principal, nt NewToken) (Created, error) {
	if err := requireSession(p); err != nil {
		return Created{}, err
	}
	now := time.Now()
	nt, err := checkNewToken(nt, now)
	if err != nil {
		return Created{}, err
	}
	if err := s.checkMember(ctx, p, nt.OrganizationID); err != nil {
		return Created{}, err
	}
	return s.mint(ctx, p.UserID, p.UserID, nt, now, nil)
}

// CreateFor mints a token for userID on behalf of a backend holding the
// service secret (the deploy pipeline), which vouches for the membership.
// Quota and max active count as for any create.
func (s *Service) CreateFor(ctx context.Context, userID string, nt NewToken) (Created, error) {
	if userID == "" {
		return Created{}, inputError(ReasonInvalidUser, "userId is required")
	}
	now := time.Now()
	nt, err := checkNewToken(nt, now)
	if err != nil {
		return Created{}, err
	}
	return s.mint(ctx, ActorService, userID, nt, now, nil)
}

// checkNewToken applies the name and expiry rules, returning nt with its
// name normalised.
func checkNewToken(nt NewToken, now time.Time) (NewToken, error) {
	name, err := checkName(nt.Name)
	if err != nil {
		return nt, err
	}
	nt.Name = name
	if !validID(nt.OrganizationID) {
		return nt, inputError(ReasonInvalidOrganization, "organizationId must be at most %d letters, digits, '-' or '_'", maxIDLength)
	}
	return nt, checkExpiry(nt.ExpiresAt, now)
}

// maxIDLength bounds the ids of other services that patd stores.
const maxIDLength = 128

// validID accepts the ids the platform's services mint (UUIDs, nanoids,
// cuids) and the empty string: nothing that could change the meaning of a
// URL path it is put in.
func validID(id string) bool {
	if len(id) > maxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkMember checks that the caller belongs to orgID (none: a personal token).
func (s *Service) checkMember(ctx context.Context, p auth.Principal, orgID string) error {
	if orgID == "" {
		return nil
	}
	err := s.members.Check(ctx, p.Authorization, p.UserID, orgID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, orgs.ErrNotMember):
		return ErrNotOrgMember
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// mint takes a quota slot and creates the token in one transaction with its
// audit row, and with whatever more the caller's transaction step does
// (within may be nil); a failure gives the slot back.
func (s *Service) mint(ctx context.Context, actorID, userID string, nt NewToken, now time.Time, within func(q *db.Queries) error) (Created, error) {
	// A user over the quota, or a Redis that cannot be reached, is refused
	// before the transaction holds a database connection.
	if err := s.checkQuota(ctx, userID); err != nil {
		return Created{}, err
	}
	leave, err := s.writes.enter(ctx, userID)
	if err != nil {
		return Created{}, err
	}
	defer leave()
	var (
		created Created
		res     *limit.Reservation
	)
	err = s.inTx(ctx, func(q *db.Queries) error {
		if err := lockUser(ctx, q, userID); err != nil {
			return err
		}
		if err := s.checkActive(ctx, q, userID, now, 1); err != nil {
			return err
		}
		if within != nil {
			if err := within(q); err != nil {
				return err
			}
		}
		if err := s.takeQuotaOnce(ctx, userID, &res); err != nil {
			return err
		}
		var err error
		created, err = s.insert(ctx, q, userID, nt, now)
		if err != nil {
			return err
		}
		detail := map[string]any{"name": nt.Name}
		if nt.OrganizationID != "" {
			detail["organizationId"] = nt.OrganizationID
		}
		if err := audit(ctx, q, ActionCreate, actorID, userID, &created.ID, detail); err != nil {
			return err
		}
		return s.emit(ctx, q, tokenEvent(EventCreated, created.Token, now, nil))
	})
	if err != nil {
		s.releaseQuota(ctx, res)
		return Created{}, err
	}
	created.Quota = res.After
	return created, nil
}

// takeQuotaOnce takes a creation slot into *res unless it holds one. Called
// under the user's lock once the cap allows the token: a create refused for
// the cap never holds a slot that a concurrent create would find spent, and
// a retried transaction keeps the slot its first run took.
func (s *Service) takeQuotaOnce(ctx context.Context, userID string, res **limit.Reservation) error {
	if *res != nil {
		return nil
	}
	r, err := s.takeQuota(ctx, userID)
	if err != nil {
		return err
	}
	*res = &r
	return nil
}

// releaseQuota gives back a slot taken for a token that does not exist.
func (s *Service) releaseQuota(ctx context.Context, res *limit.Reservation) {
	if res == nil {
		return
	}
	if err := s.quota.Release(context.WithoutCancel(ctx), *res); err != nil {
		s.log.ErrorContext(ctx, "release creation quota slot", "error", err)
	}
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
// the user above the cap. The caller holds the user's lock (lockUser),
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

func (s *Service) insert(ctx context.Context, q *db.Queries, userID string, nt NewToken, now time.Time) (Created, error) {
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
		ID:             id.String(),
		UserID:         userID,
		OrganizationID: optional(nt.OrganizationID),
		Name:           nt.Name,
		TokenHash:      h[:],
		TokenStart:     token.Start(secret),
		ExpiresAt:      utcPtr(nt.ExpiresAt),
		CreatedAt:      now,
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
	// Every row carries the total. Only an empty page after a cursor needs
	// asking for it; an empty first page means there are none.
	var total int64
	switch {
	case len(rows) > 0:
		total = rows[0].TotalCount
	case after != "":
		if total, err = s.q.CountTokens(ctx, p.UserID); err != nil {
			return Page{}, fmt.Errorf("count tokens: %w", err)
		}
	}
	page := Page{TotalCount: int(total), HasNextPage: len(rows) > first}
	rows = rows[:min(len(rows), first)]
	page.Tokens = make([]Token, len(rows))
	for i, r := range rows {
		page.Tokens[i] = toToken(r.PersonalAccessToken)
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1].PersonalAccessToken
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
	// A rotation mints a token: it takes a creation slot like a create, so
	// that rotating in a loop cannot get around the daily quota.
	if err := s.checkQuota(ctx, p.UserID); err != nil {
		return Created{}, err
	}
	leave, err := s.writes.enter(ctx, p.UserID)
	if err != nil {
		return Created{}, err
	}
	defer leave()
	var (
		created Created
		res     *limit.Reservation
	)
	err = s.revokingTx(ctx, func(q *db.Queries) ([][]byte, error) {
		var hashes [][]byte
		created, hashes, err = s.rotateIn(ctx, q, p.UserID, id, expiresAt, graceSeconds, now, &res)
		return hashes, err
	})
	if err != nil {
		s.releaseQuota(ctx, res)
		return Created{}, err
	}
	created.Quota = res.After
	return created, nil
}

// rotateIn is Rotate's transaction, in q: it retires token id of userID and
// mints its successor, taking a quota slot into *res; it returns the new
// token and the hash of the old one, whose cached answers are now stale.
func (s *Service) rotateIn(ctx context.Context, q *db.Queries, userID, id string, expiresAt *time.Time, graceSeconds int, now time.Time, res **limit.Reservation) (Created, [][]byte, error) {
	if err := lockUser(ctx, q, userID); err != nil {
		return Created{}, nil, err
	}
	old, err := q.GetToken(ctx, db.GetTokenParams{ID: id, UserID: userID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Created{}, nil, ErrNotFound
	}
	if err != nil {
		return Created{}, nil, err
	}
	exp := expiresAt
	if exp == nil && old.ExpiresAt != nil {
		exp = old.ExpiresAt
		if err := checkExpiry(exp, now); err != nil {
			return Created{}, nil, inputError(ReasonInvalidExpiration, "the token has expired; give the new one an expiresAt")
		}
	}
	if err := retire(ctx, q, old, time.Duration(graceSeconds)*time.Second, now); err != nil {
		return Created{}, nil, err
	}
	if err := s.checkActive(ctx, q, userID, now, 1); err != nil {
		return Created{}, nil, err
	}
	if err := s.takeQuotaOnce(ctx, userID, res); err != nil {
		return Created{}, nil, err
	}
	created, err := s.insert(ctx, q, userID, NewToken{Name: old.Name, ExpiresAt: exp, OrganizationID: deref(old.OrganizationID)}, now)
	if err != nil {
		return Created{}, nil, err
	}
	// The name too, so that the security log can name a token minted by a
	// rotation after it is gone.
	if err := audit(ctx, q, ActionRotate, userID, userID, &id,
		map[string]any{"newTokenId": created.ID, "gracePeriodSeconds": graceSeconds, "name": old.Name}); err != nil {
		return Created{}, nil, err
	}
	// Cached answers for the old token are stale either way: it is gone
	// or expires sooner.
	return created, [][]byte{old.TokenHash}, s.emit(ctx, q, rotationEvents(old, created.Token, graceSeconds, now)...)
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

// RevokeAll deletes every token of userID, for when the account goes, or
// with orgID only those of that organization, for when the user leaves it.
// It is called by a backend, not by the user; it returns how many were deleted.
func (s *Service) RevokeAll(ctx context.Context, userID, orgID string) (int, error) {
	var n int
	err := s.revokingTx(ctx, func(q *db.Queries) ([][]byte, error) {
		rows, err := q.DeleteUserTokens(ctx, db.DeleteUserTokensParams{UserID: userID, OrganizationID: optional(orgID)})
		if err != nil || len(rows) == 0 {
			return nil, err
		}
		n = len(rows)
		ids, users, hashes := make([]string, n), make([]string, n), make([][]byte, n)
		for i, r := range rows {
			ids[i], users[i], hashes[i] = r.ID, userID, r.TokenHash
		}
		if err := auditMany(ctx, q, ActionRevokeAll, ActorService, users, ids); err != nil {
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
