package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
)

// Moved from internal/httpapi: uses not yet written when the replica is told
// to stop are written by Serve once the last request has finished, not lost
// with the process.
func TestShutdownFlushesLastUsedAt(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	r := pattest.Start(t, cfg)
	ctx := context.Background()
	user := auth.Principal{UserID: "user-1", Method: auth.Session}
	c, err := r.Server.Tokens.Create(ctx, user, pat.NewToken{Name: "one"})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Truncate(time.Microsecond)
	if v, err := r.Server.Validator.Validate(ctx, c.Secret); err != nil || v.Outcome != pat.OutcomeValid {
		t.Fatalf("validate: %+v, %v", v, err)
	}
	r.Stop()

	r2 := pattest.Start(t, cfg)
	got, err := r2.Server.Tokens.Get(ctx, user, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil || got.LastUsedAt.Before(before) {
		t.Errorf("lastUsedAt not written at shutdown: %v, want the use after %s", got.LastUsedAt, before)
	}
}
