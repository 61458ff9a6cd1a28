package graph_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/alternatefutures/patd/internal/pattest"
)

// askGraphQL posts a query as a router would: authenticated by bearer ("" for
// none) and with any extra headers ("Name: value"). It returns the decoded
// answer and the raw response, whose headers some tests check. It is built
// on Replica.Do alone so that it does not depend on the other helpers.
func askGraphQL(t testing.TB, r *pattest.Replica, bearer, query string, vars map[string]any, headers ...string) (pattest.GraphQLResult, pattest.Response) {
	t.Helper()
	if bearer != "" {
		headers = append(headers, "Authorization: Bearer "+bearer)
	}
	resp := r.Do(http.MethodPost, "/graphql", map[string]any{"query": query, "variables": vars}, headers...)
	var res pattest.GraphQLResult
	if err := json.Unmarshal(resp.Body, &res); err != nil {
		t.Fatalf("status %d, body is not a GraphQL answer (%v): %s", resp.Status, err, resp.Body)
	}
	res.Status = resp.Status
	return res, resp
}
