package main

import (
	"context"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/loadgen"
)

// listFloor loads PostgreSQL alone with the statement behind the GraphQL
// list row (sqlc's ListTokens, a page of 100 for a user chosen at random, as
// patd sends it), conns connections each in a closed loop, for warmup and
// then d. No patd, no HTTP: what it measures is the floor under the GraphQL
// row on this machine and table, which no server in front of the same schema
// can go below. Each user's page holds all their tokens, so patd sends this
// one statement per list (no count).
func (b *bench) listFloor(ctx context.Context, conns int, warmup, d time.Duration) (*loadgen.Result, error) {
	dbs := make([]*pgx.Conn, conns)
	defer func() {
		for _, c := range dbs {
			if c != nil {
				c.Close(context.Background())
			}
		}
	}()
	for i := range dbs {
		c, err := pgx.Connect(ctx, b.dbURL)
		if err != nil {
			return nil, err
		}
		dbs[i] = c
	}
	if warmup > 0 {
		if _, err := floorRun(ctx, dbs, b.opt.rows, warmup); err != nil {
			return nil, err
		}
	}
	return floorRun(ctx, dbs, b.opt.rows, d)
}

// floorRun runs the load for d. A statement is never cancelled half way
// (pgx would close its connection): each loop checks the time instead.
func floorRun(ctx context.Context, dbs []*pgx.Conn, tableRows int, d time.Duration) (*loadgen.Result, error) {
	results := make([]*loadgen.Result, len(dbs))
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i, c := range dbs {
		results[i] = loadgen.NewResult()
		wg.Go(func() {
			q, res := db.New(c), results[i]
			rng := mrand.New(mrand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for t0 := time.Now(); t0.Before(end) && ctx.Err() == nil; t0 = time.Now() {
				u := rng.IntN(benchUsers)
				rows, err := q.ListTokens(ctx, db.ListTokensParams{UserID: benchUser(u), MaxRows: 101})
				if err != nil {
					res.Errors++
					if res.FirstError == nil {
						res.FirstError = err
					}
					return // the connection may be gone
				}
				res.Requests++
				_ = res.Latency.RecordValue(int64(time.Since(t0)))
				if len(rows) != userTokens(u, tableRows) {
					res.Failed++
				}
			}
		})
	}
	wg.Wait()
	total := loadgen.NewResult()
	for _, r := range results {
		total.Merge(r)
	}
	total.Elapsed = time.Since(start)
	return total, ctx.Err()
}

// userTokens is how many rows a page of 100 holds for user u of a table of
// tableRows (seed gives row n to user n mod benchUsers).
func userTokens(u, tableRows int) int {
	n := tableRows / benchUsers
	if u < tableRows%benchUsers {
		n++
	}
	return min(n, 100)
}
