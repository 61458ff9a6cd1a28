package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/database"
	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/logging"
	"github.com/alternatefutures/patd/internal/pat"
)

// migratedDatabase opens $DATABASE_URL, the only setting the one-shot
// commands need, and applies pending migrations.
func migratedDatabase(ctx context.Context, log *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := database.Open(ctx, config.DatabaseURL(os.LookupEnv), nil)
	if err != nil {
		return nil, err
	}
	if err := database.Migrate(ctx, pool, log); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// maintenance returns the maintenance operations for the one-shot commands.
func maintenance(ctx context.Context) (*pat.Maintenance, func(), error) {
	log := logging.New(os.Stderr, logLevel)
	pool, err := migratedDatabase(ctx, log)
	if err != nil {
		return nil, nil, err
	}
	return pat.NewMaintenance(pool, log), pool.Close, nil
}

func migrate(ctx context.Context, args []string, _, stderr io.Writer) error {
	if err := newFlags("migrate", "Apply pending migrations to $DATABASE_URL and exit.", stderr).Parse(args); err != nil {
		return err
	}
	pool, err := migratedDatabase(ctx, logging.New(os.Stderr, logLevel))
	if err != nil {
		return err
	}
	pool.Close()
	return nil
}

func cleanup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := newFlags("cleanup", "Delete expired tokens once and exit (for cron).", stderr).Parse(args); err != nil {
		return err
	}
	m, closeDB, err := maintenance(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	n, ran, err := m.Cleanup(ctx)
	if err != nil {
		return err
	}
	if !ran {
		fmt.Fprintln(stdout, "another replica is cleaning up; nothing done")
		return nil
	}
	fmt.Fprintf(stdout, "deleted %d expired tokens\n", n)
	return nil
}

func importCSV(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", "Import tokens exported from the old backend (COPY … CSV HEADER).", stderr)
	file := fs.String("csv", "", "the CSV `file` to import")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		fs.Usage()
		return errors.New("import: --csv FILE is required")
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := legacy.NewReader(f)
	if err != nil {
		return err
	}
	var (
		tokens   []legacy.Token
		rejected int
	)
	for {
		t, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var rowErr *legacy.RowError
		if errors.As(err, &rowErr) {
			fmt.Fprintf(stderr, "%s: rejected %s\n", *file, rowErr)
			rejected++
			continue
		}
		if err != nil {
			return err
		}
		tokens = append(tokens, t)
	}
	m, closeDB, err := maintenance(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	imported, skipped, err := m.Import(ctx, tokens)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d, skipped %d (already present), rejected %d\n", imported, skipped, rejected)
	if rejected > 0 {
		return fmt.Errorf("%d rows were rejected", rejected)
	}
	return nil
}
