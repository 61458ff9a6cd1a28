package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/pattest"
)

// A database that stops answering (here: a table locked by someone else)
// holds no request past the statement timeout: each gets an error answer,
// nothing hangs, and everything works again once the lock goes.
func TestSlowDatabaseIsBoundedByTheStatementTimeout(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.StatementTimeout = 300 * time.Millisecond
	r := pattest.Start(t, cfg)
	jwt := r.JWT("user-1")
	c := createVia(t, r, jwt, map[string]any{"name": "before"})

	ctx := context.Background()
	locker, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE personal_access_tokens IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	// The hang guard is pattest's client timeout (30 s): far above the
	// statement timeout, so only a request that waits on the lock trips it.
	resp := r.Do(http.MethodGet, "/tokens", nil, "Authorization: Bearer "+jwt)
	if resp.Status != http.StatusInternalServerError {
		t.Errorf("list while the table is locked: %s", resp)
	}
	if res := r.GraphQL(t, jwt, `{ personalAccessTokens { totalCount } }`, nil); len(res.Errors) == 0 {
		t.Errorf("GraphQL list while the table is locked answered: %s", res.Body)
	}
	if status, ans, _ := backendValidate(t, r, mintLike(t, "000000000000000000000000000042")); status != http.StatusServiceUnavailable || ans.Code != "UNAVAILABLE" {
		t.Errorf("an uncached token while the table is locked: %d %+v", status, ans)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if status, ans, _ := backendValidate(t, r, c.Token); status != http.StatusOK || !ans.Valid {
		t.Errorf("after the lock: %d %+v", status, ans)
	}
	// It was PostgreSQL that gave up, at the statement timeout, not the
	// request's own deadline (10 s).
	if !strings.Contains(strings.Join(r.Logs(), "\n"), "57014") {
		t.Error("no statement was cancelled by the statement timeout (SQLSTATE 57014)")
	}
}
