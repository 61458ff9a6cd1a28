package pat_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/pattest"
)

// Re-running an import must not bring back a token its owner deleted since.
func TestImportDoesNotResurrectDeletedTokens(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	ctx := context.Background()
	secret := "af_live_" + strings.Repeat("k", 32)
	rows := []legacy.Token{
		{Line: 2, ID: "old-1", Name: "kept", Secret: secret, UserID: "user-1"},
		{Line: 3, ID: "old-2", Name: "deleted", Secret: "legacy-secret-two", UserID: "user-1"},
	}
	if n, skipped, err := r.Server.Maintenance.Import(ctx, rows); err != nil || n != 2 || skipped != 0 {
		t.Fatalf("first import: %d imported, %d skipped, %v", n, skipped, err)
	}
	resp := r.Do(http.MethodDelete, "/api/tokens/old-2", nil, "Authorization: Bearer "+r.JWT("user-1"))
	if resp.Status != http.StatusOK {
		t.Fatal(resp)
	}
	n, skipped, err := r.Server.Maintenance.Import(ctx, rows)
	if err != nil || n != 0 || skipped != 2 {
		t.Fatalf("second import: %d imported, %d skipped, %v; want 0 and 2", n, skipped, err)
	}
	resp = r.Do(http.MethodPost, "/validate", map[string]string{"token": "legacy-secret-two"}, "Authorization: Bearer "+pattest.ServiceSecret)
	if resp.Status != http.StatusUnauthorized {
		t.Errorf("the deleted token validates again after a re-import: %s", resp)
	}
	resp = r.Do(http.MethodPost, "/validate", map[string]string{"token": secret}, "Authorization: Bearer "+pattest.ServiceSecret)
	if resp.Status != http.StatusOK {
		t.Errorf("the kept token: %s", resp)
	}
}
