package main

import (
	"context"
	"io"

	"github.com/alternatefutures/patd/internal/database"
)

func migrate(ctx context.Context, args []string, _, stderr io.Writer) error {
	if err := newFlags("migrate", "Apply pending migrations to $DATABASE_URL and exit.", stderr).Parse(args); err != nil {
		return err
	}
	cfg, log, err := loadConfig()
	if err != nil {
		return err
	}
	pool, err := database.Open(ctx, cfg.DatabaseURL, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	return database.Migrate(ctx, pool, log)
}
