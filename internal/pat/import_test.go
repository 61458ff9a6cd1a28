package pat_test

import (
	"context"
	"strings"
	"testing"

	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/pat"
)

// Re-running an import must not bring back a token its owner deleted since.
func TestImportDoesNotResurrectDeletedTokens(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	ctx := context.Background()
	secret := "af_live_" + strings.Repeat("k", 32)
	rows := []legacy.Token{
		{Line: 2, ID: "old-1", Name: "kept", Secret: secret, UserID: "user-1"},
		{Line: 3, ID: "old-2", Name: "deleted", Secret: "legacy-secret-two", UserID: "user-1"},
	}
	if n, skipped, err := r.Server.Maintenance.Import(ctx, rows); err != nil || n != 2 || skipped != 0 {
		t.Fatalf("first import: %d imported, %d skipped, %v", n, skipped, err)
	}
	// Replicas learn of imports every few seconds; this one, now.
	if err := r.Server.Validator.RefreshImported(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Server.Tokens.Delete(ctx, session("user-1"), "old-2"); err != nil {
		t.Fatal(err)
	}
	n, skipped, err := r.Server.Maintenance.Import(ctx, rows)
	if err != nil || n != 0 || skipped != 2 {
		t.Fatalf("second import: %d imported, %d skipped, %v; want 0 and 2", n, skipped, err)
	}
	if v := mustValidate(t, r, "legacy-secret-two"); v.Outcome != pat.OutcomeNotFound {
		t.Errorf("the deleted token validates as %s after a re-import, want NOT_FOUND", v.Outcome)
	}
	if v := mustValidate(t, r, secret); v.Outcome != pat.OutcomeValid {
		t.Errorf("the kept token: %s", v.Outcome)
	}
}
