package graph_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

// composeScript composes patd's SDL (stdin) with test/federation/users.graphql,
// a subgraph that owns `User @key(fields: "id")`. Tests run in graph/.
const composeScript = "../test/federation/compose.mjs"

// serviceSDL starts a real replica and returns its `_service { sdl }`, the
// document the router's composition gets.
func serviceSDL(t *testing.T) string {
	t.Helper()
	return pattest.Start(t, pattest.Config(t)).SDL(t)
}

// requireNode fails (CI must not silently skip composition) when node or the
// test/federation dependencies are missing.
func requireNode(t *testing.T) string {
	t.Helper()
	return pattest.RequireNode(t, filepath.Join("..", "test", "federation"), "federation-deps")
}

// compose runs compose.mjs with sdl on stdin and returns node's combined
// output and its error (nil: exit status 0).
func compose(t *testing.T, sdl string, args ...string) (string, error) {
	t.Helper()
	node := requireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{composeScript}, args...)...)
	cmd.Stdin = strings.NewReader(sdl)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("node %s timed out: %s", composeScript, out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run node %s: %v: %s", composeScript, err, out)
	}
	return string(out), err
}

func TestFederationSDLComposesWithUsersSubgraph(t *testing.T) {
	t.Parallel()
	requireNode(t) // before starting a replica: fail fast
	sdl := serviceSDL(t)

	for _, want := range []string{
		`@link(url: "https://specs.apollo.dev/federation/v2.7"`,
		`type PersonalAccessToken @key(fields: "id")`,
		`type User @key(fields: "id")`,
	} {
		if !strings.Contains(sdl, want) {
			t.Errorf("SDL lacks %q", want)
		}
	}
	// gqlgen's federation plumbing must not leak into the subgraph SDL: the
	// router adds _entities/_service itself and knows the federation directives
	// from @link.
	for _, leak := range []string{
		"@entityResolver", "_Entity", "_Service", "_Any", "_entities", "_service",
		"FieldSet", "federation__", "link__",
		"directive @key", "directive @link", "directive @entityResolver",
		"@goField", "@goModel", "@goTag",
	} {
		if strings.Contains(sdl, leak) {
			t.Errorf("SDL leaks gqlgen internals: contains %q", leak)
		}
	}
	if t.Failed() {
		t.Logf("SDL:\n%s", sdl)
	}

	out, err := compose(t, sdl, "--print-supergraph")
	if err != nil {
		t.Fatalf("patd's SDL does not compose with the users subgraph (%v):\n%s\nSDL:\n%s", err, out, sdl)
	}
	t.Logf("node %s:\n%s", composeScript, out)
}

// The composition check must be able to fail: variants of patd's real SDL
// that a router would reject, or that lose what patd contributes.
func TestFederationBrokenSDLFailsComposition(t *testing.T) {
	t.Parallel()
	requireNode(t)
	sdl := serviceSDL(t)

	const userKey = `type User @key(fields: "id") {`
	userBlock := func() string {
		i := strings.Index(sdl, userKey)
		if i < 0 {
			t.Fatalf("SDL lacks %q:\n%s", userKey, sdl)
		}
		j := strings.Index(sdl[i:], "\n}")
		if j < 0 {
			t.Fatalf("unterminated User type in SDL:\n%s", sdl)
		}
		return sdl[i : i+j+2]
	}()

	for _, tc := range []struct {
		name, from, to string
		want           string // in node's output
	}{
		{
			name: "User.id type conflicts with the users subgraph",
			from: userKey + "\n  id: ID!", to: userKey + "\n  id: Int!",
			want: "FIELD_TYPE_MISMATCH",
		},
		{
			name: "User without @key is a non-shareable value type",
			from: userKey, to: "type User {",
			want: "INVALID_FIELD_SHARING",
		},
		{
			name: "User loses personalAccessTokens",
			from: userBlock, to: userKey + "\n  id: ID!\n}",
			want: "User.personalAccessTokens is missing",
		},
		{
			name: "Query loses apiKeyRateLimit",
			from: "\n  apiKeyRateLimit: ApiKeyRateLimit!\n", to: "\n",
			want: "Query.apiKeyRateLimit is missing",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if strings.Count(sdl, tc.from) != 1 {
				t.Fatalf("want exactly one %q in the SDL, got %d: the variant no longer applies, update it:\n%s", tc.from, strings.Count(sdl, tc.from), sdl)
			}
			broken := strings.Replace(sdl, tc.from, tc.to, 1)
			out, err := compose(t, broken)
			if err == nil {
				t.Fatalf("broken SDL composed; compose.mjs cannot fail:\n%s\nSDL:\n%s", out, broken)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("compose.mjs failed (%v) but its output lacks %q:\n%s", err, tc.want, out)
			}
			t.Logf("failed as expected (%v):\n%s", err, out)
		})
	}
}
