package pat

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/metrics"
)

// Test hooks for the external tests of this package.

// LockUser takes userID's lock in tx as a create or a rotation does.
func LockUser(ctx context.Context, tx pgx.Tx, userID string) error {
	return lockUser(ctx, txQueries{db.New(tx), tx}, userID)
}

// SetBeforeCacheHook makes f run after every lookup, just before its answer
// is stored in the cache.
func (v *Validator) SetBeforeCacheHook(f func()) { v.beforeCache.Store(&f) }

// RevocationGeneration moves whenever cached answers are invalidated.
func (v *Validator) RevocationGeneration() uint64 { return v.cache.Generation() }

// InTx runs fn in a transaction on pool through the helper every operation
// of the package uses, retries included, counted in m.
func InTx(ctx context.Context, pool *pgxpool.Pool, m *metrics.Metrics, fn func(tx pgx.Tx) error) error {
	return newStore(pool, m).inPgxTx(ctx, fn)
}

// RecordUse notes a use of tokenID at at, as a valid validation does.
func (v *Validator) RecordUse(tokenID string, at time.Time) { v.usage.record(tokenID, at) }

// FlushLastUsedPaced flushes as RunLastUsedFlusher does, resting between
// batches.
func (v *Validator) FlushLastUsedPaced(ctx context.Context) error { return v.flushLastUsed(ctx, true) }

// FlushBatch is how many tokens one lastUsedAt statement writes at most.
const FlushBatch = flushBatch
