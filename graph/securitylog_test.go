package graph_test

import (
	"context"
	"encoding/json"
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
	res, raw := askGraphQL(t, r, bearer, eventsQuery, vars)
	if m := secretRE.FindString(string(raw.Body)); m != "" {
		t.Fatalf("the security log holds something shaped like a token: %s", m)
	}
	var out struct {
		P eventPage `json:"personalAccessTokenEvents"`
	}
	decode(t, res, &out)
	return out.P
}

func TestSecurityLog(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	const user = "user-events"
	jwt := r.JWT(user)
	const userAgent = "EventsTest/1.0"
	mutate := func(query string, vars map[string]any) json.RawMessage {
		t.Helper()
		res, _ := askGraphQL(t, r, jwt, query, vars, "User-Agent: "+userAgent)
		ok(t, res)
		return res.Data
	}
	create := func(name string) string {
		t.Helper()
		var out struct {
			C struct{ ID string } `json:"createPersonalAccessToken"`
		}
		if err := json.Unmarshal(mutate(`mutation($n: String!) { createPersonalAccessToken(name: $n) { id } }`, map[string]any{"n": name}), &out); err != nil {
			t.Fatal(err)
		}
		return out.C.ID
	}
	del := func(id string) {
		t.Helper()
		mutate(`mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`, map[string]any{"id": id})
	}

	// Someone else's changes never show.
	mustCreate(t, r, r.JWT("user-events-other"), "not mine")

	alpha := create("alpha")
	beta := create("beta")
	var rotated struct {
		R struct{ ID string } `json:"rotatePersonalAccessToken"`
	}
	if err := json.Unmarshal(mutate(`mutation($id: ID!) { rotatePersonalAccessToken(id: $id) { id } }`, map[string]any{"id": alpha}), &rotated); err != nil {
		t.Fatal(err)
	}
	alpha2 := rotated.R.ID
	del(beta)
	// A token minted by a rotation has no creation event of its own: its
	// name comes from the rotation.
	del(alpha2)
	gamma := create("gamma")
	// Expired and removed by patd: no request, so no address.
	delta := create("delta")
	expire(t, r, delta)
	if n, _, err := r.Server.Maintenance.Cleanup(context.Background()); err != nil || n != 1 {
		t.Fatalf("cleanup deleted %d (%v), want 1", n, err)
	}
	// Reported leaked by a secret scanner.
	var leaked struct {
		C struct{ ID, Token string } `json:"createPersonalAccessToken"`
	}
	if err := json.Unmarshal(mutate(`mutation { createPersonalAccessToken(name: "epsilon") { id token } }`, nil), &leaked); err != nil {
		t.Fatal(err)
	}
	epsilon := leaked.C.ID
	res, err := r.Server.Tokens.RevokeLeaked(context.Background(), pat.ActorGitHubScanning,
		[]pat.Leak{{Token: leaked.C.Token, Type: "patd_token", URL: "https://github.com/o/r/blob/main/x", Source: "content"}}, nil)
	if err != nil || len(res) != 1 || !res[0].Revoked {
		t.Fatalf("leak report: %+v, %v", res, err)
	}
	// Revoked by a backend when the account goes.
	if resp := r.Do(http.MethodPost, "/internal/users/"+user+"/revoke-all", nil, "Authorization: Bearer "+pattest.ServiceSecret); resp.Status != http.StatusOK {
		t.Fatalf("revoke-all: %s", resp)
	}

	type want struct{ action, tokenID, name, actor string }
	wants := []want{ // newest first
		{"REVOKED_ALL", gamma, "gamma", "service"},
		{"LEAKED", epsilon, "epsilon", pat.ActorGitHubScanning},
		{"CREATED", epsilon, "epsilon", user},
		{"EXPIRED", delta, "delta", "system"},
		{"CREATED", delta, "delta", user},
		{"CREATED", gamma, "gamma", user},
		{"DELETED", alpha2, "alpha", user},
		{"DELETED", beta, "beta", user},
		{"ROTATED", alpha, "alpha", user},
		{"CREATED", beta, "beta", user},
		{"CREATED", alpha, "alpha", user},
	}

	// Pages of two, each cursor leading to the next.
	var got []event
	after := ""
	for range 10 {
		p := eventsPage(t, r, jwt, 2, after)
		if p.TotalCount != len(wants) {
			t.Fatalf("totalCount %d, want %d", p.TotalCount, len(wants))
		}
		got = append(got, p.Data...)
		if !p.PageInfo.HasNextPage {
			break
		}
		if p.PageInfo.EndCursor == nil || len(p.Data) != 2 {
			t.Fatalf("a page with a next page has %d events and cursor %v", len(p.Data), p.PageInfo.EndCursor)
		}
		after = *p.PageInfo.EndCursor
	}
	if len(got) != len(wants) {
		t.Fatalf("got %d events, want %d: %+v", len(got), len(wants), got)
	}
	ids := map[string]bool{}
	for i, w := range wants {
		e := got[i]
		if e.Action != w.action || e.TokenID != w.tokenID || e.TokenName == nil || *e.TokenName != w.name || e.Actor != w.actor {
			t.Errorf("event %d: got %s %s %v by %s, want %s %s %s by %s", i, e.Action, e.TokenID, orNil(e.TokenName), e.Actor,
				w.action, w.tokenID, w.name, w.actor)
		}
		if !dateRE.MatchString(e.CreatedAt) || e.ID == "" || ids[e.ID] {
			t.Errorf("event %d: id %q createdAt %q", i, e.ID, e.CreatedAt)
		}
		ids[e.ID] = true
		if i > 0 && e.CreatedAt > got[i-1].CreatedAt {
			t.Errorf("event %d is newer than the one before it", i)
		}
		switch w.actor {
		case user:
			if orNil(e.ClientIP) != "127.0.0.1" || orNil(e.UserAgent) != userAgent {
				t.Errorf("event %d (%s): clientIp %v userAgent %v", i, e.Action, orNil(e.ClientIP), orNil(e.UserAgent))
			}
		case "system":
			if e.ClientIP != nil || e.UserAgent != nil {
				t.Errorf("cleanup event with clientIp %v userAgent %v, want null", orNil(e.ClientIP), orNil(e.UserAgent))
			}
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

	res, _ := askGraphQL(t, r, "", eventsQuery, nil)
	wantError(t, res, "UNAUTHENTICATED")
	wantNullData(t, res, "personalAccessTokenEvents")

	for _, first := range []int{0, -1, 501} {
		res, _ := askGraphQL(t, r, jwt, eventsQuery, map[string]any{"first": first})
		wantInputError(t, res, "INVALID_PAGINATION")
	}
	// A token list cursor is not an event cursor, nor is garbage.
	tokens := listPage(t, r, jwt, 1, "")
	for _, after := range []string{*tokens.PageInfo.EndCursor, "not-a-cursor"} {
		res, _ := askGraphQL(t, r, jwt, eventsQuery, map[string]any{"first": 1, "after": after})
		wantInputError(t, res, "INVALID_PAGINATION")
	}
	// The default page is 50.
	res, _ = askGraphQL(t, r, jwt, `{ personalAccessTokenEvents { totalCount data { id } } }`, nil)
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
