package pat_test

// The domain tests call the Service, the Validator and Maintenance of a real
// replica (pattest.Start: its own PostgreSQL database and Redis key prefix),
// with no HTTP in between. What the front doors make of the answers is
// tested in graph and internal/httpapi; what replicas see of each other in
// internal/replicas.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
)

// startReplica starts a replica after applying mods to its configuration.
func startReplica(t *testing.T, mods ...func(*config.Config)) *pattest.Replica {
	t.Helper()
	cfg := pattest.Config(t)
	for _, m := range mods {
		m(cfg)
	}
	return pattest.Start(t, cfg)
}

// session is userID signed in with a session JWT: allowed everything.
func session(userID string) auth.Principal {
	return auth.Principal{UserID: userID, Method: auth.Session}
}

// mustCreate creates a token for userID, failing the test on any error.
func mustCreate(t *testing.T, r *pattest.Replica, userID, name string, expiresAt *time.Time) pat.Created {
	t.Helper()
	c, err := r.Server.Tokens.Create(context.Background(), session(userID), pat.NewToken{Name: name, ExpiresAt: expiresAt})
	if err != nil {
		t.Fatalf("create %q for %s: %v", name, userID, err)
	}
	return c
}

// mustValidate validates tok, failing the test on an error (the store being
// unreachable); the outcome is the caller's to check.
func mustValidate(t *testing.T, r *pattest.Replica, tok string) pat.Validation {
	t.Helper()
	v, err := r.Server.Validator.Validate(context.Background(), tok)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	return v
}

// stored returns userID's tokens by id.
func stored(t *testing.T, r *pattest.Replica, userID string) map[string]pat.Token {
	t.Helper()
	page, err := r.Server.Tokens.List(context.Background(), session(userID), pat.MaxPageSize, "")
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalCount != len(page.Tokens) {
		t.Fatalf("totalCount %d but %d tokens listed", page.TotalCount, len(page.Tokens))
	}
	m := make(map[string]pat.Token, len(page.Tokens))
	for _, tok := range page.Tokens {
		m[tok.ID] = tok
	}
	return m
}

// sameToken reports whether a and b say the same of one token.
func sameToken(a, b pat.Token) bool {
	sameTime := func(x, y *time.Time) bool { return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) }
	return a.ID == b.ID && a.UserID == b.UserID && a.Name == b.Name && a.MaskedToken == b.MaskedToken &&
		sameTime(a.ExpiresAt, b.ExpiresAt) && sameTime(a.LastUsedAt, b.LastUsedAt) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// remaining is how many creations userID has left in the quota window.
func remaining(t *testing.T, r *pattest.Replica, userID string) int {
	t.Helper()
	l, err := r.Server.Tokens.Limits(context.Background(), session(userID))
	if err != nil {
		t.Fatal(err)
	}
	return l.Quota.Remaining
}

// wantInputError fails unless err is a *pat.InputError with reason.
func wantInputError(t *testing.T, what string, err error, reason pat.Reason) {
	t.Helper()
	var in *pat.InputError
	if !errors.As(err, &in) {
		t.Errorf("%s: got %v, want *pat.InputError %s", what, err, reason)
		return
	}
	if in.Reason != reason || in.Message == "" {
		t.Errorf("%s: got %s %q, want reason %s with a message", what, in.Reason, in.Message, reason)
	}
}

// auditCount counts userID's audit events of action, read from the database.
func auditCount(t *testing.T, r *pattest.Replica, action pat.Action, userID string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(),
		`SELECT count(*) FROM pat_audit_events WHERE action = $1 AND user_id = $2`, string(action), userID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
