package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/alternatefutures/patd/internal/pattest"
)

// Aliasing a field that costs a query many times over is refused before it
// runs, so one request cannot fan out into hundreds of SQL statements.
func TestAliasedRoundTripsAreCosted(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	jwt := r.JWT("user-fanout")
	var b strings.Builder
	b.WriteString("{ ")
	for i := range 300 {
		fmt.Fprintf(&b, "a%d: apiKeyRateLimit { remaining } ", i)
	}
	b.WriteString("}")
	before := r.Queries("")
	res := r.GraphQL(t, jwt, b.String(), nil)
	if code := res.Code(t); code != "COMPLEXITY_LIMIT_EXCEEDED" || res.Status >= 500 {
		t.Errorf("300 aliased apiKeyRateLimit: status %d code %s", res.Status, code)
	}
	if n := r.Queries("") - before; n != 0 {
		t.Errorf("the refused query still sent %d SQL statements", n)
	}
	// A handful is fine.
	r.GraphQL(t, jwt, `{ a: apiKeyRateLimit { remaining } b: apiKeyRateLimit { limit } }`, nil).OK(t)
}

// Entity representations are costed one by one: thousands of them cannot
// each run a token list query.
func TestEntityRepresentationsAreCosted(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	jwt := r.JWT("user-ents")
	reps := make([]map[string]any, 3000)
	for i := range reps {
		reps[i] = map[string]any{"__typename": "User", "id": "user-ents"}
	}
	q := `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { personalAccessTokens(first: 1) { totalCount } } } }`
	before := r.Queries("")
	res := r.GraphQL(t, jwt, q, map[string]any{"representations": reps, "r": reps})
	if code := res.Code(t); code != "COMPLEXITY_LIMIT_EXCEEDED" || res.Status >= 500 {
		t.Errorf("3000 representations: status %d code %s", res.Status, code)
	}
	if n := r.Queries("") - before; n != 0 {
		t.Errorf("the refused query sent %d SQL statements", n)
	}
	r.GraphQL(t, jwt, q, map[string]any{"r": reps[:3]}).OK(t)
}

// The metrics label comes from the schema, never from the client's operation name.
func TestOperationNamesDoNotBecomeLabels(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	for i := range 5 {
		r.GraphQL(t, "", fmt.Sprintf("query op_%d_af_live_SECRET { __typename }", i), nil).OK(t)
	}
	body := string(r.Do("GET", "/metrics", nil).Body)
	if strings.Contains(body, "SECRET") || strings.Contains(body, "op_") {
		t.Error("a client-chosen operation name reached /metrics")
	}
	if !strings.Contains(body, `patd_graphql_operations_total{operation="query __typename",outcome="ok"} 5`) {
		t.Error("operations not counted by root field")
	}
}
