package main

import (
	"context"
	"io"
	"os"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/database"
	"github.com/alternatefutures/patd/internal/logging"
)

func migrate(ctx context.Context, args []string, _, stderr io.Writer) error {
	if err := newFlags("migrate", "Apply pending migrations to $DATABASE_URL and exit.", stderr).Parse(args); err != nil {
		return err
	}
	pool, err := database.Open(ctx, config.DatabaseURL(os.LookupEnv), nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	return database.Migrate(ctx, pool, logging.New(os.Stderr, logLevel))
}
