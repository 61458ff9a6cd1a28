package pat

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alternatefutures/patd/db"
)

// Maintenance is what operators run on the token store: expired-token
// cleanup (also hourly in every replica) and the import of the old backend's
// tokens.
type Maintenance struct {
	store
	log *slog.Logger
}

// NewMaintenance returns the maintenance operations on the tokens in pool.
func NewMaintenance(pool *pgxpool.Pool, log *slog.Logger) *Maintenance {
	return &Maintenance{store: newStore(pool, nil), log: log}
}

// SetOutbox makes the cleanup tell of the tokens it deletes (token.revoked,
// reason expired) and lets NotifyExpiring run.
func (m *Maintenance) SetOutbox(o Outbox) { m.outbox = o }

// cleanupBatch is how many expired tokens one cleanup transaction deletes, so
// that no transaction holds many row locks for long.
const cleanupBatch = 1000

// Cleanup deletes every expired token, in batches, with an audit event for
// each, and expired CLI login sessions. Only one replica cleans up at a time:
// when another holds the cleanup lock, Cleanup returns (0, false, nil) at once.
func (m *Maintenance) Cleanup(ctx context.Context) (deleted int, ran bool, err error) {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("cleanup: %w", err)
	}
	defer conn.Release()
	q := db.New(conn)
	locked, err := q.TryCleanupLock(ctx, LockNamespaceCleanup)
	if err != nil || !locked {
		return 0, false, err
	}
	defer func() {
		if uerr := q.CleanupUnlock(context.WithoutCancel(ctx), LockNamespaceCleanup); uerr != nil {
			// The session lock dies with the connection; make sure it does.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		var n int
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			q := txQueries{q.WithTx(tx), tx}
			rows, err := q.DeleteExpiredTokens(ctx, db.DeleteExpiredTokensParams{Now: time.Now(), BatchSize: cleanupBatch})
			if err != nil || len(rows) == 0 {
				return err
			}
			n = len(rows)
			ids, users := make([]string, n), make([]string, n)
			for i, r := range rows {
				ids[i], users[i] = r.ID, r.UserID
			}
			// Expired tokens already fail validation, cached or not: no
			// revocation needed.
			if err := auditMany(ctx, q, ActionCleanup, ActorSystem, users, ids, nil); err != nil {
				return err
			}
			return m.emit(ctx, q, revokedEvents(rows, ReasonExpired, time.Now(), nil)...)
		})
		if err != nil {
			return deleted, true, fmt.Errorf("cleanup: %w", err)
		}
		deleted += n
		if n < cleanupBatch {
			break
		}
	}
	// CLI login sessions expire after ten minutes; a poll after that is
	// told so until this removes them.
	if _, err := q.DeleteExpiredCLISessions(ctx, time.Now()); err != nil {
		return deleted, true, fmt.Errorf("cleanup: CLI login sessions: %w", err)
	}
	return deleted, true, nil
}

// RunCleanup calls Cleanup soon after start (replicas that restart more
// often than interval still clean up), then every interval, until ctx is done.
// The first run waits a random minute so replicas starting together do not
// all try at once.
func (m *Maintenance) RunCleanup(ctx context.Context, interval time.Duration) {
	wait := time.Duration(rand.Int64N(int64(time.Minute)))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = interval
		n, ran, err := m.Cleanup(ctx)
		switch {
		case err != nil:
			m.log.ErrorContext(ctx, "expired token cleanup failed", "error", err, "deleted", n)
		case ran:
			m.log.InfoContext(ctx, "expired tokens deleted", "deleted", n)
		}
	}
}
