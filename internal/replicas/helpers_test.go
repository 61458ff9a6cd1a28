package replicas_test

import (
	"net/http"
	"testing"

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
