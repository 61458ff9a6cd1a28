package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/alternatefutures/patd/internal/pattest"
)

const entitiesQuery = `query($reps: [_Any!]!) { _entities(representations: $reps) { __typename } }`

// emptyReps returns n representations {}.
func emptyReps(n int) []any {
	reps := make([]any, n)
	for i := range reps {
		reps[i] = map[string]any{}
	}
	return reps
}

// quietLogs fails the test if the replica logged anything at ERROR, or any
// line longer than a few KiB, after its first from lines: what a client sends
// must never be either. (Starting up may log at ERROR: /readyz answers 503
// until the replica listens for revocations.)
func quietLogs(t *testing.T, r *pattest.Replica, from int) {
	t.Helper()
	for _, line := range r.Logs()[from:] {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("logged at ERROR: %.300s", line)
		}
		if len(line) > 8<<10 {
			t.Errorf("logged a %d-byte line: %.300s", len(line), line)
		}
	}
}

// Representations a gateway would never send are the client's mistake:
// BAD_USER_INPUT, one short answer, nothing logged at ERROR, however many
// there are or however long their fields. Before, 9,999 empty representations
// in a 30 KB request got a 1 MB answer of INTERNAL_SERVER_ERROR and 9,999
// ERROR lines, and a 1 MB __typename a 1 MB ERROR line.
func TestBadRepresentationsAreBadUserInput(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	from := len(r.Logs())
	jwt := r.JWT("user-reps")
	long := strings.Repeat("T", 1_000_000)
	cases := map[string]any{
		"9,999 empty":                  emptyReps(9999),
		"999 empty":                    emptyReps(999),
		"1 MB __typename":              []any{map[string]any{"__typename": long, "id": "x"}},
		"1 MB __typename without id":   []any{map[string]any{"__typename": long}},
		"unknown __typename":           []any{map[string]any{"__typename": "Nope", "id": "x"}},
		"__typename a number":          []any{map[string]any{"__typename": 5, "id": "x"}},
		"no __typename":                []any{map[string]any{"id": "x"}},
		"no id":                        []any{map[string]any{"__typename": "PersonalAccessToken"}},
		"null id":                      []any{map[string]any{"__typename": "PersonalAccessToken", "id": nil}},
		"number id":                    []any{map[string]any{"__typename": "PersonalAccessToken", "id": 5}},
		"object id":                    []any{map[string]any{"__typename": "User", "id": map[string]any{"a": 1}}},
		"list id":                      []any{map[string]any{"__typename": "User", "id": []any{"a"}}},
		"not an object":                []any{"x"},
		"a number":                     []any{5},
		"one bad among good":           []any{map[string]any{"__typename": "User", "id": "u"}, map[string]any{"__typename": "User"}},
		"1 MB __typename, 999 times 0": append(emptyReps(500), map[string]any{"__typename": long[:1000], "id": "x"}),
	}
	for name, reps := range cases {
		t.Run(name, func(t *testing.T) {
			for _, bearer := range []string{"", jwt} {
				res, raw := gqlRaw(t, r, bearerHeader(bearer), entitiesQuery, map[string]any{"reps": reps})
				if len(res.Errors) == 0 || len(res.Errors) > 51 {
					t.Fatalf("%d errors, want 1 to 51: %.300s", len(res.Errors), raw)
				}
				for _, e := range res.Errors {
					if e.Code() != "BAD_USER_INPUT" {
						t.Errorf("code %q, want BAD_USER_INPUT: %.300s", e.Code(), e.Message)
					}
				}
				if len(raw) > 16<<10 || strings.Contains(string(raw), long[:1000]) {
					t.Errorf("a %d-byte answer (the client's own fields echoed?): %.300s", len(raw), raw)
				}
			}
		})
	}
	// The same in the query text instead of variables.
	res, _ := gqlRaw(t, r, "", `{ _entities(representations: [{}, {id: "x"}]) { __typename } }`, nil)
	if len(res.Errors) != 1 || res.Errors[0].Code() != "BAD_USER_INPUT" {
		t.Errorf("literal representations: %+v", res.Errors)
	}
	quietLogs(t, r, from)
}

// A request resolves at most 1,000 representations, however they are split
// between aliases; up to that, good ones resolve as before.
func TestRepresentationsPerRequestAreBounded(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	from := len(r.Logs())
	jwt := r.JWT("user-bound")
	tok := mustCreate(t, r, jwt, "mine")
	good := func(n int) []any {
		reps := make([]any, n)
		for i := range reps {
			reps[i] = map[string]any{"__typename": "PersonalAccessToken", "id": fmt.Sprintf("id-%d", i)}
		}
		reps[0] = map[string]any{"__typename": "PersonalAccessToken", "id": tok.ID}
		return reps
	}
	var out struct {
		Entities []*struct {
			ID string `json:"id"`
		} `json:"_entities"`
	}
	decode(t, r.GraphQL(t, jwt, `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on PersonalAccessToken { id } } }`,
		map[string]any{"reps": good(1000)}), &out)
	if len(out.Entities) != 1000 || out.Entities[0] == nil || out.Entities[0].ID != tok.ID || out.Entities[1] != nil {
		t.Errorf("1,000 representations: %d entities, first %+v", len(out.Entities), out.Entities[0])
	}

	res := r.GraphQL(t, jwt, entitiesQuery, map[string]any{"reps": good(1001)})
	if len(res.Errors) != 1 || res.Errors[0].Code() != "BAD_USER_INPUT" || len(res.Data) > 0 && string(res.Data) != "null" {
		t.Errorf("1,001 representations: %+v, data %s", res.Errors, res.Data)
	}
	res = r.GraphQL(t, jwt, `query($a: [_Any!]!, $b: [_Any!]!) {
		a: _entities(representations: $a) { __typename }
		b: _entities(representations: $b) { __typename } }`,
		map[string]any{"a": good(600), "b": good(600)})
	if len(res.Errors) != 1 || res.Errors[0].Code() != "BAD_USER_INPUT" {
		t.Errorf("2 × 600 representations: %+v", res.Errors)
	}
	quietLogs(t, r, from)
}

// However many fields fail, an answer carries at most 50 errors and then
// one that says how many more there were.
func TestErrorsPerAnswerAreCapped(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	from := len(r.Logs())
	var q strings.Builder
	q.WriteString("{")
	for i := range 120 {
		fmt.Fprintf(&q, " a%d: personalAccessToken(id: \"x\") { id }", i)
	}
	q.WriteString(" }")
	res := r.GraphQL(t, "", q.String(), nil) // no credentials: every field fails
	if len(res.Errors) != 51 {
		t.Fatalf("%d errors, want 50 and a summary", len(res.Errors))
	}
	for _, e := range res.Errors[:50] {
		if e.Code() != "UNAUTHENTICATED" {
			t.Errorf("error %+v, want UNAUTHENTICATED", e)
		}
	}
	last := res.Errors[50]
	if !strings.Contains(last.Message, "70 more") || last.Code() == "" {
		t.Errorf("summary %+v, want a message counting the 70 errors left out, and a code", last)
	}
	quietLogs(t, r, from)
}

// When the database is down, every field that needs it fails, and one
// request may hold many such fields (a User entity per representation): the
// first few failures are logged, then one line counts the rest.
func TestInternalErrorsLoggedBoundedPerRequest(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	proxy := pattest.NewProxy(t, "127.0.0.1:5432")
	cfg.DatabaseURL = proxy.Rewrite(cfg.DatabaseURL)
	r := pattest.Start(t, cfg)
	jwt := r.JWT("user-down")
	// 90: as many as the complexity limit lets through (each costs a page
	// and its total), well over the 50 errors an answer carries.
	reps := make([]any, 90)
	for i := range reps {
		reps[i] = map[string]any{"__typename": "User", "id": "user-down"}
	}
	proxy.Cut()
	from := len(r.Logs())
	res := r.GraphQL(t, jwt, `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { personalAccessTokens(first: 1) { totalCount } } } }`,
		map[string]any{"reps": reps})
	if len(res.Errors) != 51 || res.Errors[0].Code() != "INTERNAL_SERVER_ERROR" {
		t.Fatalf("%d errors (first %+v), want 50 internal ones and a summary", len(res.Errors), res.Errors[0])
	}
	failures, summaries := 0, 0
	for _, line := range r.Logs()[from:] {
		switch {
		case strings.Contains(line, `"msg":"graphql resolver failed"`):
			failures++
		case strings.Contains(line, `"msg":"graphql resolver failures not logged"`) && strings.Contains(line, `"count":85`):
			summaries++
		}
	}
	if failures != 5 || summaries != 1 {
		t.Errorf("logged %d failures and %d summaries, want 5 and 1 counting 85", failures, summaries)
	}
}

// In production _service is served only on its own (introspection is off):
// asked for with other fields it is the client's mistake, refused before
// anything runs, not an internal error logged at ERROR.
func TestServiceWithOtherFieldsIsRefused(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	from := len(r.Logs())
	for _, q := range []string{
		`{ _service { sdl } personalAccessToken(id: "x") { id } }`,
		`{ _service { sdl } _entities(representations: []) { __typename } }`,
	} {
		res := r.GraphQL(t, r.JWT("user-svc"), q, nil)
		if len(res.Errors) != 1 || res.Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("%s: %+v", q, res.Errors)
		}
	}
	ok(t, r.GraphQL(t, "", `{ __typename _service { sdl } }`, nil))
	quietLogs(t, r, from)
}

// gqlRaw posts with a raw Authorization value ("" for none) and returns the
// answer with its body as sent.
func gqlRaw(t testing.TB, r *pattest.Replica, authz, query string, vars map[string]any) (pattest.GraphQLResult, []byte) {
	t.Helper()
	res, err := r.PostGraphQL(authz, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return res, res.Body
}

func bearerHeader(bearer string) string {
	if bearer == "" {
		return ""
	}
	return "Bearer " + bearer
}
