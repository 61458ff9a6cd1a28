package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/pattest"
)

// rawPost sends body to path with the given Content-Type and headers
// ("Name: value") and returns the answer.
func rawPost(t *testing.T, r *pattest.Replica, method, path, contentType, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Every GraphQL answer, a fresh token's above all, is no-store, so no cache
// between patd and the client keeps it; every JSON answer is nosniff, so no
// browser reads one as anything else; and every GraphQL answer, errors about
// the request itself included, says it is JSON.
func TestGraphQLAnswerHeaders(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := "Authorization: Bearer " + r.JWT("user-headers")
	create, _ := json.Marshal(map[string]any{"query": createMutation, "variables": createVars("fresh", nil)})
	for _, tc := range []struct {
		name, method, contentType, body string
		status                          int
	}{
		{"create", "POST", "application/json", string(create), http.StatusOK},
		{"query", "POST", "application/json", `{"query":"{ __typename }"}`, http.StatusOK},
		{"undecodable body", "POST", "application/json", `{"query":`, http.StatusBadRequest},
		{"unparsable query", "POST", "application/json", `{"query":"{"}`, http.StatusUnprocessableEntity},
		{"transport not supported", "POST", "text/plain", `{"query":"{ __typename }"}`, http.StatusBadRequest},
		{"GET in production", "GET", "", "", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawPost(t, r, tc.method, "/graphql", tc.contentType, tc.body, jwt)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if got := resp.Header.Values("Content-Type"); len(got) != 1 || !strings.HasPrefix(got[0], "application/json") {
				t.Errorf("Content-Type %q, want application/json", got)
			}
			if !json.Valid(body) {
				t.Errorf("body is not JSON: %s", body)
			}
		})
	}
	// The REST answers are JSON too, and nosniff.
	for _, path := range []string{"/healthz", "/readyz", "/api/tokens"} {
		resp, body := rawPost(t, r, "GET", path, "", "", jwt)
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %d, Content-Type %q, X-Content-Type-Options %q: %s", path, resp.StatusCode,
				resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"), body)
		}
	}
	resp, body := rawPost(t, r, "POST", "/validate", "application/json", `{"token":"x"}`, "Authorization: Bearer "+pattest.ServiceSecret)
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("POST /validate: X-Content-Type-Options %q: %s", resp.Header.Get("X-Content-Type-Options"), body)
	}
}

// position finds a query position written into a message, as gqlerror's
// Error() does ("input:1:72: …").
var position = regexp.MustCompile(`input:\d|\d+:\d+:`)

// Error messages carry no query positions (those are in "locations"), never
// echo the request body, and in production suggest no field names: with
// introspection off, "Did you mean" would hand the schema out one guess at a
// time.
func TestGraphQLErrorMessages(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	owner := r.JWT("user-messages")
	pat := mustCreate(t, r, owner, "pat").Token

	// FORBIDDEN: a PAT may not create.
	res := r.GraphQL(t, pat, `mutation { createPersonalAccessToken(name: "more") { id } }`, nil)
	e := wantError(t, res, "FORBIDDEN")
	if position.MatchString(e.Message) {
		t.Errorf("FORBIDDEN message carries a query position: %q", e.Message)
	}

	const marker = "BODY-MARKER-0123456789"
	for _, body := range []string{
		`{"query": "{ __typename }", "` + marker,
		`{"query": 12, "variables": "` + marker + `"}`,
		`["` + marker + `"]`,
		marker,
	} {
		resp, raw := rawPost(t, r, "POST", "/graphql", "application/json", body)
		if bytes.Contains(raw, []byte(marker)) || bytes.Contains(raw, []byte("MARKER")) {
			t.Errorf("body %q echoed back: %d %s", body, resp.StatusCode, raw)
		}
		var out pattest.GraphQLResult
		if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) == 0 || out.Errors[0].Code() == "INTERNAL_SERVER_ERROR" {
			t.Errorf("body %q: %d %s", body, resp.StatusCode, raw)
		}
	}

	suggestive := []string{
		`{ personalAccessTokens { data { nam } } }`,              // field
		`{ personalAccessTokens(fist: 1) { totalCount } }`,       // argument
		`query($e: Dat) { personalAccessToken(id: "x") { id } }`, // type
		`{ personalAccessTokens { totalCount pageInfo } }`,       // selection of subfields
		`{ personalAccessTokens { data { user { personalAccessToken } } } }`,
	}
	for _, q := range suggestive {
		res := r.GraphQL(t, owner, q, nil)
		if len(res.Errors) == 0 {
			t.Errorf("%s: no error", q)
		}
		for _, e := range res.Errors {
			if strings.Contains(e.Message, "Did you mean") || strings.Contains(e.Message, "did you mean") {
				t.Errorf("%s: production suggests: %q", q, e.Message)
			}
			if position.MatchString(e.Message) {
				t.Errorf("%s: message carries a position: %q", q, e.Message)
			}
		}
	}

	// Development keeps the suggestions: they help whoever writes a query.
	dev := startReplica(t, func(c *config.Config) { c.Env = config.Development })
	res = dev.GraphQL(t, dev.JWT("u"), suggestive[0], nil)
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, `Did you mean "name"`) {
		t.Errorf("development: %+v", res.Errors)
	}
}
