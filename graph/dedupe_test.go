package graph_test

import (
	"encoding/json"
	"testing"

	"github.com/alternatefutures/patd/internal/pattest"
)

// tokenPageStatements is how many statements a replica has sent that read a
// page of tokens or their count. Counting these, not every statement, keeps
// the replica's background jobs (cleanup starts at a random moment in its
// first minute) out of the figures.
func tokenPageStatements(r *pattest.Replica) int {
	return r.Queries("-- name: ListTokens ") + r.Queries("-- name: CountTokens ")
}

// A router asks for User.personalAccessTokens with one representation per
// occurrence of the user: N of them cost one read of the page (and of its total
// when the page does not tell it), not one per representation.
func TestUserTokensOfRepeatedRepresentationsCostOneRead(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	const user = "user-dedupe"
	jwt := r.JWT(user)
	for _, name := range []string{"one", "two", "three"} {
		mustCreate(t, r, jwt, name)
	}

	const n = 25
	reps := make([]map[string]any, 0, n+2)
	for range n {
		reps = append(reps, map[string]any{"__typename": "User", "id": user})
	}
	// Someone else among them: FORBIDDEN for that one, and no query.
	reps = append(reps, map[string]any{"__typename": "User", "id": "someone-else"})
	q := `query($r: [_Any!]!) { _entities(representations: $r) {
		... on User { id personalAccessTokens(first: 2) { totalCount data { name } pageInfo { hasNextPage } } } } }`

	before := tokenPageStatements(r)
	res := r.GraphQL(t, jwt, q, map[string]any{"r": reps})
	// The page is full, so its total is a second statement: two in all.
	if got := tokenPageStatements(r) - before; got != 2 {
		t.Errorf("%d representations of one user sent %d token page statements, want 2 (page, then total)", n, got)
	}
	var out struct {
		Entities []*struct {
			ID                   string `json:"id"`
			PersonalAccessTokens *struct {
				TotalCount int `json:"totalCount"`
				Data       []struct {
					Name string `json:"name"`
				} `json:"data"`
				PageInfo struct {
					HasNextPage bool `json:"hasNextPage"`
				} `json:"pageInfo"`
			} `json:"personalAccessTokens"`
		} `json:"_entities"`
	}
	if err := json.Unmarshal(res.Data, &out); err != nil {
		t.Fatalf("data: %v: %s", err, res.Data)
	}
	if len(out.Entities) != n+1 {
		t.Fatalf("want %d entities, got %d: %s", n+1, len(out.Entities), res.Data)
	}
	for i, e := range out.Entities[:n] {
		l := e.PersonalAccessTokens
		if l == nil || l.TotalCount != 3 || len(l.Data) != 2 || l.Data[0].Name != "three" || l.Data[1].Name != "two" || !l.PageInfo.HasNextPage {
			t.Fatalf("entity %d: want the newest two of three tokens, got %+v", i, l)
		}
	}
	if other := out.Entities[n]; other == nil || other.ID != "someone-else" || other.PersonalAccessTokens != nil {
		t.Errorf("someone else's tokens: want null, got %+v", other)
	}
	if len(res.Errors) != 1 || res.Errors[0].Code() != "FORBIDDEN" {
		t.Errorf("want one FORBIDDEN error for someone else's tokens, got %+v", res.Errors)
	}

	// A different page of the same user is a different read.
	before = tokenPageStatements(r)
	res = r.GraphQL(t, jwt, `query($r: [_Any!]!) { _entities(representations: $r) {
		... on User { a: personalAccessTokens(first: 1) { totalCount } b: personalAccessTokens(first: 3) { totalCount } } } }`,
		map[string]any{"r": reps[:n]})
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	// a: a full page and its total; b: the whole list, whose total is its length.
	if got := tokenPageStatements(r) - before; got != 3 {
		t.Errorf("two different pages for %d representations sent %d statements, want 3", n, got)
	}
}

// A first page that holds the whole list is one statement, its total its
// length; a full page, or any page after a cursor, asks for the total with a
// second statement (CountTokens), which a count inside the page's statement
// would make every page pay for.
func TestTokenPageCountsOnlyWhenThePageDoesNotTell(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-one-statement")

	statements := func(what string, list func() tokenList, want int) tokenList {
		t.Helper()
		before := tokenPageStatements(r)
		l := list()
		if got := tokenPageStatements(r) - before; got != want {
			t.Errorf("%s sent %d statements, want %d", what, got, want)
		}
		return l
	}
	if l := statements("an empty first page", func() tokenList { return listPage(t, r, jwt, 0, "") }, 1); l.TotalCount != 0 || len(l.Data) != 0 {
		t.Fatalf("empty list: %+v", l)
	}

	mustCreate(t, r, jwt, "a")
	mustCreate(t, r, jwt, "b")
	whole := statements("a first page holding the whole list", func() tokenList { return listPage(t, r, jwt, 2, "") }, 1)
	if whole.TotalCount != 2 || len(whole.Data) != 2 || whole.PageInfo.HasNextPage {
		t.Fatalf("whole list: %+v", whole)
	}
	first := statements("a full first page", func() tokenList { return listPage(t, r, jwt, 1, "") }, 2)
	if first.TotalCount != 2 || len(first.Data) != 1 || !first.PageInfo.HasNextPage || first.PageInfo.EndCursor == nil {
		t.Fatalf("first page: %+v", first)
	}
	second := statements("a page after a cursor", func() tokenList { return listPage(t, r, jwt, 1, *first.PageInfo.EndCursor) }, 2)
	if second.TotalCount != 2 || len(second.Data) != 1 || second.PageInfo.HasNextPage {
		t.Fatalf("second page: %+v", second)
	}
	past := statements("an empty page after a cursor", func() tokenList { return listPage(t, r, jwt, 1, *second.PageInfo.EndCursor) }, 2)
	if past.TotalCount != 2 || len(past.Data) != 0 || past.PageInfo.HasNextPage {
		t.Fatalf("page past the end: %+v", past)
	}
}
