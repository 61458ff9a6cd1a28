package graph_test

import (
	"testing"

	"github.com/alternatefutures/patd/internal/pattest"
)

const createMutation = `mutation($name: String!, $exp: Date) {
  createPersonalAccessToken(name: $name, expiresAt: $exp) { id name token maskedToken expiresAt lastUsedAt createdAt updatedAt }
}`

type created struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Token       string  `json:"token"`
	MaskedToken string  `json:"maskedToken"`
	ExpiresAt   *string `json:"expiresAt"`
	CreatedAt   string  `json:"createdAt"`
}

func create(t *testing.T, r *pattest.Replica, bearer, name string) created {
	t.Helper()
	var out struct {
		C created `json:"createPersonalAccessToken"`
	}
	r.GraphQL(bearer, createMutation, map[string]any{"name": name}).OK(t).Decode(t, &out)
	return out.C
}

func TestSmoke(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	jwt := r.JWT("u1")
	c := create(t, r, jwt, "laptop")
	t.Logf("%+v", c)
	res := r.GraphQL(jwt, `{ personalAccessTokens { totalCount data { id name maskedToken user { id } } pageInfo { hasNextPage endCursor } } apiKeyRateLimit { remaining limit resetAt activeTokens maxActiveTokens } }`, nil).OK(t)
	t.Logf("%s", res.Data)
	res = r.GraphQL("", `{ _service { sdl } }`, nil).OK(t)
	t.Logf("%s", res.Data)
}
