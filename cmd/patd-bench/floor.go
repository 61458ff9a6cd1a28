package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/database"
	"github.com/alternatefutures/patd/internal/loadgen"
)

// listFloor loads PostgreSQL alone with the statement behind the GraphQL
// list row (sqlc's ListTokens, a page of 100 for a user chosen at random, as
// patd sends it): callers in a closed loop, as many as the patd row has
// connections, sharing a pool opened as patd opens its own (same size), for
// warmup and then d. No patd, no HTTP, no GraphQL: what patd adds to a list
// is the patd row's figures over these. With more than a page per user
// (-rows above 1,000,000) patd also counts the user's tokens; this does not.
func (b *bench) listFloor(ctx context.Context, callers int, warmup, d time.Duration) (*loadgen.Result, error) {
	pool, err := database.Open(ctx, b.withPool(b.dbURL), nil)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if warmup > 0 {
		if _, err := b.floorRun(ctx, pool, callers, warmup); err != nil {
			return nil, err
		}
	}
	return b.floorRun(ctx, pool, callers, d)
}

// floorRun runs the load for d; a caller stops at its first error, which
// fails the run.
func (b *bench) floorRun(ctx context.Context, pool *pgxpool.Pool, callers int, d time.Duration) (*loadgen.Result, error) {
	q := db.New(pool)
	start := time.Now()
	end := start.Add(d)
	total := loadgen.Fan(callers, func(i int, res *loadgen.Result) {
		rng := mrand.New(mrand.NewPCG(uint64(i), uint64(start.UnixNano())))
		// The time bounds the run, not ctx, so that no statement is
		// cancelled half way at its end.
		for t0 := time.Now(); t0.Before(end) && ctx.Err() == nil; t0 = time.Now() {
			u := rng.IntN(benchUsers)
			rows, err := q.ListTokens(ctx, db.ListTokensParams{UserID: benchUser(u), MaxRows: 101})
			if err != nil {
				res.Fail(err)
				return
			}
			res.Record(time.Since(t0), len(rows) == b.userTokens(u))
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if total.Errors > 0 {
		return nil, fmt.Errorf("%d of %d callers failed, the first with: %w", total.Errors, callers, total.FirstError)
	}
	return total, nil
}

// userTokens is how many rows ListTokens, limited to 101 (a page of 100 and
// one more to tell whether a next page follows), returns for user u (seed
// gives row n to user n mod benchUsers).
func (b *bench) userTokens(u int) int {
	n := b.opt.rows / benchUsers
	if u < b.opt.rows%benchUsers {
		n++
	}
	return min(n, 101)
}
