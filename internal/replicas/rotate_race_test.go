package replicas_test

import (
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

// A rotation that read the token just before another replica deleted it
// finds nothing left to retire: NOT_FOUND, as for a token that never was,
// not an internal error.
func TestRotateRacingDeleteIsNotFound(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	a, b := pattest.Start(t, cfg), pattest.Start(t, cfg)
	id, _ := a.CreateToken(t, "user-1", "ci", nil)
	// A reads the token, then waits while B deletes it.
	a.DelayAfter("-- name: GetToken :one", 500*time.Millisecond)
	done := make(chan pattest.GraphQLResult, 1)
	go func() {
		res, err := a.PostGraphQL("Bearer "+a.JWT("user-1"), `mutation($id: ID!) { rotatePersonalAccessToken(id: $id) { id } }`, map[string]any{"id": id})
		if err != nil {
			res.Status = 599 // the transport failed: not the answer wanted either
		}
		done <- res
	}()
	time.Sleep(200 * time.Millisecond)
	deleteToken(t, b, "user-1", id)
	res := <-done
	if res.Status >= 500 || len(res.Errors) != 1 || res.Errors[0].Code() != "NOT_FOUND" {
		t.Fatalf("rotate of a token deleted meanwhile: want NOT_FOUND, got %d %+v", res.Status, res.Errors)
	}
}
