package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/pattest"
)

func TestAPIKeyRateLimit(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CreateLimit, c.MaxActive = 4, 2 })
	jwt := r.JWT("user-quota")
	expect := func(step string, remaining, active int) rateLimit {
		t.Helper()
		rl := getRateLimit(t, r, jwt)
		if rl.Limit != 4 || rl.MaxActiveTokens != 2 || rl.Remaining != remaining || rl.ActiveTokens != active {
			t.Fatalf("%s: apiKeyRateLimit %+v, want limit 4, maxActiveTokens 2, remaining %d, activeTokens %d",
				step, rl, remaining, active)
		}
		return rl
	}

	rl := expect("fresh", 4, 0)
	near(t, "resetAt with no creation", parseDate(t, rl.ResetAt), time.Now(), 5*time.Second)

	a := mustCreate(t, r, jwt, "a")
	firstAt := parseDate(t, a.CreatedAt)
	rl = expect("after one create", 3, 1)
	near(t, "resetAt", parseDate(t, rl.ResetAt), firstAt.Add(24*time.Hour), 2*time.Second)
	resetAt := rl.ResetAt

	wantInputError(t, r.GraphQL(t, jwt, createMutation, createVars("a<b", nil)), "INVALID_TOKEN_NAME")
	wantInputError(t, r.GraphQL(t, jwt, createMutation, createVars("ok", "tomorrow")), "INVALID_EXPIRATION")
	expect("after refused input", 3, 1)

	b := mustCreate(t, r, jwt, "b")
	expect("after two creates", 2, 2)

	for range 3 {
		res := r.GraphQL(t, jwt, createMutation, createVars("c", nil))
		e := wantError(t, res, "MAX_TOKENS_EXCEEDED")
		wantNullData(t, res, "createPersonalAccessToken")
		if m, _ := e.Extensions["maxActiveTokens"].(float64); m != 2 {
			t.Fatalf("extensions.maxActiveTokens = %v, want 2", e.Extensions["maxActiveTokens"])
		}
	}
	expect("after MAX_TOKENS_EXCEEDED", 2, 2)

	ok(t, r.GraphQL(t, jwt, deleteMutation, map[string]any{"id": b.ID}))
	expect("after a delete", 2, 1)
	c := mustCreate(t, r, jwt, "c")
	expect("third create", 1, 2)
	ok(t, r.GraphQL(t, jwt, deleteMutation, map[string]any{"id": c.ID}))
	mustCreate(t, r, jwt, "d")
	rl = expect("fourth create", 0, 2)
	if rl.ResetAt != resetAt {
		t.Errorf("resetAt moved from %s to %s: it is when the oldest creation leaves the window", resetAt, rl.ResetAt)
	}
	ok(t, r.GraphQL(t, jwt, deleteMutation, map[string]any{"id": a.ID}))

	before := takeSnapshot(t, r, jwt)
	for range 2 {
		res := r.GraphQL(t, jwt, createMutation, createVars("e", nil))
		e := wantError(t, res, "RATE_LIMIT_EXCEEDED")
		wantNullData(t, res, "createPersonalAccessToken")
		s, _ := e.Extensions["resetAt"].(string)
		got, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatalf("extensions.resetAt %q is not RFC 3339: %v", e.Extensions["resetAt"], err)
		}
		near(t, "extensions.resetAt", got, firstAt.Add(24*time.Hour), 2*time.Second)
		retry, isNum := e.Extensions["retryAfterSeconds"].(float64)
		if !isNum || retry <= 0 || retry != float64(int(retry)) {
			t.Fatalf("extensions.retryAfterSeconds = %v, want a positive whole number", e.Extensions["retryAfterSeconds"])
		}
		if want := time.Until(got).Seconds(); retry < want-5 || retry > want+5 {
			t.Fatalf("retryAfterSeconds = %v, want about %.0f (until resetAt)", retry, want)
		}
	}
	assertUnchanged(t, r, jwt, before)
	expect("after RATE_LIMIT_EXCEEDED", 0, 1)
}

// createConcurrently sends n creates at once, as user, and returns the error
// code of each (""for success).
func createConcurrently(t *testing.T, r *pattest.Replica, jwt string, n int) []string {
	t.Helper()
	codes := make([]string, n)
	errs := make([]error, n)
	var (
		wg    sync.WaitGroup
		ready sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			<-start
			res, err := r.PostGraphQL("Bearer "+jwt, createMutation, createVars(fmt.Sprintf("parallel %d", i), nil))
			switch {
			case err != nil:
				errs[i] = err
			case res.Status >= 500:
				errs[i] = fmt.Errorf("status %d: %s", res.Status, res.Body)
			case len(res.Errors) == 0:
				codes[i] = ""
			case len(res.Errors) == 1:
				codes[i] = res.Errors[0].Code()
			default:
				errs[i] = fmt.Errorf("%d errors: %s", len(res.Errors), res.Body)
			}
		}()
	}
	ready.Wait()
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return codes
}

func count(codes []string) map[string]int {
	m := map[string]int{}
	for _, c := range codes {
		m[c]++
	}
	return m
}

func TestConcurrentCreatesNeverExceedMaxActive(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.MaxActive = 5 })
	jwt := r.JWT("user-race-max")
	got := count(createConcurrently(t, r, jwt, 20))
	if got[""] != 5 || got["MAX_TOKENS_EXCEEDED"] != 15 || len(got) != 2 {
		t.Fatalf("20 parallel creates with a cap of 5: %v, want 5 successes and 15 MAX_TOKENS_EXCEEDED", got)
	}
	if l := listAll(t, r, jwt); l.TotalCount != 5 {
		t.Fatalf("%d tokens stored, want 5", l.TotalCount)
	}
	if rl := getRateLimit(t, r, jwt); rl.ActiveTokens != 5 || rl.Remaining != r.Config.CreateLimit-5 {
		t.Fatalf("apiKeyRateLimit %+v: refused creates must give their slot back", rl)
	}
}

func TestConcurrentCreatesNeverExceedQuota(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CreateLimit = 5 })
	jwt := r.JWT("user-race-quota")
	got := count(createConcurrently(t, r, jwt, 20))
	if got[""] != 5 || got["RATE_LIMIT_EXCEEDED"] != 15 || len(got) != 2 {
		t.Fatalf("20 parallel creates with a quota of 5: %v, want 5 successes and 15 RATE_LIMIT_EXCEEDED", got)
	}
	if l := listAll(t, r, jwt); l.TotalCount != 5 {
		t.Fatalf("%d tokens stored, want 5", l.TotalCount)
	}
	if rl := getRateLimit(t, r, jwt); rl.Remaining != 0 {
		t.Fatalf("remaining = %d, want 0", rl.Remaining)
	}
}

func TestRotateAtMaxActive(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.MaxActive = 1 })
	jwt := r.JWT("user-rot-cap")
	old := mustCreate(t, r, jwt, "only")

	// Without grace the old token goes, so the new one fits under the cap.
	var out struct {
		C createdToken `json:"rotatePersonalAccessToken"`
	}
	decode(t, r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": old.ID, "grace": 0}), &out)
	if l := listAll(t, r, jwt); l.TotalCount != 1 || l.Data[0].ID != out.C.ID {
		t.Fatalf("after rotation at the cap: %v", l.ids())
	}

	// With grace both would be active: refused, and the old one is untouched.
	before := takeSnapshot(t, r, jwt)
	res := r.GraphQL(t, jwt, rotateMutation, map[string]any{"id": out.C.ID, "grace": 60})
	e := wantError(t, res, "MAX_TOKENS_EXCEEDED")
	if m, _ := e.Extensions["maxActiveTokens"].(float64); m != 1 {
		t.Fatalf("extensions.maxActiveTokens = %v, want 1", e.Extensions["maxActiveTokens"])
	}
	assertUnchanged(t, r, jwt, before)
	if !authenticates(t, r, out.C.Token) {
		t.Fatal("a refused rotation revoked the token")
	}
}

// --- hostile queries ------------------------------------------------------------

// paddedBody is a valid GraphQL request of exactly size bytes.
func paddedBody(t testing.TB, size int) []byte {
	t.Helper()
	head, tail := `{"query":"{ __typename }","variables":{"pad":"`, `"}}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		t.Fatal("size too small")
	}
	b := []byte(head + strings.Repeat("a", pad) + tail)
	if len(b) != size {
		t.Fatalf("built %d bytes, want %d", len(b), size)
	}
	return b
}

func TestRequestBodyLimit(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	const mib = 1 << 20

	resp := r.Do(http.MethodPost, "/graphql", paddedBody(t, mib))
	if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"__typename":"Query"`) {
		t.Fatalf("a body of exactly 1 MiB: %s", resp)
	}
	for _, size := range []int{mib + 1, 2 * mib} {
		resp = r.Do(http.MethodPost, "/graphql", paddedBody(t, size))
		if resp.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("a body of %d bytes with Content-Length: status %d, want 413 (%.200s)", size, resp.Status, resp.Body)
		}
		// Without Content-Length the limit still holds.
		resp = r.Do(http.MethodPost, "/graphql", struct{ io.Reader }{bytes.NewReader(paddedBody(t, size))})
		if resp.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("a chunked body of %d bytes: status %d, want 413 (%.200s)", size, resp.Status, resp.Body)
		}
	}
	// A large body with a valid session changes nothing either.
	jwt := r.JWT("user-big")
	body := fmt.Sprintf(`{"query":%q,"variables":{"name":"big","pad":"%s"}}`,
		`mutation($name: String!) { createPersonalAccessToken(name: $name) { id } }`, strings.Repeat("a", mib))
	if resp := r.Do(http.MethodPost, "/graphql", body, "Authorization: Bearer "+jwt); resp.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("an oversized create: status %d, want 413", resp.Status)
	}
	if l := listAll(t, r, jwt); l.TotalCount != 0 {
		t.Fatalf("an oversized request created %d tokens", l.TotalCount)
	}
}

// wantRejected fails unless res is refused before running: an error that is
// not internal, no 5xx and no data.
func wantRejected(t testing.TB, what string, res pattest.GraphQLResult) {
	t.Helper()
	if res.Status >= 500 {
		t.Fatalf("%s: status %d", what, res.Status)
	}
	if len(res.Errors) == 0 {
		t.Fatalf("%s: accepted (data %.200s)", what, res.Data)
	}
	for _, e := range res.Errors {
		if e.Code() == "" || e.Code() == "INTERNAL_SERVER_ERROR" || strings.TrimSpace(e.Message) == "" {
			t.Fatalf("%s: error %+v, want a non-internal code and a message", what, e)
		}
	}
	if len(res.Data) != 0 && string(res.Data) != "null" {
		t.Fatalf("%s: rejected query returned data %s", what, res.Data)
	}
}

// rejectedBeforeRunning runs query and checks that it is refused without
// sending any token SQL.
func rejectedBeforeRunning(t *testing.T, r *pattest.Replica, jwt, what, query string, vars map[string]any) pattest.GraphQLResult {
	t.Helper()
	before := r.Queries("personal_access_tokens")
	res := r.GraphQL(t, jwt, query, vars)
	wantRejected(t, what, res)
	if n := r.Queries("personal_access_tokens") - before; n != 0 {
		t.Fatalf("%s: %d token statements ran for a query that must be refused before it runs", what, n)
	}
	return res
}

// tooDeep checks that query is refused by the depth limit (not, say, by the
// complexity limit) before it runs.
func tooDeep(t *testing.T, r *pattest.Replica, jwt, what, query string) {
	t.Helper()
	res := rejectedBeforeRunning(t, r, jwt, what, query, nil)
	if c := res.Errors[0].Code(); c == "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("%s: refused for its complexity, not its depth: %+v", what, res.Errors)
	}
}

// nestedTokens is personalAccessTokens(first: 1) { data { user { … } } }
// nested levels times, ending in leaf; its depth is 3*levels - 1 + depth(leaf).
// Pages of one keep its complexity low.
func nestedTokens(levels int, leaf string) string {
	q := leaf
	for i := 0; i < levels; i++ {
		if i == 0 {
			q = "personalAccessTokens(first: 1) { data { " + q + " } }"
		} else {
			q = "personalAccessTokens(first: 1) { data { user { " + q + " } } }"
		}
	}
	return "{ " + q + " }"
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()

	t.Run("MaxDepth 3", func(t *testing.T) {
		t.Parallel()
		r := startReplica(t, func(c *config.Config) { c.MaxDepth = 3 })
		jwt := r.JWT("user-depth3")
		mustCreate(t, r, jwt, "t")
		ok(t, r.GraphQL(t, jwt, `{ personalAccessTokens { data { id } } }`, nil))
		ok(t, r.GraphQL(t, jwt, `{ personalAccessTokens { totalCount pageInfo { hasNextPage } } apiKeyRateLimit { limit } }`, nil))

		for what, q := range map[string]string{
			"depth 4":         `{ personalAccessTokens { data { user { id } } } }`,
			"depth 6":         `{ personalAccessTokens { data { user { personalAccessTokens { data { id } } } } } }`,
			"fragment spread": `query { ...F } fragment F on Query { personalAccessTokens { data { user { id } } } }`,
			"nested fragments": `query { personalAccessTokens { ...L } }
fragment L on PersonalAccessTokenList { data { ...T } }
fragment T on PersonalAccessToken { user { id } }`,
			"inline fragment": `{ ... on Query { personalAccessTokens { data { ... on PersonalAccessToken { user { id } } } } } }`,
			"entities":        `{ _entities(representations: [{__typename: "User", id: "user-depth3"}]) { ... on User { personalAccessTokens { data { id } } } } }`,
		} {
			tooDeep(t, r, jwt, what, q)
		}
		// __typename at depth 4 counts as a field.
		tooDeep(t, r, jwt, "__typename at depth 4", `{ personalAccessTokens { data { user { __typename } } } }`)
		var out struct {
			L struct {
				TotalCount int `json:"totalCount"`
			} `json:"personalAccessTokens"`
		}
		decode(t, r.GraphQL(t, jwt, `{ personalAccessTokens { totalCount } }`, nil), &out)
		if out.L.TotalCount != 1 {
			t.Fatalf("%d tokens after refused queries, want 1", out.L.TotalCount)
		}
	})

	t.Run("default 12", func(t *testing.T) {
		t.Parallel()
		r := startReplica(t)
		jwt := r.JWT("user-depth12")
		mustCreate(t, r, jwt, "t")
		at12 := nestedTokens(4, "id") // 3*4 - 1 + 1 = 12
		res := ok(t, r.GraphQL(t, jwt, at12, nil))
		if strings.Count(string(res.Data), `"personalAccessTokens"`) != 4 || strings.Count(string(res.Data), `"id"`) != 1 {
			t.Fatalf("depth-12 query: %s", res.Data)
		}
		tooDeep(t, r, jwt, "depth 13", nestedTokens(4, "user { id }"))
		tooDeep(t, r, jwt, "depth 41", nestedTokens(14, "id"))
		deep := strings.Repeat("... on Query { ", 200) + "personalAccessTokens(first: 1) { data { id } }" + strings.Repeat(" }", 200)
		ok(t, r.GraphQL(t, jwt, "{ "+deep+" }", nil)) // fragments add no depth
	})
}

// fullPage is every field a page can have, for first: $first.
const fullPage = `personalAccessTokens(first: $first) {
    __typename
    totalCount
    pageInfo { __typename hasNextPage endCursor }
    data { __typename id name maskedToken expiresAt lastUsedAt createdAt updatedAt user { __typename id } }
  }`

func TestComplexityLimit(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-cost")
	mustCreate(t, r, jwt, "t")
	page := map[string]any{"first": 500}

	var out struct {
		L tokenList `json:"personalAccessTokens"`
	}
	decode(t, r.GraphQL(t, jwt, `query($first: Int) { `+fullPage+` }`, page), &out)
	if out.L.TotalCount != 1 || len(out.L.Data) != 1 {
		t.Fatalf("full page: %+v", out.L)
	}
	ok(t, r.GraphQL(t, jwt, `{ personalAccessTokens(first: 500) { totalCount data { id name maskedToken expiresAt lastUsedAt createdAt updatedAt user { id } } } }`, nil))
	ok(t, r.GraphQL(t, jwt, `query($first: Int) { `+fullPage+` apiKeyRateLimit { remaining limit resetAt activeTokens maxActiveTokens } }`, page))
	ok(t, r.GraphQL(t, jwt, `query($first: Int) { _entities(representations: [{__typename: "User", id: "user-cost"}]) { ... on User { id `+fullPage+` } } }`, page))

	rejectedBeforeRunning(t, r, jwt, "three aliased full pages",
		`query($first: Int) { a: `+fullPage+` b: `+fullPage+` c: `+fullPage+` }`, page)
	rejectedBeforeRunning(t, r, jwt, "three aliased literal full pages",
		`{ a: personalAccessTokens(first: 500) { totalCount data { id name maskedToken expiresAt lastUsedAt createdAt updatedAt user { id } } }
		   b: personalAccessTokens(first: 500) { totalCount data { id name maskedToken expiresAt lastUsedAt createdAt updatedAt user { id } } }
		   c: personalAccessTokens(first: 500) { totalCount data { id name maskedToken expiresAt lastUsedAt createdAt updatedAt user { id } } } }`, nil)
	rejectedBeforeRunning(t, r, jwt, "a page of pages",
		`{ personalAccessTokens(first: 500) { data { user { personalAccessTokens(first: 500) { data { id } } } } } }`, nil)
	rejectedBeforeRunning(t, r, jwt, "pages of the User entity",
		`query($first: Int) { _entities(representations: [{__typename: "User", id: "user-cost"}]) { ... on User { a: `+fullPage+` b: `+fullPage+` c: `+fullPage+` } } }`, page)
}

func TestIntrospection(t *testing.T) {
	t.Parallel()
	queries := map[string]string{
		"__schema":               `{ __schema { queryType { name } types { name } } }`,
		"__type":                 `{ __type(name: "PersonalAccessToken") { name fields { name } } }`,
		"__schema with _service": `{ _service { sdl } __schema { queryType { name } } }`,
		"nested __type":          `{ personalAccessTokens { totalCount } __type(name: "Query") { name } }`,
	}

	t.Run("refused in production", func(t *testing.T) {
		t.Parallel()
		r := startReplica(t)
		if r.Config.Development() {
			t.Fatal("the default configuration is not production")
		}
		for _, bearer := range []string{"", r.JWT("user-introspect")} {
			for what, q := range queries {
				res := r.GraphQL(t, bearer, q, nil)
				wantRejected(t, what, res)
				if strings.Contains(string(res.Data), "PersonalAccessToken") {
					t.Fatalf("%s leaked schema: %s", what, res.Data)
				}
			}
		}
		ok(t, r.GraphQL(t, "", `{ __typename _service { sdl } }`, nil))
	})

	t.Run("allowed in development", func(t *testing.T) {
		t.Parallel()
		r := startReplica(t, func(c *config.Config) { c.Env = config.Development })
		var out struct {
			S struct {
				QueryType struct{ Name string }   `json:"queryType"`
				Types     []struct{ Name string } `json:"types"`
			} `json:"__schema"`
		}
		decode(t, r.GraphQL(t, "", queries["__schema"], nil), &out)
		if out.S.QueryType.Name != "Query" || len(out.S.Types) == 0 {
			t.Fatalf("__schema in development: %+v", out.S)
		}
	})
}

func TestMalformedRequestsAreNot5xx(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-garbage")
	bodies := map[string]string{
		"not JSON":                     `not json`,
		"empty body":                   ``,
		"JSON array":                   `[1,2]`,
		"no query":                     `{}`,
		"syntax error":                 `{"query":"{"}`,
		"unknown field":                `{"query":"{ nope }"}`,
		"unknown operation":            `{"query":"{ __typename }","operationName":"Nope"}`,
		"wrong variable type":          `{"query":"query($f: Int) { personalAccessTokens(first: $f) { totalCount } }","variables":{"f":"abc"}}`,
		"float for Int":                `{"query":"query($f: Int) { personalAccessTokens(first: $f) { totalCount } }","variables":{"f":1.5}}`,
		"Int literal out of range":     `{"query":"{ personalAccessTokens(first: 2147483648) { totalCount } }"}`,
		"missing required argument":    `{"query":"mutation { createPersonalAccessToken { id } }"}`,
		"null for a required variable": `{"query":"mutation($n: String!) { createPersonalAccessToken(name: $n) { id } }","variables":{"n":null}}`,
		"object for a String":          `{"query":"mutation($n: String!) { createPersonalAccessToken(name: $n) { id } }","variables":{"n":{"a":1}}}`,
		"variables not an object":      `{"query":"{ __typename }","variables":[1]}`,
		"subscription":                 `{"query":"subscription { x }"}`,
		"two anonymous operations":     `{"query":"{ __typename } { __typename }"}`,
	}
	for what, body := range bodies {
		resp := r.Do(http.MethodPost, "/graphql", body, "Authorization: Bearer "+jwt)
		status, raw := resp.Status, resp.Body
		if status >= 500 {
			t.Errorf("%s: status %d: %s", what, status, raw)
			continue
		}
		var res pattest.GraphQLResult
		if err := json.Unmarshal(raw, &res); err != nil {
			if status < 400 {
				t.Errorf("%s: status %d with a body that is not a GraphQL answer: %s", what, status, raw)
			}
			continue
		}
		res.Status = status
		if len(res.Errors) == 0 {
			t.Errorf("%s: no error: %s", what, raw)
		}
		for _, e := range res.Errors {
			if e.Code() == "INTERNAL_SERVER_ERROR" {
				t.Errorf("%s: INTERNAL_SERVER_ERROR for a bad request: %s", what, raw)
			}
		}
	}
	if l := listAll(t, r, jwt); l.TotalCount != 0 {
		t.Fatalf("malformed requests created %d tokens", l.TotalCount)
	}
}

// quickBudget is how long a hostile query may take to be refused. It is not a
// speed goal (those are benchmarks) but a bound that work exponential in the
// query's size could never meet, with room for a loaded CI machine.
const quickBudget = 5 * time.Second

// refusedQuickly posts query and fails unless it is refused, without a 5xx,
// within quickBudget. A fixed server answers these in milliseconds; one that
// does work exponential or quadratic in the query burns seconds of CPU on
// each, which a few clients can repeat at will.
func refusedQuickly(t *testing.T, r *pattest.Replica, jwt, what, query string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 1<<20 {
		t.Fatalf("%s: %d bytes is over the body limit; the test must stay under it", what, len(body))
	}
	req, err := http.NewRequest(http.MethodPost, r.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+jwt)
	start := time.Now()
	resp, err := (&http.Client{Timeout: quickBudget}).Do(req)
	if err != nil {
		t.Fatalf("%s (%d bytes): no answer within %s: %v", what, len(body), quickBudget, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var res pattest.GraphQLResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("%s: status %d, body %.200s", what, resp.StatusCode, raw)
	}
	res.Status = resp.StatusCode
	wantRejected(t, what, res)
	t.Logf("%s (%d bytes): refused in %s with %s", what, len(body), time.Since(start), res.Errors[0].Code())
}

func TestHostileQueriesAreRefusedQuickly(t *testing.T) {
	t.Parallel()

	t.Run("fragment bomb", func(t *testing.T) {
		t.Parallel()
		r := startReplica(t)
		// F0 spreads F1 twice, F1 spreads F2 twice, …: under 1 KiB of query
		// that expands to 2^23 fields.
		const k = 23
		var b strings.Builder
		b.WriteString("query { ...F0 }\n")
		for i := range k {
			fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		}
		fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", k)
		refusedQuickly(t, r, r.JWT("user-bomb"), "fragment bomb", b.String())
	})

	t.Run("alias flood", func(t *testing.T) {
		t.Parallel()
		r := startReplica(t)
		// 25,000 distinct aliases of one cheap field, well under the body limit.
		var b strings.Builder
		b.WriteString("{ ")
		for i := range 25000 {
			fmt.Fprintf(&b, "a%d: __typename ", i)
		}
		b.WriteString("}")
		refusedQuickly(t, r, r.JWT("user-aliases"), "25000 aliases", b.String())
	})
}
