package graph_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
)

const eventsQuery = `query($first: Int, $after: String) { personalAccessTokenEvents(first: $first, after: $after) {
	totalCount
	data { id action tokenId tokenName actor createdAt clientIp userAgent }
	pageInfo { hasNextPage endCursor } } }`

type event struct {
	ID        string  `json:"id"`
	Action    string  `json:"action"`
	TokenID   string  `json:"tokenId"`
	TokenName *string `json:"tokenName"`
	Actor     string  `json:"actor"`
	CreatedAt string  `json:"createdAt"`
	ClientIP  *string `json:"clientIp"`
	UserAgent *string `json:"userAgent"`
}

type eventPage struct {
	TotalCount int     `json:"totalCount"`
	Data       []event `json:"data"`
	PageInfo   struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
}

// eventsPage reads one page of bearer's security log and checks that the
// answer holds nothing shaped like a token.
func eventsPage(t *testing.T, r *pattest.Replica, bearer string, first int, after string) eventPage {
	t.Helper()
	vars := map[string]any{"first": first}
	if after != "" {
		vars["after"] = after
	}
	res := r.GraphQL(t, bearer, eventsQuery, vars)
	if m := secretRE.FindString(string(res.Body)); m != "" {
		t.Fatalf("the security log holds something shaped like a token: %s", m)
	}
	var out struct {
		P eventPage `json:"personalAccessTokenEvents"`
	}
	decode(t, res, &out)
	return out.P
}

// history makes changes to one user's tokens as that user, from one client.
type history struct {
	t         *testing.T
	r         *pattest.Replica
	user, jwt string
}

const historyUserAgent = "EventsTest/1.0"

func (h history) mutate(query string, vars map[string]any, out any) {
	h.t.Helper()
	res := h.r.GraphQL(h.t, h.jwt, query, vars, "User-Agent: "+historyUserAgent)
	decode(h.t, res, out)
}

// create returns the new token's id and secret.
func (h history) create(name string) (string, string) {
	h.t.Helper()
	var out struct {
		C struct{ ID, Token string } `json:"createPersonalAccessToken"`
	}
	h.mutate(`mutation($n: String!) { createPersonalAccessToken(name: $n) { id token } }`, map[string]any{"n": name}, &out)
	return out.C.ID, out.C.Token
}

func (h history) rotate(id string) string {
	h.t.Helper()
	var out struct {
		R struct{ ID string } `json:"rotatePersonalAccessToken"`
	}
	h.mutate(`mutation($id: ID!) { rotatePersonalAccessToken(id: $id) { id } }`, map[string]any{"id": id}, &out)
	return out.R.ID
}

func (h history) del(id string) {
	h.t.Helper()
	h.mutate(`mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`, map[string]any{"id": id}, &struct{}{})
}

type wantEntry struct{ action, tokenID, name, actor string }

// makeHistory makes one entry of every action the log shows, and returns
// them newest first.
func (h history) makeHistory() []wantEntry {
	h.t.Helper()
	ctx := context.Background()
	alpha, _ := h.create("alpha")
	beta, _ := h.create("beta")
	alpha2 := h.rotate(alpha)
	h.del(beta)
	// A token minted by a rotation has no creation event of its own: its
	// name comes from the rotation.
	h.del(alpha2)
	gamma, _ := h.create("gamma")
	// Expired and removed by patd: no request, so no address.
	delta, _ := h.create("delta")
	expire(h.t, h.r, delta)
	if n, _, err := h.r.Server.Maintenance.Cleanup(ctx); err != nil || n != 1 {
		h.t.Fatalf("cleanup deleted %d (%v), want 1", n, err)
	}
	// Reported leaked by a secret scanner.
	epsilon, secret := h.create("epsilon")
	res, err := h.r.Server.Tokens.RevokeLeaked(ctx, pat.ActorGitHubScanning,
		[]pat.Leak{{Token: secret, Type: "patd_token", URL: "https://github.com/o/r/blob/main/x", Source: "content"}}, nil)
	if err != nil || len(res) != 1 || !res[0].Revoked {
		h.t.Fatalf("leak report: %+v, %v", res, err)
	}
	// Revoked by a backend when the account goes.
	if resp := h.r.Do(http.MethodPost, "/internal/users/"+h.user+"/revoke-all", nil, "Authorization: Bearer "+pattest.ServiceSecret); resp.Status != http.StatusOK {
		h.t.Fatalf("revoke-all: %s", resp)
	}
	u := h.user
	return []wantEntry{
		{"REVOKED_ALL", gamma, "gamma", "service"},
		{"LEAKED", epsilon, "epsilon", pat.ActorGitHubScanning},
		{"CREATED", epsilon, "epsilon", u},
		{"EXPIRED", delta, "delta", "system"},
		{"CREATED", delta, "delta", u},
		{"CREATED", gamma, "gamma", u},
		{"DELETED", alpha2, "alpha", u},
		{"DELETED", beta, "beta", u},
		{"ROTATED", alpha, "alpha", u},
		{"CREATED", beta, "beta", u},
		{"CREATED", alpha, "alpha", u},
	}
}

// pagesOfTwo reads the whole log two entries at a time, each cursor leading
// to the next, checking every page's total.
func pagesOfTwo(t *testing.T, r *pattest.Replica, jwt string, total int) []event {
	t.Helper()
	var got []event
	after := ""
	for range total {
		p := eventsPage(t, r, jwt, 2, after)
		if p.TotalCount != total {
			t.Fatalf("totalCount %d, want %d", p.TotalCount, total)
		}
		got = append(got, p.Data...)
		if !p.PageInfo.HasNextPage {
			return got
		}
		if p.PageInfo.EndCursor == nil || len(p.Data) != 2 {
			t.Fatalf("a page with a next page has %d events and cursor %v", len(p.Data), p.PageInfo.EndCursor)
		}
		after = *p.PageInfo.EndCursor
	}
	t.Fatalf("more pages than %d entries", total)
	return nil
}

// checkEntry compares entry i with what was done; the user's own changes
// carry their request's address and User-Agent, patd's own none.
func checkEntry(t *testing.T, i int, e event, w wantEntry, user string) {
	t.Helper()
	if e.Action != w.action || e.TokenID != w.tokenID || e.TokenName == nil || *e.TokenName != w.name || e.Actor != w.actor {
		t.Errorf("event %d: got %s %s %v by %s, want %s %s %s by %s", i, e.Action, e.TokenID, orNil(e.TokenName), e.Actor,
			w.action, w.tokenID, w.name, w.actor)
	}
	if !dateRE.MatchString(e.CreatedAt) || e.ID == "" {
		t.Errorf("event %d: id %q createdAt %q", i, e.ID, e.CreatedAt)
	}
	switch w.actor {
	case user:
		if orNil(e.ClientIP) != "127.0.0.1" || orNil(e.UserAgent) != historyUserAgent {
			t.Errorf("event %d (%s): clientIp %v userAgent %v", i, e.Action, orNil(e.ClientIP), orNil(e.UserAgent))
		}
	case "system":
		if e.ClientIP != nil || e.UserAgent != nil {
			t.Errorf("cleanup event with clientIp %v userAgent %v, want null", orNil(e.ClientIP), orNil(e.UserAgent))
		}
	}
}

func TestSecurityLog(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	const user = "user-events"
	jwt := r.JWT(user)
	// Someone else's changes never show.
	mustCreate(t, r, r.JWT("user-events-other"), "not mine")
	wants := history{t: t, r: r, user: user, jwt: jwt}.makeHistory()

	got := pagesOfTwo(t, r, jwt, len(wants))
	if len(got) != len(wants) {
		t.Fatalf("got %d events, want %d: %+v", len(got), len(wants), got)
	}
	ids := map[string]bool{}
	for i, w := range wants {
		checkEntry(t, i, got[i], w, user)
		if ids[got[i].ID] {
			t.Errorf("event %d: id %s seen before", i, got[i].ID)
		}
		ids[got[i].ID] = true
		if i > 0 && got[i].CreatedAt > got[i-1].CreatedAt {
			t.Errorf("event %d is newer than the one before it", i)
		}
	}
	all := eventsPage(t, r, jwt, 50, "")
	if all.PageInfo.HasNextPage || len(all.Data) != len(wants) || !slices.EqualFunc(all.Data, got, func(a, b event) bool { return a.ID == b.ID }) {
		t.Errorf("one page of 50 differs from the pages of two: %+v", all)
	}
	// Past the end: empty, and the total still right.
	if p := eventsPage(t, r, jwt, 2, *all.PageInfo.EndCursor); len(p.Data) != 0 || p.TotalCount != len(wants) || p.PageInfo.HasNextPage {
		t.Errorf("page past the end: %+v", p)
	}
	// The other user sees only their own.
	if p := eventsPage(t, r, r.JWT("user-events-other"), 50, ""); p.TotalCount != 1 || len(p.Data) != 1 || orNil(p.Data[0].TokenName) != "not mine" {
		t.Errorf("other user's log: %+v", p)
	}
}

func TestSecurityLogRefusals(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-events-refusals")
	mustCreate(t, r, jwt, "one")
	mustCreate(t, r, jwt, "two")

	res := r.GraphQL(t, "", eventsQuery, nil)
	wantError(t, res, "UNAUTHENTICATED")
	wantNullData(t, res, "personalAccessTokenEvents")

	for _, first := range []int{0, -1, 501} {
		res := r.GraphQL(t, jwt, eventsQuery, map[string]any{"first": first})
		wantInputError(t, res, "INVALID_PAGINATION")
	}
	// A token list cursor is not an event cursor, nor is garbage.
	tokens := listPage(t, r, jwt, 1, "")
	for _, after := range []string{*tokens.PageInfo.EndCursor, "not-a-cursor"} {
		res := r.GraphQL(t, jwt, eventsQuery, map[string]any{"first": 1, "after": after})
		wantInputError(t, res, "INVALID_PAGINATION")
	}
	// The default page is 50.
	res = r.GraphQL(t, jwt, `{ personalAccessTokenEvents { totalCount data { id } } }`, nil)
	var out struct {
		P eventPage `json:"personalAccessTokenEvents"`
	}
	decode(t, res, &out)
	if out.P.TotalCount != 2 || len(out.P.Data) != 2 {
		t.Errorf("default page: %+v", out.P)
	}
}

// expire makes token id expired, as if its time had come.
func expire(t *testing.T, r *pattest.Replica, id string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `UPDATE personal_access_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
}

func orNil(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
