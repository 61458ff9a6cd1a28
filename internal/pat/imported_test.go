package pat_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/alternatefutures/patd/internal/database"
	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/pat"
)

// A string that is neither patd's checksummed form nor an imported token
// costs no query, however many of them arrive; imported legacy tokens, even
// short ones, still validate.
func TestOnlyImportedLegacyTokensAreLookedUp(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	ctx := context.Background()
	if _, _, err := r.Server.Maintenance.Import(ctx, []legacy.Token{
		{Line: 2, ID: "old-1", Name: "old", Secret: "abc", UserID: "user-1"},
		{Line: 3, ID: "old-2", Name: "old", Secret: "af_live_" + "0123456789abcdefghij0123456789ab", UserID: "user-1"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.Server.Validator.RefreshImported(ctx); err != nil {
		t.Fatal(err)
	}
	before := r.Queries("token_hash =")
	for range 500 {
		var b [16]byte
		_, _ = rand.Read(b[:])
		if v := mustValidate(t, r, "af_"+hex.EncodeToString(b[:])); v.Outcome != pat.OutcomeNotFound {
			t.Fatalf("a random legacy-shaped string: %s", v.Outcome)
		}
	}
	if n := r.Queries("token_hash =") - before; n != 0 {
		t.Errorf("500 random strings cost %d lookups, want 0", n)
	}
	for _, tok := range []string{"abc", "af_live_0123456789abcdefghij0123456789ab"} {
		if v := mustValidate(t, r, tok); v.Outcome != pat.OutcomeValid || v.UserID != "user-1" {
			t.Errorf("imported %q: %s", tok, v.Outcome)
		}
	}
}

// Imports made elsewhere (patd import, another process) reach a running
// replica's filter at its next refresh.
func TestImportsReachRunningReplicas(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	ctx := context.Background()
	if err := r.Server.Validator.RefreshImported(ctx); err != nil {
		t.Fatal(err)
	}
	if v := mustValidate(t, r, "legacy-later"); v.Outcome != pat.OutcomeNotFound {
		t.Fatalf("before the import: %s", v.Outcome)
	}
	pool, err := database.Open(ctx, r.Config.DatabaseURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	other := pat.NewMaintenance(pool, nil)
	if _, _, err := other.Import(ctx, []legacy.Token{{Line: 2, ID: "later", Secret: "legacy-later", UserID: "user-2"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Server.Validator.RefreshImported(ctx); err != nil {
		t.Fatal(err)
	}
	if v := mustValidate(t, r, "legacy-later"); v.Outcome != pat.OutcomeValid {
		t.Errorf("after the refresh: %s", v.Outcome)
	}
}
