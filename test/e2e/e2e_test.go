// Package e2e runs patd behind a real gateway: e2e.mjs starts Apollo Gateway
// in Apollo Server, composing patd's live subgraph with a users subgraph,
// and uses patd only through it. `make test` installs its npm packages
// (pinned in package-lock.json); node is required, never skipped.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

// The limits e2e.mjs runs into; small, so that reaching them is quick.
const (
	maxActive   = 2
	createLimit = 4
)

// requiredChecks are the checks e2e.mjs must run and pass: a check it stops
// running fails this test as surely as one that fails.
var requiredChecks = []string{
	"create",
	"list with user { id name } from the users subgraph",
	"me { personalAccessTokens } through _entities",
	"rotate",
	"delete",
	"approveCliLogin",
	"personalAccessTokenEvents",
	"UNAUTHENTICATED",
	"FORBIDDEN",
	"NOT_FOUND",
	"BAD_USER_INPUT with reason",
	"MAX_TOKENS_EXCEEDED with maxActiveTokens",
	"RATE_LIMIT_EXCEEDED with resetAt and retryAfterSeconds",
}

// node returns the node binary, failing (not skipping) when it or the
// gateway's packages are missing.
func node(t *testing.T) string {
	t.Helper()
	return pattest.RequireNode(t, ".", "e2e-deps")
}

type result struct {
	Passed       []string `json:"passed"`
	Failed       []string `json:"failed"`
	ComposeError string   `json:"composeError"`
}

// runE2E runs e2e.mjs against the patd at patdURL and returns its exit
// status, its output and the result it reported.
func runE2E(t *testing.T, r *pattest.Replica, patdURL string) (int, string, result) {
	t.Helper()
	exe := node(t)
	jwts, _ := json.Marshal(map[string]string{
		"a": r.JWT("user-a"), "b": r.JWT("user-b"), "m": r.JWT("user-m"), "r": r.JWT("user-r"),
	})
	limits, _ := json.Marshal(map[string]int{"maxActive": maxActive, "createLimit": createLimit})
	// A bound on a hung gateway, not a measure: the run takes seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "e2e.mjs")
	cmd.Env = append(os.Environ(), "PATD_URL="+patdURL, "E2E_JWTS="+string(jwts), "E2E_LIMITS="+string(limits))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("e2e.mjs did not finish:\n%s", out)
	}
	status := 0
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("run e2e.mjs: %v\n%s", err, out)
		}
		status = exit.ExitCode()
	}
	var res result
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "E2E_RESULT "); ok {
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				t.Fatalf("unreadable E2E_RESULT %q: %v", rest, err)
			}
		}
	}
	return status, string(out), res
}

func startPatd(t *testing.T) *pattest.Replica {
	t.Helper()
	cfg := pattest.Config(t)
	cfg.MaxActive = maxActive
	cfg.CreateLimit = createLimit
	return pattest.Start(t, cfg)
}

// Through Apollo Gateway: create, list with the users subgraph's fields,
// me { personalAccessTokens }, rotate, delete, approveCliLogin, the security
// log, and every error code with its extensions.
func TestThroughGateway(t *testing.T) {
	t.Parallel()
	node(t) // before starting a replica: fail fast
	r := startPatd(t)
	status, out, res := runE2E(t, r, r.URL)
	t.Logf("e2e.mjs:\n%s", out)
	if status != 0 || len(res.Failed) > 0 {
		t.Fatalf("e2e.mjs exited %d; failed checks: %v", status, res.Failed)
	}
	for _, want := range requiredChecks {
		found := false
		for _, p := range res.Passed {
			found = found || p == want
		}
		if !found {
			t.Errorf("check %q did not run (passed: %v)", want, res.Passed)
		}
	}
	// The gateway forwarded Authorization: patd saw the users' changes.
	if n := r.Queries("-- name: InsertToken "); n < 1+1+1+maxActive+createLimit {
		t.Errorf("patd inserted %d tokens, fewer than the script created", n)
	}
}

// sdlProxy stands in front of patd and answers the gateway's
// `_service { sdl }` with sdl; everything else goes to patd.
func sdlProxy(t *testing.T, patdURL, sdl string) string {
	t.Helper()
	target, err := url.Parse(patdURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if bytes.Contains(body, []byte("_service")) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"_service": map[string]any{"sdl": sdl}}})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The same gateway, fed patd's live SDL broken on purpose, refuses to start:
// the suite fails when patd's SDL breaks composition.
func TestBrokenSDLStopsTheGateway(t *testing.T) {
	t.Parallel()
	node(t)
	r := startPatd(t)
	sdl := r.SDL(t)
	const userKey = `type User @key(fields: "id") {`
	for _, tc := range []struct{ name, from, to, want string }{
		{"User.id type conflicts with the users subgraph", userKey + "\n  id: ID!", userKey + "\n  id: Int!", `"User.id"`},
		{"User without @key is a value type the users subgraph does not share", userKey, "type User {", "User"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if strings.Count(sdl, tc.from) != 1 {
				t.Fatalf("want one %q in patd's SDL, got %d: update the variant:\n%s", tc.from, strings.Count(sdl, tc.from), sdl)
			}
			broken := strings.Replace(sdl, tc.from, tc.to, 1)
			status, out, res := runE2E(t, r, sdlProxy(t, r.URL, broken))
			if status != 3 || len(res.Passed) != 0 {
				t.Fatalf("want exit status 3 (composition failed) and no check run, got %d, passed %v:\n%s", status, res.Passed, out)
			}
			if !strings.Contains(res.ComposeError, "composed") || !strings.Contains(out, tc.want) {
				t.Fatalf("the gateway's error does not say what broke (want %q):\n%s", tc.want, out)
			}
			t.Logf("the gateway refused the broken SDL:\n%s", out)
		})
	}
}
