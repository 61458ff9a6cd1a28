package pat

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/requestinfo"
	"github.com/alternatefutures/patd/internal/token"
)

// CLI login pairs a CLI with a signed-in user without the CLI ever seeing a
// password: the CLI starts a session and gets its id and a poll secret; the
// user approves the session in the web app; the CLI's next poll mints the
// token, for the approving user. Nothing secret is stored: the poll secret
// only as its SHA-256, and no token at all.
const (
	// CLISessionTTL is how long a pairing session may wait for approval.
	CLISessionTTL = 10 * time.Minute
	// DefaultCLITokenName names tokens that /auth/pat/create mints unnamed.
	DefaultCLITokenName = "CLI Token"
	// DefaultCLISessionName names pairing sessions started unnamed.
	DefaultCLISessionName = "CLI Login"
	// DefaultCLITokenLifetime is the expiry of CLI tokens given none.
	DefaultCLITokenLifetime = 30 * 24 * time.Hour

	cliSecretLength = 32
)

// Errors of the pairing flow.
var (
	// ErrSessionNotFound: no such session, or it was used already.
	ErrSessionNotFound = errors.New("invalid or expired session")
	// ErrSessionExpired: the session waited longer than CLISessionTTL.
	ErrSessionExpired = errors.New("session expired; start the login again")
	// ErrWrongPollSecret: the poll secret does not match the session's.
	ErrWrongPollSecret = errors.New("invalid session secret")
	// ErrPending: nobody has approved the session yet; poll again.
	ErrPending = errors.New("not approved yet")
)

// CLISession is a pairing session just started: the CLI keeps the poll secret.
type CLISession struct {
	ID         string
	PollSecret string
	ExpiresIn  time.Duration
}

// CreateCLIToken is Create for a CLI that has just signed in: the name
// defaults to DefaultCLITokenName and the expiry to DefaultCLITokenLifetime.
func (s *Service) CreateCLIToken(ctx context.Context, p auth.Principal, nt NewToken) (Created, error) {
	return s.Create(ctx, p, cliDefaults(nt, DefaultCLITokenName, time.Now()))
}

func cliDefaults(nt NewToken, name string, now time.Time) NewToken {
	if strings.TrimSpace(nt.Name) == "" {
		nt.Name = name
	}
	if nt.ExpiresAt == nil {
		exp := now.Add(DefaultCLITokenLifetime)
		nt.ExpiresAt = &exp
	}
	return nt
}

// StartCLILogin starts a pairing session, named name (DefaultCLISessionName
// when blank). Anyone may start one; starts are limited per client address.
func (s *Service) StartCLILogin(ctx context.Context, name string) (CLISession, error) {
	now := time.Now()
	if wait, ok := s.cliStarts.Allow(requestinfo.FromContext(ctx).ClientIP, now); !ok {
		return CLISession{}, &RateError{ResetAt: now.Add(wait), Message: "too many CLI logins started from this address"}
	}
	if strings.TrimSpace(name) == "" {
		name = DefaultCLISessionName
	}
	name, err := checkName(name)
	if err != nil {
		return CLISession{}, err
	}
	id, err := token.Random(cliSecretLength)
	if err != nil {
		return CLISession{}, err
	}
	secret, err := token.Random(cliSecretLength)
	if err != nil {
		return CLISession{}, err
	}
	h := token.Hash(secret)
	err = s.q.InsertCLISession(ctx, db.InsertCLISessionParams{
		ID: id, PollSecretHash: h[:], Name: name, CreatedAt: now, ExpiresAt: now.Add(CLISessionTTL),
	})
	if err != nil {
		return CLISession{}, fmt.Errorf("start CLI login: %w", err)
	}
	return CLISession{ID: id, PollSecret: secret, ExpiresIn: CLISessionTTL}, nil
}

// ApproveCLILogin approves session id for the caller, who must have signed in:
// the CLI's next poll mints a token named nt.Name (the session's name when
// blank), expiring at nt.ExpiresAt (DefaultCLITokenLifetime when nil), for
// nt.OrganizationID if set (membership is checked now). Approving a session
// twice is not an error.
func (s *Service) ApproveCLILogin(ctx context.Context, p auth.Principal, id string, nt NewToken) error {
	if err := requireSession(p); err != nil {
		return err
	}
	now := time.Now()
	sess, err := s.cliSession(ctx, s.q.GetCLISession, id, now)
	if err != nil {
		return err
	}
	if sess.ApprovedBy != nil {
		if *sess.ApprovedBy == p.UserID {
			return nil
		}
		return ErrSessionNotFound
	}
	nt, err = checkNewToken(cliDefaults(nt, sess.Name, now), now)
	if err != nil {
		return err
	}
	if err := s.checkMember(ctx, p, nt.OrganizationID); err != nil {
		return err
	}
	n, err := s.q.ApproveCLISession(ctx, db.ApproveCLISessionParams{
		ID: id, ApprovedBy: &p.UserID, ApprovedAt: &now, TokenName: &nt.Name,
		TokenExpiresAt: nt.ExpiresAt, OrganizationID: optional(nt.OrganizationID),
	})
	if err != nil {
		return fmt.Errorf("approve CLI login: %w", err)
	}
	if n == 0 { // approved meanwhile, by this user or another
		return s.ApproveCLILogin(ctx, p, id, nt)
	}
	return nil
}

// PollCLILogin answers a CLI's poll: ErrPending until the session is
// approved, then the token, minted now, exactly once; ErrSessionNotFound
// after that. Polls are limited per session.
func (s *Service) PollCLILogin(ctx context.Context, id, pollSecret string) (Created, error) {
	now := time.Now()
	if wait, ok := s.cliPolls.Allow(id, now); !ok {
		return Created{}, &RateError{ResetAt: now.Add(wait), Message: "polling too often; poll every few seconds"}
	}
	sess, err := s.checkPoll(ctx, s.q.GetCLISession, id, pollSecret, now)
	if err != nil {
		return Created{}, err
	}
	nt := NewToken{Name: deref(sess.TokenName), ExpiresAt: utcPtr(sess.TokenExpiresAt), OrganizationID: deref(sess.OrganizationID)}
	userID := *sess.ApprovedBy
	// The session is taken under its row lock in the minting transaction:
	// of two polls racing, one mints and the other finds no session.
	return s.mint(ctx, userID, userID, nt, now, func(q txQueries) error {
		if _, err := s.checkPoll(ctx, q.LockCLISession, id, pollSecret, now); err != nil {
			return err
		}
		return q.DeleteCLISession(ctx, id)
	})
}

// checkPoll returns the approved session id if pollSecret is its secret.
func (s *Service) checkPoll(ctx context.Context, get sessionGetter, id, pollSecret string, now time.Time) (db.CliLoginSession, error) {
	sess, err := s.cliSession(ctx, get, id, now)
	if err != nil {
		return sess, err
	}
	h := token.Hash(pollSecret)
	if subtle.ConstantTimeCompare(h[:], sess.PollSecretHash) != 1 {
		return sess, ErrWrongPollSecret
	}
	if sess.ApprovedBy == nil {
		return sess, ErrPending
	}
	return sess, nil
}

// sessionGetter reads a session: a plain read, or one under a row lock.
type sessionGetter func(ctx context.Context, id string) (db.CliLoginSession, error)

// cliSession reads session id, failing for one that is gone or expired.
func (s *Service) cliSession(ctx context.Context, get sessionGetter, id string, now time.Time) (db.CliLoginSession, error) {
	sess, err := get(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return sess, ErrSessionNotFound
	}
	if err != nil {
		return sess, fmt.Errorf("CLI login session: %w", err)
	}
	if !now.Before(sess.ExpiresAt) {
		return sess, ErrSessionExpired
	}
	return sess, nil
}
