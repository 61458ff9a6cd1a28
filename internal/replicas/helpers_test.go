package replicas_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

var secretHeader = "Authorization: Bearer " + pattest.ServiceSecret

// answer is the part of a /validate answer these tests read.
type answer struct {
	Valid bool   `json:"valid"`
	Code  string `json:"code"`
}

// restList is the body of GET /api/tokens.
type restList struct {
	Tokens []map[string]any `json:"tokens"`
}

// createToken creates a token for user over GraphQL and returns its id and secret.
func createToken(t *testing.T, r *pattest.Replica, user, name string, expiresAt *time.Time) (id, secret string) {
	t.Helper()
	vars := map[string]any{"name": name}
	if expiresAt != nil {
		vars["exp"] = expiresAt.UTC().Format(time.RFC3339Nano)
	}
	var out struct {
		C struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		} `json:"createPersonalAccessToken"`
	}
	r.GraphQL(t, r.JWT(user), `mutation($name: String!, $exp: Date) { createPersonalAccessToken(name: $name, expiresAt: $exp) { id token } }`, vars).OK(t).Decode(t, &out)
	return out.C.ID, out.C.Token
}

func validate(t *testing.T, r *pattest.Replica, tok string) (pattest.Response, answer) {
	t.Helper()
	resp := r.Do(http.MethodPost, "/validate", map[string]string{"token": tok}, secretHeader)
	var a answer
	resp.JSON(t, &a)
	return resp, a
}

// refused reports whether tok now validates as NOT_FOUND.
func refused(t *testing.T, r *pattest.Replica, tok string) bool {
	t.Helper()
	resp, a := validate(t, r, tok)
	return resp.Status == http.StatusUnauthorized && a.Code == "NOT_FOUND"
}

func deleteToken(t *testing.T, r *pattest.Replica, user, id string) {
	t.Helper()
	r.GraphQL(t, r.JWT(user), `mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`, map[string]any{"id": id}).OK(t)
}
