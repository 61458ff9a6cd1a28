package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

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
	m, closeDB, err := maintenance(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	start := time.Now()
	p := importProgress{out: stderr, file: *file, start: start, last: start}
	if err := importRows(ctx, r, m, &p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d, skipped %d (already present), rejected %d\n", p.imported, p.skipped, p.rejected)
	if p.rejected > 0 {
		return fmt.Errorf("%d rows were rejected", p.rejected)
	}
	return nil
}

// importProgressEvery is how often a long import reports progress.
const importProgressEvery = 5 * time.Second

// importRows streams r into the store a batch at a time, so memory stays
// bounded whatever the file's size.
func importRows(ctx context.Context, r *legacy.Reader, m *pat.Maintenance, p *importProgress) error {
	batch := make([]legacy.Token, 0, pat.ImportBatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, skipped, err := m.Import(ctx, batch)
		if err != nil {
			return err
		}
		p.imported, p.skipped = p.imported+n, p.skipped+skipped
		batch = batch[:0]
		p.report()
		return nil
	}
	for {
		t, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var rowErr *legacy.RowError
		if errors.As(err, &rowErr) {
			fmt.Fprintf(p.out, "%s: rejected %s\n", p.file, rowErr)
			p.rejected++
			continue
		}
		if err != nil {
			return err
		}
		if batch = append(batch, t); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// importProgress counts an import's rows and reports them to out at most
// every so often.
type importProgress struct {
	out                         io.Writer
	file                        string
	start, last                 time.Time
	imported, skipped, rejected int
}

// report prints the counts when the last report (or the start) is more than
// importProgressEvery ago.
func (p *importProgress) report() {
	now := time.Now()
	if now.Sub(p.last) < importProgressEvery {
		return
	}
	p.last = now
	done := p.imported + p.skipped + p.rejected
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 0.001)
	fmt.Fprintf(p.out, "%s: %d rows done (%.0f rows/s), %d rejected so far\n", p.file, done, rate, p.rejected)
}
