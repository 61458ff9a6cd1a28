package graph_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/pattest"
)

// createMany creates n tokens named prefix-0 … prefix-(n-1) in that order and
// returns their ids in creation order.
func createMany(t *testing.T, r *pattest.Replica, jwt, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = mustCreate(t, r, jwt, fmt.Sprintf("%s-%d", prefix, i)).ID
	}
	return ids
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-pages")
	ids := createMany(t, r, jwt, "tok", 7)
	mustCreate(t, r, r.JWT("user-pages-other"), "not yours")

	var (
		seen  []string
		after string
	)
	for i, want := range []struct {
		n    int
		more bool
	}{{3, true}, {3, true}, {1, false}} {
		p := listPage(t, r, jwt, 3, after)
		if len(p.Data) != want.n || p.PageInfo.HasNextPage != want.more || p.TotalCount != 7 {
			t.Fatalf("page %d: %d items, hasNextPage %v, totalCount %d; want %d, %v, 7",
				i+1, len(p.Data), p.PageInfo.HasNextPage, p.TotalCount, want.n, want.more)
		}
		if p.PageInfo.EndCursor == nil || *p.PageInfo.EndCursor == "" {
			t.Fatalf("page %d has no endCursor", i+1)
		}
		for _, d := range p.Data {
			if d.User.ID != "user-pages" {
				t.Fatalf("page %d lists %s of user %q", i+1, d.ID, d.User.ID)
			}
		}
		seen = append(seen, p.ids()...)
		after = *p.PageInfo.EndCursor
	}
	if want := reversed(ids); !slices.Equal(seen, want) {
		t.Fatalf("pages gave %v, want newest first %v", seen, want)
	}

	// The list is newest first by createdAt too.
	all := listAll(t, r, jwt)
	for i := 1; i < len(all.Data); i++ {
		if all.Data[i-1].CreatedAt < all.Data[i].CreatedAt {
			t.Fatalf("not newest first: %s before %s", all.Data[i-1].CreatedAt, all.Data[i].CreatedAt)
		}
	}

	// A page size that divides the list exactly ends with hasNextPage false,
	// and asking past the end gives an empty page.
	p := listPage(t, r, jwt, 7, "")
	if len(p.Data) != 7 || p.PageInfo.HasNextPage {
		t.Fatalf("first: 7 gave %d items, hasNextPage %v", len(p.Data), p.PageInfo.HasNextPage)
	}
	p = listPage(t, r, jwt, 3, *p.PageInfo.EndCursor)
	if len(p.Data) != 0 || p.PageInfo.HasNextPage || p.TotalCount != 7 || p.PageInfo.EndCursor != nil {
		t.Fatalf("page past the end: %+v", p)
	}
}

func TestListPagesAreStableWhileTokensAreCreated(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-stable")
	ids := createMany(t, r, jwt, "tok", 5)

	p1 := listPage(t, r, jwt, 2, "")
	fresh := mustCreate(t, r, jwt, "fresh")
	p2 := listPage(t, r, jwt, 2, *p1.PageInfo.EndCursor)
	p3 := listPage(t, r, jwt, 2, *p2.PageInfo.EndCursor)
	got := append(append(p1.ids(), p2.ids()...), p3.ids()...)
	if want := reversed(ids); !slices.Equal(got, want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
	if p3.PageInfo.HasNextPage || p3.TotalCount != 6 {
		t.Fatalf("last page: hasNextPage %v, totalCount %d", p3.PageInfo.HasNextPage, p3.TotalCount)
	}
	if first := listPage(t, r, jwt, 1, ""); first.Data[0].ID != fresh.ID {
		t.Fatalf("newest token %s is not first: %v", fresh.ID, first.ids())
	}
}

func TestListDefaultPageSizeIs100(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CreateLimit = 200 })
	jwt := r.JWT("user-default-page")

	var wg sync.WaitGroup
	errs := make(chan error, 101)
	sem := make(chan struct{}, 8)
	for i := range 101 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := r.PostGraphQL("Bearer "+jwt, createMutation, createVars(fmt.Sprintf("t%d", i), nil))
			if err == nil && len(res.Errors) > 0 {
				err = fmt.Errorf("create: %+v", res.Errors)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	p := listPage(t, r, jwt, 0, "")
	if len(p.Data) != 100 || !p.PageInfo.HasNextPage || p.TotalCount != 101 {
		t.Fatalf("default page: %d items, hasNextPage %v, totalCount %d; want 100, true, 101",
			len(p.Data), p.PageInfo.HasNextPage, p.TotalCount)
	}
	rest := listPage(t, r, jwt, 0, *p.PageInfo.EndCursor)
	if len(rest.Data) != 1 || rest.PageInfo.HasNextPage {
		t.Fatalf("second default page: %d items, hasNextPage %v", len(rest.Data), rest.PageInfo.HasNextPage)
	}
	if slices.Contains(p.ids(), rest.Data[0].ID) {
		t.Fatal("the second page repeats a token of the first")
	}

	// The User entity's list has the same default.
	var out struct {
		E []struct {
			L tokenList `json:"personalAccessTokens"`
		} `json:"_entities"`
	}
	decode(t, r.GraphQL(t, jwt, `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { personalAccessTokens { data { id } totalCount pageInfo { hasNextPage } } } } }`,
		map[string]any{"reps": []any{map[string]any{"__typename": "User", "id": "user-default-page"}}}), &out)
	if len(out.E) != 1 || len(out.E[0].L.Data) != 100 || !out.E[0].L.PageInfo.HasNextPage || out.E[0].L.TotalCount != 101 {
		t.Fatalf("User.personalAccessTokens default page: %+v", out.E)
	}
}

func TestListEmpty(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	res := ok(t, r.GraphQL(t, r.JWT("user-empty"), listQuery, nil))
	raw := res.Body
	var out struct {
		L tokenList `json:"personalAccessTokens"`
	}
	decode(t, res, &out)
	if out.L.TotalCount != 0 || out.L.PageInfo.HasNextPage || out.L.PageInfo.EndCursor != nil {
		t.Fatalf("empty list: %s", raw)
	}
	if !strings.Contains(string(raw), `"data":[]`) {
		t.Fatalf("data of an empty list must be [], got %s", raw)
	}
}

func TestListRejectsBadPagination(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-badpage")
	createMany(t, r, jwt, "tok", 2)
	before := takeSnapshot(t, r, jwt)

	cases := map[string]map[string]any{
		"first 0":            {"first": 0},
		"first 501":          {"first": 501},
		"first -1":           {"first": -1},
		"first 1000":         {"first": 1000},
		"first max int32":    {"first": 2147483647},
		"first min int32":    {"first": -2147483648},
		"after garbage":      {"after": "garbage"},
		"after base64 junk":  {"after": "eDp5"}, // "x:y"
		"after empty id":     {"after": "MTIzOg"},
		"after huge":         {"after": strings.Repeat("A", 5000)},
		"after not base64":   {"after": "!!!"},
		"first 0 with after": {"first": 0, "after": "garbage"},
	}
	for label, vars := range cases {
		t.Run(label, func(t *testing.T) {
			t.Parallel()
			res := r.GraphQL(t, jwt, listQuery, vars)
			wantInputError(t, res, "")
			wantNullData(t, res, "personalAccessTokens")
		})
	}
	t.Run("on the User entity", func(t *testing.T) {
		t.Parallel()
		res := r.GraphQL(t, jwt, `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { personalAccessTokens(first: 0) { totalCount } } } }`,
			map[string]any{"reps": []any{map[string]any{"__typename": "User", "id": "user-badpage"}}})
		wantInputError(t, res, "")
	})
	t.Run("boundaries are accepted", func(t *testing.T) {
		t.Parallel()
		if p := listPage(t, r, jwt, 1, ""); len(p.Data) != 1 || !p.PageInfo.HasNextPage {
			t.Fatalf("first: 1 gave %+v", p)
		}
		if p := listPage(t, r, jwt, 500, ""); len(p.Data) != 2 {
			t.Fatalf("first: 500 gave %+v", p)
		}
	})
	t.Cleanup(func() { assertUnchanged(t, r, jwt, before) })
}

func TestPersonalAccessTokenByID(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-get")
	exp := msUTC(time.Now().Add(48 * time.Hour))
	c := mustCreateExp(t, r, jwt, "get me", exp)
	got := getToken(t, r, jwt, c.ID)
	if got == nil {
		t.Fatal("personalAccessToken(own id) is null")
	}
	want := listedToken{ID: c.ID, Name: "get me", MaskedToken: c.MaskedToken, ExpiresAt: &exp,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Typename: "PersonalAccessToken"}
	want.User.ID = "user-get"
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Fatalf("personalAccessToken = %s, want %s", a, b)
	}

	// Someone else's token and a missing one: null, and no error.
	for _, id := range []string{c.ID, "01936c5e-0000-7000-8000-000000000000"} {
		res := r.GraphQL(t, r.JWT("user-get-other"), getQuery, map[string]any{"id": id})
		ok(t, res)
		if string(res.Data) != `{"personalAccessToken":null}` {
			t.Fatalf("personalAccessToken(%s) for another user = %s, want null", id, res.Data)
		}
	}
}

// --- federation ------------------------------------------------------------------

func TestServiceSDLNeedsNoAuth(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	for _, bearer := range []string{"", "not-a-token", r.JWT("user-sdl")} {
		res := r.GraphQL(t, bearer, `{ _service { sdl } }`, nil)
		var out struct {
			S struct {
				SDL string `json:"sdl"`
			} `json:"_service"`
		}
		decode(t, res, &out)
		for _, want := range []string{
			`type PersonalAccessToken @key(fields: "id")`,
			`type User @key(fields: "id")`,
			"createPersonalAccessToken",
			"federation/v2",
		} {
			if !strings.Contains(out.S.SDL, want) {
				t.Errorf("bearer %.20q: sdl lacks %q", bearer, want)
			}
		}
	}
}

const tokenEntitiesQuery = `query($reps: [_Any!]!) {
  _entities(representations: $reps) { __typename ... on PersonalAccessToken { id name maskedToken createdAt user { id } } }
}`

type tokenEntity struct {
	Typename    string `json:"__typename"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	MaskedToken string `json:"maskedToken"`
	User        struct {
		ID string `json:"id"`
	} `json:"user"`
}

func tokenReps(ids ...string) []any {
	reps := make([]any, len(ids))
	for i, id := range ids {
		reps[i] = map[string]any{"__typename": "PersonalAccessToken", "id": id}
	}
	return reps
}

const batchSQL = "FROM personal_access_tokens WHERE id = ANY"

func TestEntitiesResolveInOneQuery(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-ent")
	mine := createMany(t, r, jwt, "mine", 5)
	theirs := mustCreate(t, r, r.JWT("user-ent-other"), "theirs").ID
	const missing = "01936c5e-0000-7000-8000-000000000000"

	order := []string{mine[0], theirs, mine[1], mine[2], missing, mine[3], mine[4]}
	before := r.Queries(batchSQL)
	var out struct {
		E []*tokenEntity `json:"_entities"`
	}
	decode(t, r.GraphQL(t, jwt, tokenEntitiesQuery, map[string]any{"reps": tokenReps(order...)}), &out)
	if n := r.Queries(batchSQL) - before; n != 1 {
		t.Fatalf("%d statements containing %q for one _entities batch, want 1", n, batchSQL)
	}
	if len(out.E) != len(order) {
		t.Fatalf("%d entities for %d representations", len(out.E), len(order))
	}
	for i, id := range order {
		e := out.E[i]
		if id == theirs || id == missing {
			if e != nil {
				t.Errorf("entity %d (%s) = %+v, want null", i, id, *e)
			}
			continue
		}
		if e == nil || e.ID != id || e.Typename != "PersonalAccessToken" || e.User.ID != "user-ent" ||
			!strings.HasPrefix(e.Name, "mine-") || !strings.HasSuffix(e.MaskedToken, "…") {
			t.Errorf("entity %d = %+v, want the caller's token %s", i, e, id)
		}
	}

	// Fifty representations, duplicates included, still cost one statement.
	var many []string
	for i := range 50 {
		many = append(many, mine[i%len(mine)])
	}
	before = r.Queries(batchSQL)
	decode(t, r.GraphQL(t, jwt, tokenEntitiesQuery, map[string]any{"reps": tokenReps(many...)}), &out)
	if n := r.Queries(batchSQL) - before; n != 1 {
		t.Fatalf("%d statements for 50 representations, want 1", n)
	}
	for i, e := range out.E {
		if e == nil || e.ID != many[i] {
			t.Fatalf("entity %d = %+v, want %s", i, e, many[i])
		}
	}
}

func TestEntitiesWithoutAuthAreNull(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	ids := createMany(t, r, r.JWT("user-ent-noauth"), "t", 2)
	res := r.GraphQL(t, "", tokenEntitiesQuery, map[string]any{"reps": tokenReps(ids...)})
	ok(t, res)
	if string(res.Data) != `{"_entities":[null,null]}` {
		t.Fatalf("_entities without Authorization = %s, want [null,null]", res.Data)
	}
}

func TestUserEntity(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-u")
	createMany(t, r, jwt, "t", 3)
	q := `query($reps: [_Any!]!) {
  _entities(representations: $reps) { __typename ... on User { id personalAccessTokens(first: 2) { totalCount data { id user { id } } } } }
}`

	var out struct {
		E []struct {
			Typename string     `json:"__typename"`
			ID       string     `json:"id"`
			L        *tokenList `json:"personalAccessTokens"`
		} `json:"_entities"`
	}
	reps := map[string]any{"reps": []any{map[string]any{"__typename": "User", "id": "user-u"}}}
	decode(t, r.GraphQL(t, jwt, q, reps), &out)
	if len(out.E) != 1 || out.E[0].ID != "user-u" || out.E[0].Typename != "User" || out.E[0].L == nil ||
		out.E[0].L.TotalCount != 3 || len(out.E[0].L.Data) != 2 || out.E[0].L.Data[0].User.ID != "user-u" {
		t.Fatalf("User entity for the caller: %+v", out.E)
	}

	// Another user's tokens: the entity resolves, its token list is null with FORBIDDEN.
	res := r.GraphQL(t, r.JWT("user-u-other"), q, reps)
	e := wantError(t, res, "FORBIDDEN")
	if len(e.Path) == 0 || e.Path[len(e.Path)-1] != "personalAccessTokens" {
		t.Errorf("FORBIDDEN error path = %v, want …personalAccessTokens", e.Path)
	}
	if err := json.Unmarshal(res.Data, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.E) != 1 || out.E[0].ID != "user-u" || out.E[0].L != nil {
		t.Fatalf("User entity for someone else: %s, want the user with personalAccessTokens null", res.Data)
	}

	// Without authentication the list is refused as UNAUTHENTICATED.
	res = r.GraphQL(t, "", q, reps)
	wantError(t, res, "UNAUTHENTICATED")
	if err := json.Unmarshal(res.Data, &out); err != nil || len(out.E) != 1 || out.E[0].L != nil {
		t.Fatalf("User entity without auth: %s", res.Data)
	}

	// Mixed representations in one request.
	own := listAll(t, r, jwt).Data[0].ID
	var mixed struct {
		E []map[string]any `json:"_entities"`
	}
	decode(t, r.GraphQL(t, jwt, `query($reps: [_Any!]!) { _entities(representations: $reps) {
  __typename ... on User { id } ... on PersonalAccessToken { id } } }`,
		map[string]any{"reps": []any{
			map[string]any{"__typename": "PersonalAccessToken", "id": own},
			map[string]any{"__typename": "User", "id": "user-u"},
		}}), &mixed)
	if len(mixed.E) != 2 || mixed.E[0]["id"] != own || mixed.E[0]["__typename"] != "PersonalAccessToken" ||
		mixed.E[1]["id"] != "user-u" || mixed.E[1]["__typename"] != "User" {
		t.Fatalf("mixed _entities: %+v", mixed.E)
	}
}
