package pat_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
)

// A revocation notice handled after a lookup has read its row, but before
// the answer is stored, must keep that answer out of the cache: otherwise
// the revoked token validates on that replica for the whole cache TTL.
func TestRevocationJustBeforeStoreIsNotCached(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour
	a, b := pattest.Start(t, cfg), pattest.Start(t, cfg)
	ctx := context.Background()
	p := auth.Principal{UserID: "user-1", Method: auth.Session}
	c, err := a.Server.Tokens.Create(ctx, p, pat.NewToken{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}

	var once sync.Once
	b.Server.Validator.SetBeforeCacheHook(func() {
		once.Do(func() {
			gen := b.Server.Validator.RevocationGeneration()
			if err := a.Server.Tokens.Delete(ctx, p, c.ID); err != nil {
				t.Error(err)
				return
			}
			// Hold the store back until B's listener has handled the notice.
			deadline := time.Now().Add(5 * time.Second)
			for b.Server.Validator.RevocationGeneration() == gen {
				if time.Now().After(deadline) {
					t.Error("B never heard the revocation")
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	})
	// This lookup reads the row before the delete; its answer may be VALID,
	// but it must not be kept.
	if _, err := b.Server.Validator.Validate(ctx, c.Secret); err != nil {
		t.Fatal(err)
	}
	v, err := b.Server.Validator.Validate(ctx, c.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if v.Outcome != pat.OutcomeNotFound {
		t.Fatalf("B validates the token revoked while its lookup was storing: %s, want NOT_FOUND", v.Outcome)
	}
}
