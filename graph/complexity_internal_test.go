package graph

import (
	"testing"

	"github.com/alternatefutures/patd/internal/pat"
)

// A list is priced at the page its resolver reads (without first, the
// security log's default page, not the token list's) and at two round trips:
// the page, and its total when the page does not tell it.
func TestListsArePricedAtTheirResolversPage(t *testing.T) {
	var c ComplexityRoot
	priceFields(&c)
	first := func(n int) *int { return &n }
	for _, tt := range []struct {
		name string
		cost func(child int, first *int, after *string) int
		want int // pages of one child each
		args *int
	}{
		{"personalAccessTokens", c.Query.PersonalAccessTokens, pat.DefaultPageSize, nil},
		{"User.personalAccessTokens", c.User.PersonalAccessTokens, pat.DefaultPageSize, nil},
		{"personalAccessTokenEvents", c.Query.PersonalAccessTokenEvents, pat.DefaultLogPageSize, nil},
		{"personalAccessTokenEvents(first: 7)", c.Query.PersonalAccessTokenEvents, 7, first(7)},
		{"personalAccessTokens(first: 0)", c.Query.PersonalAccessTokens, 1, first(0)},
		{"personalAccessTokens(first: 10000)", c.Query.PersonalAccessTokens, pat.MaxPageSize, first(10000)},
	} {
		if got, want := tt.cost(2, tt.args, nil), 2*roundTripCost+2*tt.want; got != want {
			t.Errorf("%s costs %d, want %d", tt.name, got, want)
		}
	}
}
