package pat_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/pat"
)

var secretRE = regexp.MustCompile(`^af_live_[0-9A-Za-z]{36}$`)

func TestCreate(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	ctx := context.Background()
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Millisecond)

	before := time.Now().Truncate(time.Microsecond)
	c, err := r.Server.Tokens.Create(ctx, session("user-1"), pat.NewToken{Name: "  my laptop  ", ExpiresAt: &exp})
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "my laptop" || c.UserID != "user-1" || !secretRE.MatchString(c.Secret) ||
		c.MaskedToken != c.Secret[:12]+"…" || c.ExpiresAt == nil || !c.ExpiresAt.Equal(exp) || c.LastUsedAt != nil {
		t.Errorf("created %+v", c)
	}
	if c.CreatedAt.Before(before) || c.CreatedAt.After(after) || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Errorf("createdAt %s / updatedAt %s, want between %s and %s", c.CreatedAt, c.UpdatedAt, before, after)
	}
	if q := c.Quota; q.Limit != r.Config.CreateLimit || q.Remaining != r.Config.CreateLimit-1 {
		t.Errorf("quota after the first create: %+v", q)
	}

	got, err := r.Server.Tokens.Get(ctx, session("user-1"), c.ID)
	if err != nil || !sameToken(got, c.Token) {
		t.Errorf("Get = %+v, %v; want %+v", got, err, c.Token)
	}
	if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeValid || v.UserID != "user-1" || v.TokenID != c.ID {
		t.Errorf("the new token validates as %+v", v)
	}
	forever := mustCreate(t, r, "user-1", "forever", nil)
	if forever.ExpiresAt != nil {
		t.Errorf("a token created without expiry expires at %s", forever.ExpiresAt)
	}
}

// Bad input is refused before anything is stored or a creation slot taken.
func TestCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	existing := mustCreate(t, r, "user-1", "existing", nil)
	slots := remaining(t, r, "user-1")
	past, far := time.Now().Add(-time.Minute), time.Now().AddDate(11, 0, 0)
	for _, tc := range []struct {
		what   string
		name   string
		exp    *time.Time
		reason pat.Reason
	}{
		{"empty name", "", nil, pat.ReasonInvalidName},
		{"blank name", "  \t ", nil, pat.ReasonInvalidName},
		{"101 characters", strings.Repeat("a", 101), nil, pat.ReasonInvalidName},
		{"markup", "a<b", nil, pat.ReasonInvalidName},
		{"markup", "<script>", nil, pat.ReasonInvalidName},
		{"newline", "a\nb", nil, pat.ReasonInvalidName},
		{"past expiry", "ok", &past, pat.ReasonInvalidExpiration},
		{"expiry over 10 years ahead", "ok", &far, pat.ReasonInvalidExpiration},
	} {
		c, err := r.Server.Tokens.Create(context.Background(), session("user-1"), pat.NewToken{Name: tc.name, ExpiresAt: tc.exp})
		wantInputError(t, tc.what, err, tc.reason)
		if c.ID != "" || c.Secret != "" {
			t.Errorf("%s: a refused create returned a token: %+v", tc.what, c)
		}
	}
	if s := stored(t, r, "user-1"); len(s) != 1 || s[existing.ID].ID == "" {
		t.Errorf("refused creates changed the stored tokens: %v", s)
	}
	if n := remaining(t, r, "user-1"); n != slots {
		t.Errorf("refused creates used creation slots: %d remaining, want %d", n, slots)
	}
}

// A leaked PAT must not mint more: create and rotate need a session.
func TestCreateAndRotateNeedASession(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	ctx := context.Background()
	own := mustCreate(t, r, "user-1", "own", nil)
	slots := remaining(t, r, "user-1")
	viaPAT := auth.Principal{UserID: "user-1", Method: auth.PersonalAccessToken, TokenID: own.ID}

	if c, err := r.Server.Tokens.Create(ctx, viaPAT, pat.NewToken{Name: "minted"}); !errors.Is(err, pat.ErrForbidden) || c.ID != "" {
		t.Errorf("create with a PAT: %+v, %v; want ErrForbidden", c, err)
	}
	for _, grace := range []int{0, 3600} {
		if c, err := r.Server.Tokens.Rotate(ctx, viaPAT, own.ID, nil, grace); !errors.Is(err, pat.ErrForbidden) || c.ID != "" {
			t.Errorf("rotate with a PAT, grace %d: %+v, %v; want ErrForbidden", grace, c, err)
		}
	}
	// Without any principal every operation is refused as unauthenticated.
	var nobody auth.Principal
	if _, err := r.Server.Tokens.Create(ctx, nobody, pat.NewToken{Name: "minted"}); !errors.Is(err, pat.ErrUnauthenticated) {
		t.Errorf("create without a principal: %v", err)
	}
	if _, err := r.Server.Tokens.Rotate(ctx, nobody, own.ID, nil, 0); !errors.Is(err, pat.ErrUnauthenticated) {
		t.Errorf("rotate without a principal: %v", err)
	}
	if err := r.Server.Tokens.Delete(ctx, nobody, own.ID); !errors.Is(err, pat.ErrUnauthenticated) {
		t.Errorf("delete without a principal: %v", err)
	}
	if _, err := r.Server.Tokens.List(ctx, nobody, 10, ""); !errors.Is(err, pat.ErrUnauthenticated) {
		t.Errorf("list without a principal: %v", err)
	}

	if s := stored(t, r, "user-1"); len(s) != 1 || s[own.ID].ExpiresAt != nil {
		t.Errorf("refused calls changed the stored tokens: %v", s)
	}
	if n := remaining(t, r, "user-1"); n != slots {
		t.Errorf("refused calls used creation slots: %d remaining, want %d", n, slots)
	}
	if v := mustValidate(t, r, own.Secret); v.Outcome != pat.OutcomeValid {
		t.Errorf("the PAT itself after the refused calls: %s", v.Outcome)
	}
}

func TestCreateQuota(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CreateLimit = 2 })
	before := time.Now()
	mustCreate(t, r, "user-1", "one", nil)
	after := time.Now()
	mustCreate(t, r, "user-1", "two", nil)

	c, err := r.Server.Tokens.Create(context.Background(), session("user-1"), pat.NewToken{Name: "three"})
	var q *pat.QuotaError
	if !errors.As(err, &q) || c.ID != "" {
		t.Fatalf("third create with a quota of 2: %+v, %v; want *pat.QuotaError", c, err)
	}
	// The slot frees when the first creation leaves the window; Redis's clock
	// reads the same system time as ours, to within its millisecond scores.
	window := r.Config.CreateWindow
	if q.Limit != 2 || q.Window != window ||
		q.ResetAt.Before(before.Add(window-time.Millisecond)) || q.ResetAt.After(after.Add(window+time.Millisecond)) {
		t.Errorf("quota error %+v, want limit 2, window %s, resetAt between %s and %s",
			q, window, before.Add(window), after.Add(window))
	}
	if u := q.Usage(); u.Remaining != 0 || u.Limit != 2 {
		t.Errorf("usage of the quota error: %+v", u)
	}
	if n := len(stored(t, r, "user-1")); n != 2 {
		t.Errorf("%d tokens stored, want 2", n)
	}
	// Other users have quotas of their own.
	mustCreate(t, r, "user-2", "one", nil)
}

// Moved from internal/httpapi: refused creates do not use up the quota.
func TestFailedCreatesKeepTheirSlots(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CreateLimit, c.MaxActive = 2, 1 })
	ctx := context.Background()
	past := time.Now().Add(-24 * time.Hour)
	if _, err := r.Server.Tokens.Create(ctx, session("user-1"), pat.NewToken{Name: "bad<name"}); err == nil {
		t.Fatal("a bad name was accepted")
	}
	if _, err := r.Server.Tokens.Create(ctx, session("user-1"), pat.NewToken{Name: "x", ExpiresAt: &past}); err == nil {
		t.Fatal("an expiry in the past was accepted")
	}
	if n := remaining(t, r, "user-1"); n != 2 {
		t.Fatalf("bad input used slots: %d remaining", n)
	}
	mustCreate(t, r, "user-1", "one", nil)
	c, err := r.Server.Tokens.Create(ctx, session("user-1"), pat.NewToken{Name: "two"})
	var maxErr *pat.MaxActiveError
	if !errors.As(err, &maxErr) || maxErr.Max != 1 || c.ID != "" {
		t.Fatalf("second create with a cap of 1: %+v, %v; want *pat.MaxActiveError{Max: 1}", c, err)
	}
	if n := remaining(t, r, "user-1"); n != 1 {
		t.Fatalf("a create refused for max active used its slot: %d remaining", n)
	}
	if n := len(stored(t, r, "user-1")); n != 1 {
		t.Errorf("%d tokens stored, want 1", n)
	}
	l, err := r.Server.Tokens.Limits(ctx, session("user-1"))
	if err != nil || l.ActiveTokens != 1 || l.MaxActiveTokens != 1 {
		t.Errorf("limits %+v, %v; want 1 active of 1", l, err)
	}
}

// Moved from internal/httpapi: the quota is a rolling window.
func TestCreateWindowRolls(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CreateLimit, c.CreateWindow = 2, time.Second })
	for range 2 {
		mustCreate(t, r, "user-1", "t", nil)
	}
	var q *pat.QuotaError
	if _, err := r.Server.Tokens.Create(context.Background(), session("user-1"), pat.NewToken{Name: "t"}); !errors.As(err, &q) {
		t.Fatalf("third create in the window: %v, want *pat.QuotaError", err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := r.Server.Tokens.Create(context.Background(), session("user-1"), pat.NewToken{Name: "t"}); err != nil {
		t.Fatalf("create after the window rolled: %v", err)
	}
}

func TestRotateWithoutGrace(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	ctx := context.Background()
	exp := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Millisecond)
	old := mustCreate(t, r, "user-1", "ci key", &exp)
	keep := mustCreate(t, r, "user-1", "other", nil)
	slots := remaining(t, r, "user-1")
	mustValidate(t, r, old.Secret) // cached now

	n, err := r.Server.Tokens.Rotate(ctx, session("user-1"), old.ID, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n.ID == old.ID || n.Name != "ci key" || n.Secret == old.Secret || !secretRE.MatchString(n.Secret) ||
		n.ExpiresAt == nil || !n.ExpiresAt.Equal(exp) {
		t.Errorf("rotated %+v from %+v: want a new id and secret, the same name and expiry", n, old)
	}
	if _, err := r.Server.Tokens.Get(ctx, session("user-1"), old.ID); !errors.Is(err, pat.ErrNotFound) {
		t.Errorf("the rotated-out token without grace: Get = %v, want ErrNotFound", err)
	}
	if v := mustValidate(t, r, old.Secret); v.Outcome != pat.OutcomeNotFound {
		t.Errorf("the rotated-out token validates as %s, want NOT_FOUND at once", v.Outcome)
	}
	if v := mustValidate(t, r, n.Secret); v.Outcome != pat.OutcomeValid || v.TokenID != n.ID {
		t.Errorf("the new token validates as %+v", v)
	}
	if s := stored(t, r, "user-1"); len(s) != 2 || s[n.ID].ID == "" || s[keep.ID].ID == "" {
		t.Errorf("stored after rotation: %v, want %s and %s", s, n.ID, keep.ID)
	}
	// A rotation mints a token: it takes a creation slot (contract decision).
	if got := remaining(t, r, "user-1"); got != slots-1 || n.Quota.Remaining != slots-1 {
		t.Errorf("after a rotation: %d remaining (answer says %d), want %d", got, n.Quota.Remaining, slots-1)
	}
	if _, err := r.Server.Tokens.Rotate(ctx, session("user-1"), old.ID, nil, 0); !errors.Is(err, pat.ErrNotFound) {
		t.Errorf("rotating the old id again: %v, want ErrNotFound", err)
	}
	if n := auditCount(t, r, pat.ActionRotate, "user-1"); n != 1 {
		t.Errorf("%d rotate audit events, want 1", n)
	}
}

func TestRotateWithGrace(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	ctx := context.Background()
	old := mustCreate(t, r, "user-1", "deploy", nil)

	before := time.Now().Truncate(time.Microsecond)
	n, err := r.Server.Tokens.Rotate(ctx, session("user-1"), old.ID, nil, 3600)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if n.ID == old.ID || n.Name != "deploy" || n.ExpiresAt != nil {
		t.Errorf("rotated %+v", n)
	}
	s := stored(t, r, "user-1")
	o := s[old.ID]
	if len(s) != 2 || o.ExpiresAt == nil ||
		o.ExpiresAt.Before(before.Add(time.Hour)) || o.ExpiresAt.After(after.Add(time.Hour)) {
		t.Fatalf("the old token during its grace period: %+v (of %d stored), want it to expire an hour after the rotation", o, len(s))
	}
	for what, tok := range map[string]string{"old": old.Secret, "new": n.Secret} {
		if v := mustValidate(t, r, tok); v.Outcome != pat.OutcomeValid {
			t.Errorf("the %s token during the grace period: %s", what, v.Outcome)
		}
	}
	if l, err := r.Server.Tokens.Limits(ctx, session("user-1")); err != nil || l.ActiveTokens != 2 {
		t.Errorf("limits during the grace period: %+v, %v; want 2 active", l, err)
	}

	// A grace period never makes a token live longer than it would have.
	soon := time.Now().Add(10 * time.Minute).Truncate(time.Millisecond)
	short := mustCreate(t, r, "user-1", "short", &soon)
	if _, err := r.Server.Tokens.Rotate(ctx, session("user-1"), short.ID, nil, 3600); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, r, "user-1")[short.ID].ExpiresAt; got == nil || !got.Equal(soon) {
		t.Errorf("old token after a grace longer than its life expires at %v, want %s", got, soon)
	}
}

func TestRotateRefusesBadGrace(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	tok := mustCreate(t, r, "user-1", "k", nil)
	longest := int(pat.MaxGracePeriod / time.Second)
	for _, grace := range []int{-1, longest + 1, 1 << 40} {
		c, err := r.Server.Tokens.Rotate(context.Background(), session("user-1"), tok.ID, nil, grace)
		wantInputError(t, fmt.Sprintf("grace %d", grace), err, pat.ReasonInvalidGrace)
		if c.ID != "" {
			t.Errorf("grace %d: a refused rotation returned %+v", grace, c)
		}
	}
	if s := stored(t, r, "user-1"); len(s) != 1 || s[tok.ID].ExpiresAt != nil {
		t.Errorf("refused rotations changed the stored tokens: %v", s)
	}
	if v := mustValidate(t, r, tok.Secret); v.Outcome != pat.OutcomeValid {
		t.Errorf("the token after refused rotations: %s", v.Outcome)
	}
}

// Someone else's token answers exactly as a missing one: NOT_FOUND, and
// nothing changes.
func TestOtherUsersTokensAreNotFound(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	ctx := context.Background()
	theirs := mustCreate(t, r, "owner", "owned", nil)
	const missing = "01936c5e-0000-7000-8000-000000000000"
	other := session("someone-else")
	for _, id := range []string{theirs.ID, missing} {
		for _, grace := range []int{0, 3600} {
			if c, err := r.Server.Tokens.Rotate(ctx, other, id, nil, grace); !errors.Is(err, pat.ErrNotFound) || c.ID != "" {
				t.Errorf("rotate %s with grace %d: %+v, %v; want ErrNotFound", id, grace, c, err)
			}
		}
		if err := r.Server.Tokens.Delete(ctx, other, id); !errors.Is(err, pat.ErrNotFound) {
			t.Errorf("delete %s: %v, want ErrNotFound", id, err)
		}
		if _, err := r.Server.Tokens.Get(ctx, other, id); !errors.Is(err, pat.ErrNotFound) {
			t.Errorf("get %s: %v, want ErrNotFound", id, err)
		}
	}
	if s := stored(t, r, "owner"); len(s) != 1 || s[theirs.ID].ExpiresAt != nil {
		t.Errorf("the owner's tokens after someone else's attempts: %v", s)
	}
	if v := mustValidate(t, r, theirs.Secret); v.Outcome != pat.OutcomeValid {
		t.Errorf("the owner's token after someone else's attempts: %s", v.Outcome)
	}
	if n := len(stored(t, r, "someone-else")); n != 0 {
		t.Errorf("someone else now holds %d tokens", n)
	}
}

func TestRevokeAll(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	var leaving []pat.Created
	for _, name := range []string{"a", "b", "c"} {
		c := mustCreate(t, r, "leaving", name, nil)
		mustValidate(t, r, c.Secret) // cached
		leaving = append(leaving, c)
	}
	staying := mustCreate(t, r, "staying", "a", nil)

	n, err := r.Server.Tokens.RevokeAll(context.Background(), "leaving", "")
	if err != nil || n != 3 {
		t.Fatalf("RevokeAll = %d, %v; want 3", n, err)
	}
	for _, c := range leaving {
		if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeNotFound {
			t.Errorf("revoked token %s validates as %s, want NOT_FOUND at once", c.Name, v.Outcome)
		}
	}
	if v := mustValidate(t, r, staying.Secret); v.Outcome != pat.OutcomeValid {
		t.Errorf("another user's token: %s", v.Outcome)
	}
	if got := auditCount(t, r, pat.ActionRevokeAll, "leaving"); got != 3 {
		t.Errorf("%d revoke-all audit events, want 3", got)
	}
	if n, err := r.Server.Tokens.RevokeAll(context.Background(), "leaving", ""); err != nil || n != 0 {
		t.Errorf("a second RevokeAll = %d, %v; want 0", n, err)
	}
}

// Rotating in a loop cannot get around the daily quota: each rotation takes
// a slot, and once they are spent a rotation is refused and changes nothing.
func TestRotationTakesAQuotaSlot(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CreateLimit = 3 })
	ctx := context.Background()
	c := mustCreate(t, r, "user-1", "ci", nil)
	id := c.ID
	for i := range 2 {
		n, err := r.Server.Tokens.Rotate(ctx, session("user-1"), id, nil, 3600)
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		id = n.ID
	}
	before := stored(t, r, "user-1")
	_, err := r.Server.Tokens.Rotate(ctx, session("user-1"), id, nil, 3600)
	var q *pat.QuotaError
	if !errors.As(err, &q) || q.Limit != 3 {
		t.Fatalf("fourth creation (a rotation) with a quota of 3: %v, want *pat.QuotaError", err)
	}
	if after := stored(t, r, "user-1"); len(after) != len(before) {
		t.Errorf("a refused rotation changed the tokens: %d before, %d after", len(before), len(after))
	}
	if v := mustValidate(t, r, c.Secret); v.Outcome != pat.OutcomeValid {
		t.Errorf("the first token, in its grace period, after a refused rotation: %s", v.Outcome)
	}
}
