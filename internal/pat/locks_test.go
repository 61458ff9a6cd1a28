package pat_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
)

// A user named "cleanup" shares no lock with the cleanup job: while that
// user's tokens are being changed, expired tokens are still cleaned up, and
// the other way round.
func TestUserNamedCleanupDoesNotBlockCleanup(t *testing.T) {
	t.Parallel()
	r := pattest.Start(t, pattest.Config(t))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	for _, user := range []string{"cleanup", ":cleanup", "pat:cleanup"} {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := pat.LockUser(ctx, tx, user); err != nil {
			t.Fatal(err)
		}
		// Cleanup only tries its lock: it does not wait, so a shared lock
		// shows as a run that did not happen.
		_, ran, err := r.Server.Maintenance.Cleanup(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ran {
			t.Errorf("cleanup did not run while the tokens of user %q were locked: the two share a lock", user)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// The other way round: while a replica holds the cleanup lock, user
	// "cleanup" can still change their tokens. lock_timeout turns a wait for
	// the same lock into an error instead of a hang; a lock nobody else holds
	// is granted without waiting, so the timeout never matters when it passes.
	holder, err := pgx.Connect(ctx, r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if ok, err := db.New(holder).TryCleanupLock(ctx, pat.LockNamespaceCleanup); err != nil || !ok {
		t.Fatalf("take the cleanup lock: %v, %v", ok, err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '1s'"); err != nil {
		t.Fatal(err)
	}
	if err := pat.LockUser(ctx, tx, "cleanup"); err != nil {
		t.Errorf("user %q cannot take their lock while cleanup runs: %v", "cleanup", err)
	}
}
