package pat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/orgs"
	"github.com/alternatefutures/patd/internal/requestinfo"
	"github.com/alternatefutures/patd/internal/token"
)

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

// minting runs tx, the transaction of a write that mints a token for userID
// (a create or a rotation), which takes a creation slot into *res. A user over
// the quota, or a Redis that cannot be reached, is refused before the
// transaction holds a database connection; then the write waits its turn
// among the user's writes. A failure gives the slot back; a success reports
// the quota after it.
func (s *Service) minting(ctx context.Context, userID string, tx func(res **limit.Reservation) (Created, error)) (Created, error) {
	if err := s.checkQuota(ctx, userID); err != nil {
		return Created{}, err
	}
	leave, err := s.writes.enter(ctx, userID)
	if err != nil {
		return Created{}, err
	}
	defer leave()
	var res *limit.Reservation
	created, err := tx(&res)
	if err != nil {
		s.releaseQuota(ctx, res)
		return Created{}, err
	}
	created.Quota = res.After
	return created, nil
}

// mint takes a quota slot and creates the token in one transaction with its
// audit row, and with whatever more the caller's transaction step does
// (within may be nil); a failure gives the slot back.
func (s *Service) mint(ctx context.Context, actorID, userID string, nt NewToken, now time.Time, within func(q txQueries) error) (Created, error) {
	return s.minting(ctx, userID, func(res **limit.Reservation) (created Created, err error) {
		err = s.inTx(ctx, func(q txQueries) error {
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
			if err := s.takeQuotaOnce(ctx, userID, res); err != nil {
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
		return created, err
	})
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
		return s.quotaUnavailable(ctx, err)
	case u.Remaining <= 0:
		s.metrics.LimiterDecision("create", "deny")
		return &QuotaError{Limit: u.Limit, Window: u.Window, ResetAt: u.ResetAt}
	}
	return nil
}

// takeQuota takes a creation slot for userID, or fails with *QuotaError, or
// with quotaUnavailable's error.
func (s *Service) takeQuota(ctx context.Context, userID string) (limit.Reservation, error) {
	res, err := s.quota.Take(ctx, userID)
	var ex *limit.ExceededError
	switch {
	case errors.As(err, &ex):
		s.metrics.LimiterDecision("create", "deny")
		return res, &QuotaError{Limit: ex.Limit, Window: ex.Window, ResetAt: ex.ResetAt}
	case err != nil:
		return res, s.quotaUnavailable(ctx, err)
	}
	s.metrics.LimiterDecision("create", "allow")
	return res, nil
}

// quotaUnavailable is the answer when the shared count cannot be reached:
// nobody can tell then whether the user is over the quota, so creation fails
// closed, logged.
func (s *Service) quotaUnavailable(ctx context.Context, err error) error {
	s.metrics.LimiterDecision("create", "error")
	s.log.ErrorContext(ctx, "creation quota unavailable; refusing to create a token", "error", err,
		"request_id", requestinfo.FromContext(ctx).ID)
	return fmt.Errorf("creation quota: %w", err)
}

// checkActive fails with *MaxActiveError when adding more tokens would take
// the user above the cap. The caller holds the user's lock (lockUser),
// so no concurrent create can slip in between the count and the insert.
func (s *Service) checkActive(ctx context.Context, q txQueries, userID string, now time.Time, more int) error {
	n, err := q.CountActiveTokens(ctx, db.CountActiveTokensParams{UserID: userID, Now: now})
	if err != nil {
		return err
	}
	if int(n)+more > s.cfg.MaxActive {
		return &MaxActiveError{Max: s.cfg.MaxActive}
	}
	return nil
}

func (s *Service) insert(ctx context.Context, q txQueries, userID string, nt NewToken, now time.Time) (Created, error) {
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
