package pat_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/config"
)

// One user firing many writes at once must not take the pool from everyone
// else: on one replica, at most one of a user's write transactions holds a
// connection; the others wait without one, so no connection ever waits on
// the user's advisory lock, and another user's list goes through meanwhile.
func TestOneUsersWritesDoNotHoldThePool(t *testing.T) {
	t.Parallel()
	r := startReplica(t, func(c *config.Config) { c.CreateLimit, c.MaxActive = 1000, 1000 })
	ctx := context.Background()
	ids := make([]string, 32)
	for i := range ids {
		ids[i] = mustCreate(t, r, "busy", "t", nil).ID
	}
	mustCreate(t, r, "quiet", "mine", nil)

	watch, err := pgx.Connect(ctx, r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	var (
		wg          sync.WaitGroup
		waitingMost atomic.Int64
		stop        = make(chan struct{})
	)
	wg.Add(1)
	go func() { // samples the sessions waiting for an advisory lock
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int64
			if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&n); err == nil && n > waitingMost.Load() {
				waitingMost.Store(n)
			}
		}
	}()
	var writers sync.WaitGroup
	var failed atomic.Int32
	for _, id := range ids {
		writers.Add(1)
		go func() {
			defer writers.Done()
			if _, err := r.Server.Tokens.Rotate(ctx, session("busy"), id, nil, 3600); err != nil {
				failed.Add(1)
			}
		}()
	}
	// Meanwhile another user's read is answered.
	if got := stored(t, r, "quiet"); len(got) != 1 {
		t.Errorf("the other user's list: %d tokens", len(got))
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of 32 concurrent rotations failed", n)
	}
	if n := waitingMost.Load(); n != 0 {
		t.Errorf("up to %d connections waited on a user's advisory lock at once; want none", n)
	}
}
