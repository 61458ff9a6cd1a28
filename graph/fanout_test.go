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
	res := r.GraphQL(jwt, b.String(), nil)
	if code := res.Code(t); code != "COMPLEXITY_LIMIT_EXCEEDED" || res.Status >= 500 {
		t.Errorf("300 aliased apiKeyRateLimit: status %d code %s", res.Status, code)
	}
	if n := r.Queries("") - before; n != 0 {
		t.Errorf("the refused query still sent %d SQL statements", n)
	}
	// A handful is fine.
	r.GraphQL(jwt, `{ a: apiKeyRateLimit { remaining } b: apiKeyRateLimit { limit } }`, nil).OK(t)
}
