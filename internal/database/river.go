package database

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// lockNamespaceRiverMigrate is the first key of the advisory lock taken
// while River's migrations run (two-int form: no other kind of lock shares it).
const lockNamespaceRiverMigrate int32 = 0x70617410

// MigrateRiver applies River's own migrations (its job tables: the webhook
// outbox's jobs live there). Only replicas with webhooks need them, and they
// take about half a second on a new database, so Migrate leaves them out. A session advisory lock, held on a connection of
// its own while they run, makes replicas starting together apply them once
// (they cannot share one transaction: one of them adds an enum value that a
// later one uses).
func MigrateRiver(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, 0)", lockNamespaceRiverMigrate); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, 0)", lockNamespaceRiverMigrate); err != nil {
			// The session lock dies with the connection; make sure it does.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	for _, v := range res.Versions {
		log.InfoContext(ctx, "river migration applied", "version", v.Version, "duration", v.Duration)
	}
	return nil
}
