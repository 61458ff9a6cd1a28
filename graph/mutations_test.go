package graph_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCreateReturnsTheSecretOnce(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-create")
	before := time.Now()

	c := mustCreate(t, r, jwt, "  my laptop  ")
	if c.Name != "my laptop" {
		t.Errorf("name = %q, want %q (trimmed)", c.Name, "my laptop")
	}
	if !tokenRE.MatchString(c.Token) {
		t.Errorf("token %q does not match %s", c.Token, tokenRE)
	}
	if want := c.Token[:12] + "…"; c.MaskedToken != want {
		t.Errorf("maskedToken = %q, want %q", c.MaskedToken, want)
	}
	if !uuidV7RE.MatchString(c.ID) {
		t.Errorf("id %q is not a UUIDv7", c.ID)
	}
	if c.ExpiresAt != nil || c.LastUsedAt != nil {
		t.Errorf("expiresAt = %v, lastUsedAt = %v, want both null", c.ExpiresAt, c.LastUsedAt)
	}
	near(t, "createdAt", parseDate(t, c.CreatedAt), before, 5*time.Second)
	near(t, "updatedAt", parseDate(t, c.UpdatedAt), parseDate(t, c.CreatedAt), time.Second)

	// Every read the owner can make; none may show the secret again.
	reads := []struct {
		query string
		vars  map[string]any
	}{
		{listQuery, map[string]any{"first": 500}},
		{listQuery, nil},
		{getQuery, map[string]any{"id": c.ID}},
		{rateLimitQuery, nil},
		{`query($reps: [_Any!]!) { _entities(representations: $reps) { ... on PersonalAccessToken { ` + tokenFields + ` } } }`,
			map[string]any{"reps": []any{map[string]any{"__typename": "PersonalAccessToken", "id": c.ID}}}},
		{`query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { personalAccessTokens { data { ` + tokenFields + ` } } } } }`,
			map[string]any{"reps": []any{map[string]any{"__typename": "User", "id": "user-create"}}}},
	}
	for _, rd := range reads {
		res := ok(t, r.GraphQL(t, jwt, rd.query, rd.vars))
		raw := res.Body
		if !strings.Contains(string(raw), c.ID) && rd.query != rateLimitQuery {
			t.Errorf("read does not show the token at all: %s", raw)
		}
		if strings.Contains(string(raw), c.Token) || strings.Contains(string(raw), c.Token[12:]) {
			t.Errorf("the secret is returned again by %q: %s", rd.query, raw)
		}
		if m := secretRE.FindString(string(raw)); m != "" {
			t.Errorf("a token-shaped string %q is in %s", m, raw)
		}
	}

	got := getToken(t, r, jwt, c.ID)
	if got == nil {
		t.Fatal("personalAccessToken(id) is null for the caller's own token")
	}
	if got.Name != c.Name || got.MaskedToken != c.MaskedToken || got.CreatedAt != c.CreatedAt ||
		got.UpdatedAt != c.UpdatedAt || got.ExpiresAt != nil || got.LastUsedAt != nil ||
		got.User.ID != "user-create" || got.Typename != "PersonalAccessToken" {
		t.Errorf("stored token %+v does not match the created one %+v", *got, c)
	}
}

func TestCreateExpiresAtInputForms(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	// Whole milliseconds, so that every input form names exactly this instant.
	exp := time.Now().Add(72 * time.Hour).Truncate(time.Millisecond)
	want := msUTC(exp)
	plus0530 := time.FixedZone("IST", 5*3600+30*60)
	minus0700 := time.FixedZone("MST", -7*3600)

	cases := []struct {
		name  string
		query string
		vars  map[string]any
		want  string
	}{
		{"RFC 3339 with positive offset", createMutation,
			map[string]any{"name": "a", "exp": exp.In(plus0530).Format("2006-01-02T15:04:05.000-07:00")}, want},
		{"RFC 3339 with negative offset, no fraction", createMutation,
			map[string]any{"name": "a", "exp": exp.Truncate(time.Second).In(minus0700).Format(time.RFC3339)}, msUTC(exp.Truncate(time.Second))},
		{"RFC 3339 in UTC with Z", createMutation,
			map[string]any{"name": "a", "exp": exp.UTC().Format(time.RFC3339Nano)}, want},
		{"epoch milliseconds variable", createMutation,
			map[string]any{"name": "a", "exp": exp.UnixMilli()}, want},
		{"epoch milliseconds literal",
			fmt.Sprintf(`mutation { createPersonalAccessToken(name: "a", expiresAt: %d) { %s } }`, exp.UnixMilli(), createdFields),
			nil, want},
		{"RFC 3339 literal",
			fmt.Sprintf(`mutation { createPersonalAccessToken(name: "a", expiresAt: %q) { %s } }`, exp.In(plus0530).Format(time.RFC3339Nano), createdFields),
			nil, want},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jwt := r.JWT(fmt.Sprintf("user-exp-%d", i))
			var out struct {
				C createdToken `json:"createPersonalAccessToken"`
			}
			decode(t, r.GraphQL(t, jwt, tc.query, tc.vars), &out)
			if out.C.ExpiresAt == nil || *out.C.ExpiresAt != tc.want {
				t.Fatalf("expiresAt = %v, want %s", deref(out.C.ExpiresAt), tc.want)
			}
			if !dateRE.MatchString(out.C.CreatedAt) {
				t.Errorf("createdAt %q is not RFC 3339 UTC with milliseconds", out.C.CreatedAt)
			}
			l := listAll(t, r, jwt)
			if len(l.Data) != 1 || l.Data[0].ExpiresAt == nil || *l.Data[0].ExpiresAt != tc.want {
				t.Fatalf("listed expiresAt = %+v, want %s", l.Data, tc.want)
			}
		})
	}

	t.Run("null expiresAt", func(t *testing.T) {
		t.Parallel()
		jwt := r.JWT("user-exp-null")
		c := mustCreateExp(t, r, jwt, "forever", nil)
		var out struct {
			C createdToken `json:"createPersonalAccessToken"`
		}
		decode(t, r.GraphQL(t, jwt, createMutation, map[string]any{"name": "explicit null", "exp": nil}), &out)
		if c.ExpiresAt != nil || out.C.ExpiresAt != nil {
			t.Fatalf("expiresAt = %v / %v, want null", deref(c.ExpiresAt), deref(out.C.ExpiresAt))
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

func TestCreateNames(t *testing.T) {
	t.Parallel()
	r := startReplica(t)

	bad := map[string]string{
		"empty":         "",
		"spaces only":   "   \t ",
		"101 chars":     strings.Repeat("a", 101),
		"101 runes":     strings.Repeat("é", 101),
		"ampersand":     "a&b",
		"markup":        "<script>",
		"newline":       "a\nb",
		"emoji":         "ci 🚀",
		"quote":         `it's`,
		"NUL":           "a\x00b",
		"zero width sp": "a\u200bb",
	}
	for label, name := range bad {
		t.Run("bad/"+label, func(t *testing.T) {
			t.Parallel()
			jwt := r.JWT("user-name-" + strings.ReplaceAll(label, " ", "-"))
			mustCreate(t, r, jwt, "existing")
			before := takeSnapshot(t, r, jwt)
			res := r.GraphQL(t, jwt, createMutation, createVars(name, nil))
			wantInputError(t, res, "INVALID_TOKEN_NAME")
			wantNullData(t, res, "createPersonalAccessToken")
			assertUnchanged(t, r, jwt, before)
		})
	}

	good := map[string]string{
		"100 chars":        strings.Repeat("a", 100),
		"100 runes":        strings.Repeat("é", 100),
		"allowed symbols":  "CI deploy-key_v2.1",
		"unicode letters":  "Café CI",
		"padded 100 chars": "  " + strings.Repeat("b", 100) + "  ",
		"one char":         "x",
	}
	for label, name := range good {
		t.Run("good/"+label, func(t *testing.T) {
			t.Parallel()
			jwt := r.JWT("user-name-ok-" + strings.ReplaceAll(label, " ", "-"))
			c := mustCreate(t, r, jwt, name)
			if c.Name != strings.TrimSpace(name) {
				t.Fatalf("name = %q, want %q", c.Name, strings.TrimSpace(name))
			}
			if l := listAll(t, r, jwt); len(l.Data) != 1 || l.Data[0].Name != c.Name {
				t.Fatalf("listed %+v, want one token named %q", l.Data, c.Name)
			}
		})
	}
}

func TestCreateRejectsBadExpiration(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	now := time.Now()

	cases := map[string]any{
		"past RFC 3339":              now.Add(-time.Hour).Format(time.RFC3339),
		"just past":                  now.Add(-time.Second).UTC().Format(time.RFC3339Nano),
		"past epoch ms":              now.Add(-time.Minute).UnixMilli(),
		"epoch seconds (1970)":       now.Add(time.Hour).Unix(),
		"zero":                       0,
		"negative":                   -1,
		"10 years and 2 days":        now.AddDate(10, 0, 2).Format(time.RFC3339),
		"11 years":                   now.AddDate(11, 0, 0).UnixMilli(),
		"year 9999":                  "9999-12-31T23:59:59Z",
		"tomorrow":                   "tomorrow",
		"empty string":               "",
		"date only":                  now.AddDate(0, 0, 2).Format("2006-01-02"),
		"no zone":                    now.AddDate(0, 0, 2).Format("2006-01-02T15:04:05"),
		"fractional ms":              float64(now.Add(time.Hour).UnixMilli()) + 0.5,
		"huge number":                1e300,
		"beyond year 9999 (ms)":      int64(253402300800000),
		"boolean":                    true,
		"RFC 1123":                   now.Add(time.Hour).Format(time.RFC1123),
		"epoch ms as string":         fmt.Sprint(now.Add(time.Hour).UnixMilli()),
		"RFC 3339 with bad month 13": "2030-13-01T00:00:00Z",
	}
	for label, exp := range cases {
		t.Run(label, func(t *testing.T) {
			t.Parallel()
			jwt := r.JWT("user-badexp-" + strings.ReplaceAll(label, " ", "-"))
			mustCreate(t, r, jwt, "existing")
			before := takeSnapshot(t, r, jwt)
			res := r.GraphQL(t, jwt, createMutation, map[string]any{"name": "n", "exp": exp})
			wantInputError(t, res, "INVALID_EXPIRATION")
			wantNullData(t, res, "createPersonalAccessToken")
			assertUnchanged(t, r, jwt, before)
		})
	}

	t.Run("literal in the query", func(t *testing.T) {
		t.Parallel()
		jwt := r.JWT("user-badexp-literal")
		before := takeSnapshot(t, r, jwt)
		res := r.GraphQL(t, jwt, `mutation { createPersonalAccessToken(name: "n", expiresAt: "tomorrow") { id } }`, nil)
		wantInputError(t, res, "INVALID_EXPIRATION")
		assertUnchanged(t, r, jwt, before)
	})
}

// "At most 10 years ahead": ten calendar years from now is within it, however
// many leap days those years hold.
func TestCreateAcceptsExpiryTenCalendarYearsAhead(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-10y")
	for _, exp := range []time.Time{
		time.Now().AddDate(10, 0, -3),
		time.Now().AddDate(10, 0, 0).Add(-time.Minute),
	} {
		exp = exp.Truncate(time.Millisecond)
		res := r.GraphQL(t, jwt, createMutation, map[string]any{"name": "decade", "exp": exp.Format(time.RFC3339Nano)})
		if len(res.Errors) > 0 {
			t.Errorf("expiresAt %s (%.0f days ahead) refused: %+v", exp.Format(time.RFC3339), time.Until(exp).Hours()/24, res.Errors)
		}
	}
}

func TestDeleteToken(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-del")
	a := mustCreate(t, r, jwt, "a")
	b := mustCreate(t, r, jwt, "b")
	quota := getRateLimit(t, r, jwt)

	var out struct {
		Deleted bool `json:"deletePersonalAccessToken"`
	}
	decode(t, r.GraphQL(t, jwt, deleteMutation, map[string]any{"id": a.ID}), &out)
	if !out.Deleted {
		t.Fatal("deletePersonalAccessToken returned false")
	}
	l := listAll(t, r, jwt)
	if l.TotalCount != 1 || l.find(a.ID) != nil || l.find(b.ID) == nil {
		t.Fatalf("after delete: %v, want only %s", l.ids(), b.ID)
	}
	if got := getToken(t, r, jwt, a.ID); got != nil {
		t.Fatalf("personalAccessToken(deleted id) = %+v, want null", *got)
	}
	eventuallyRefused(t, r, a.Token)
	if !authenticates(t, r, b.Token) {
		t.Fatal("deleting one token revoked another")
	}

	after := getRateLimit(t, r, jwt)
	if after.ActiveTokens != 1 {
		t.Errorf("activeTokens = %d after delete, want 1", after.ActiveTokens)
	}
	if after.Remaining != quota.Remaining {
		t.Errorf("remaining = %d after delete, want %d (deleting gives no creation back)", after.Remaining, quota.Remaining)
	}

	before := takeSnapshot(t, r, jwt)
	res := r.GraphQL(t, jwt, deleteMutation, map[string]any{"id": a.ID})
	wantError(t, res, "NOT_FOUND")
	wantNullData(t, res, "deletePersonalAccessToken")
	assertUnchanged(t, r, jwt, before)
}

func TestOtherUsersTokensLookMissing(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	owner, other := r.JWT("user-owner"), r.JWT("user-other")
	theirs := mustCreate(t, r, owner, "owner")
	mine := mustCreate(t, r, other, "other")
	const missing = "01936c5e-0000-7000-8000-000000000000"
	ownerBefore := takeSnapshot(t, r, owner)
	otherBefore := takeSnapshot(t, r, other)

	for _, id := range []string{theirs.ID, missing, "", "not-a-uuid", strings.Repeat("x", 10000)} {
		if got := getToken(t, r, other, id); got != nil {
			t.Errorf("personalAccessToken(%.40q) = %+v, want null", id, *got)
		}
	}

	// delete and rotate answer the same for someone else's token as for none.
	type answer struct{ code, message string }
	ask := func(query string, vars map[string]any, field string) answer {
		res := r.GraphQL(t, other, query, vars)
		e := wantError(t, res, "NOT_FOUND")
		wantNullData(t, res, field)
		return answer{e.Code(), e.Message}
	}
	for _, m := range []struct {
		query, field string
		vars         func(id string) map[string]any
	}{
		{deleteMutation, "deletePersonalAccessToken", func(id string) map[string]any { return map[string]any{"id": id} }},
		{rotateMutation, "rotatePersonalAccessToken", func(id string) map[string]any { return map[string]any{"id": id} }},
		{rotateMutation, "rotatePersonalAccessToken", func(id string) map[string]any { return map[string]any{"id": id, "grace": 3600} }},
	} {
		a := ask(m.query, m.vars(theirs.ID), m.field)
		b := ask(m.query, m.vars(missing), m.field)
		if a != b {
			t.Errorf("%s: someone else's token answers %+v, a missing one %+v: they must look the same", m.field, a, b)
		}
	}

	assertUnchanged(t, r, owner, ownerBefore)
	assertUnchanged(t, r, other, otherBefore)
	if got := getToken(t, r, owner, theirs.ID); got == nil || got.ExpiresAt != nil {
		t.Fatalf("owner's token after the other user's attempts: %+v", got)
	}
	if !authenticates(t, r, theirs.Token) || !authenticates(t, r, mine.Token) {
		t.Fatal("a token stopped authenticating after another user's failed delete/rotate")
	}
}

func TestRotateWithoutGrace(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-rot0")
	old := mustCreate(t, r, jwt, "ci key")
	keep := mustCreate(t, r, jwt, "other")
	if !authenticates(t, r, old.Token) {
		t.Fatal("new token does not authenticate")
	}

	var out struct {
		C createdToken `json:"rotatePersonalAccessToken"`
	}
	decode(t, r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": old.ID, "grace": 0}), &out)
	n := out.C
	if n.ID == old.ID || n.Name != old.Name || n.Token == old.Token || !tokenRE.MatchString(n.Token) {
		t.Fatalf("rotated %+v from %+v: want a new id and secret, same name", n, old)
	}
	if n.MaskedToken != n.Token[:12]+"…" {
		t.Errorf("maskedToken = %q for token %q", n.MaskedToken, n.Token)
	}
	if n.ExpiresAt != nil {
		t.Errorf("expiresAt = %s, want null like the old token", *n.ExpiresAt)
	}
	if !dateRE.MatchString(n.CreatedAt) || !uuidV7RE.MatchString(n.ID) {
		t.Errorf("createdAt %q / id %q malformed", n.CreatedAt, n.ID)
	}

	l := listAll(t, r, jwt)
	if l.TotalCount != 2 || l.find(old.ID) != nil || l.find(n.ID) == nil || l.find(keep.ID) == nil {
		t.Fatalf("after rotation the list is %v, want %s and %s", l.ids(), n.ID, keep.ID)
	}
	if got := l.find(n.ID); got.Name != "ci key" || got.MaskedToken != n.MaskedToken {
		t.Errorf("listed rotated token %+v", *got)
	}
	eventuallyRefused(t, r, old.Token)
	if !authenticates(t, r, n.Token) {
		t.Fatal("the new token does not authenticate")
	}

	// The old id is gone: rotating it again is NOT_FOUND.
	wantError(t, r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": old.ID}), "NOT_FOUND")
}

func TestRotateDefaultGraceIsZero(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-rotdefault")
	old := mustCreate(t, r, jwt, "k")
	var out struct {
		C createdToken `json:"rotatePersonalAccessToken"`
	}
	decode(t, r.GraphQL(t, jwt, `mutation($id: ID!) { rotatePersonalAccessToken(id: $id) { `+createdFields+` } }`,
		map[string]any{"id": old.ID}), &out)
	if l := listAll(t, r, jwt); l.TotalCount != 1 || l.Data[0].ID != out.C.ID {
		t.Fatalf("after rotation with the default grace: %v, want only %s", l.ids(), out.C.ID)
	}
	eventuallyRefused(t, r, old.Token)
}

func TestRotateWithGrace(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-rotgrace")
	old := mustCreate(t, r, jwt, "deploy")
	at := time.Now()

	var out struct {
		C createdToken `json:"rotatePersonalAccessToken"`
	}
	decode(t, r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": old.ID, "grace": 3600}), &out)
	n := out.C
	if n.ID == old.ID || n.Name != "deploy" || n.Token == old.Token || n.ExpiresAt != nil {
		t.Fatalf("rotated %+v from %+v", n, old)
	}
	l := listAll(t, r, jwt)
	if l.TotalCount != 2 || l.find(n.ID) == nil || l.find(old.ID) == nil {
		t.Fatalf("list %v, want old %s and new %s", l.ids(), old.ID, n.ID)
	}
	if l.Data[0].ID != n.ID {
		t.Errorf("the new token is not listed first: %v", l.ids())
	}
	o := l.find(old.ID)
	if o.ExpiresAt == nil {
		t.Fatal("old token has no expiresAt after a rotation with grace")
	}
	near(t, "old expiresAt", parseDate(t, *o.ExpiresAt), at.Add(time.Hour), 5*time.Second)
	if !authenticates(t, r, old.Token) || !authenticates(t, r, n.Token) {
		t.Fatal("both tokens must authenticate during the grace period")
	}
	if rl := getRateLimit(t, r, jwt); rl.ActiveTokens != 2 {
		t.Errorf("activeTokens = %d during the grace period, want 2", rl.ActiveTokens)
	}

	// The longest grace, 7 days, is allowed.
	other := mustCreate(t, r, jwt, "week")
	decode(t, r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": other.ID, "grace": 604800}), &out)
	o = listAll(t, r, jwt).find(other.ID)
	if o == nil || o.ExpiresAt == nil {
		t.Fatalf("old token after a 7-day grace: %+v", o)
	}
	near(t, "old expiresAt", parseDate(t, *o.ExpiresAt), time.Now().Add(7*24*time.Hour), 10*time.Second)
}

func TestRotateGraceNeverExtendsOldExpiry(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-rotshort")
	exp := msUTC(time.Now().Add(10 * time.Minute))
	old := mustCreateExp(t, r, jwt, "short", exp)
	ok(t, r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": old.ID, "grace": 3600}))
	o := listAll(t, r, jwt).find(old.ID)
	if o == nil || o.ExpiresAt == nil || *o.ExpiresAt != exp {
		t.Fatalf("old token after rotation with a grace longer than its life: %+v, want expiresAt %s", o, exp)
	}
}

func TestRotateRejectsBadGrace(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	cases := map[string]any{
		"one over 7 days": 604801,
		"negative":        -1,
		"very negative":   -2147483648,
		"max int32":       2147483647,
		// 18446744074 s is 2^64 ns + 0.29 s: it must not wrap around to a
		// short, acceptable grace period.
		"wraps int64 nanoseconds": int64(18446744074),
		"huge":                    int64(9007199254740991),
	}
	for label, grace := range cases {
		t.Run(label, func(t *testing.T) {
			t.Parallel()
			jwt := r.JWT("user-badgrace-" + strings.ReplaceAll(label, " ", "-"))
			tok := mustCreate(t, r, jwt, "k")
			before := takeSnapshot(t, r, jwt)
			res := r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": tok.ID, "grace": grace})
			wantInputError(t, res, "")
			wantNullData(t, res, "rotatePersonalAccessToken")
			assertUnchanged(t, r, jwt, before)
			if !authenticates(t, r, tok.Token) {
				t.Fatal("a refused rotation revoked the token")
			}
		})
	}
}

func TestRotateExpiry(t *testing.T) {
	t.Parallel()
	r := startReplica(t)

	t.Run("keeps the old expiry when none is given", func(t *testing.T) {
		t.Parallel()
		jwt := r.JWT("user-rotexp-keep")
		exp := msUTC(time.Now().Add(30 * 24 * time.Hour))
		old := mustCreateExp(t, r, jwt, "k", exp)
		var out struct {
			C createdToken `json:"rotatePersonalAccessToken"`
		}
		decode(t, r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": old.ID}), &out)
		if out.C.ExpiresAt == nil || *out.C.ExpiresAt != exp {
			t.Fatalf("rotated expiresAt = %s, want the old %s", deref(out.C.ExpiresAt), exp)
		}
		if got := getToken(t, r, jwt, out.C.ID); got == nil || deref(got.ExpiresAt) != exp {
			t.Fatalf("stored rotated token %+v, want expiresAt %s", got, exp)
		}
	})

	t.Run("takes a new expiry", func(t *testing.T) {
		t.Parallel()
		jwt := r.JWT("user-rotexp-new")
		old := mustCreateExp(t, r, jwt, "k", msUTC(time.Now().Add(24*time.Hour)))
		newExp := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Millisecond)
		var out struct {
			C createdToken `json:"rotatePersonalAccessToken"`
		}
		decode(t, r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": old.ID, "exp": newExp.UnixMilli()}), &out)
		if deref(out.C.ExpiresAt) != msUTC(newExp) {
			t.Fatalf("rotated expiresAt = %s, want %s", deref(out.C.ExpiresAt), msUTC(newExp))
		}
	})

	t.Run("refuses a bad expiry and changes nothing", func(t *testing.T) {
		t.Parallel()
		jwt := r.JWT("user-rotexp-bad")
		old := mustCreate(t, r, jwt, "k")
		for _, exp := range []any{
			time.Now().Add(-time.Hour).Format(time.RFC3339),
			time.Now().AddDate(11, 0, 0).Format(time.RFC3339),
			"tomorrow",
		} {
			before := takeSnapshot(t, r, jwt)
			res := r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": old.ID, "exp": exp, "grace": 60})
			wantInputError(t, res, "INVALID_EXPIRATION")
			assertUnchanged(t, r, jwt, before)
		}
		if !authenticates(t, r, old.Token) {
			t.Fatal("a refused rotation revoked the token")
		}
	})
}
