package pat_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
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

// A short legacy token is shown, and stored, by at most a third of itself: a
// 16-character token whose first twelve were visible would be four characters
// from guessed.
func TestImportedShortTokenMaskShowsAThird(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	ctx := context.Background()
	secret := "0123456789abcdef"
	if n, _, err := r.Server.Maintenance.Import(ctx, []legacy.Token{{Line: 2, ID: "short-1", Name: "short", Secret: secret, UserID: "user-1"}}); err != nil || n != 1 {
		t.Fatalf("import: %d imported, %v", n, err)
	}
	resp := r.Do(http.MethodGet, "/api/tokens", nil, "Authorization: Bearer "+r.JWT("user-1"))
	var list struct {
		Tokens []struct {
			MaskedToken string `json:"maskedToken"`
		} `json:"tokens"`
	}
	resp.JSON(t, &list)
	if len(list.Tokens) != 1 {
		t.Fatalf("list: %s", resp)
	}
	shown := strings.TrimSuffix(list.Tokens[0].MaskedToken, "…")
	if !strings.HasPrefix(secret, shown) || 3*len(shown) > len(secret) {
		t.Errorf("maskedToken %q of a %d-character token shows more than a third of it", list.Tokens[0].MaskedToken, len(secret))
	}
	conn, err := pgx.Connect(ctx, r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var stored string
	if err := conn.QueryRow(ctx, "SELECT token_start FROM personal_access_tokens WHERE id = 'short-1'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if 3*len(stored) > len(secret) {
		t.Errorf("token_start %q stores more than a third of the token", stored)
	}
}
