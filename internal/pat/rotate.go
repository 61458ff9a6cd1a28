package pat

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/limit"
)

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
	return s.minting(ctx, p.UserID, func(res **limit.Reservation) (created Created, err error) {
		err = s.revokingTx(ctx, func(q txQueries) ([][]byte, error) {
			var hashes [][]byte
			created, hashes, err = s.rotateIn(ctx, q, p.UserID, id, expiresAt, graceSeconds, now, res)
			return hashes, err
		})
		return created, err
	})
}

// rotateIn is Rotate's transaction, in q: it retires token id of userID and
// mints its successor, taking a quota slot into *res; it returns the new
// token and the hash of the old one, whose cached answers are now stale.
func (s *Service) rotateIn(ctx context.Context, q txQueries, userID, id string, expiresAt *time.Time, graceSeconds int, now time.Time, res **limit.Reservation) (Created, [][]byte, error) {
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
func retire(ctx context.Context, q txQueries, old db.PersonalAccessToken, grace time.Duration, now time.Time) error {
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
