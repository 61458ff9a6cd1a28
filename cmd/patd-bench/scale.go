package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/loadgen"
)

// smallRows is the size of the table a miss at full size is compared with.
const smallRows = 1_000

// scaleRows shows whether a miss costs the same at 1,000 rows and at
// b.opt.rows: two databases, each with a patd without a cache
// (PAT_CACHE_TTL=0, so every request is a lookup), loaded in turn (-rounds
// times each), so that both see the same moments of the shared machine. It also
// fills the main database, and measures the lookup once more with a covering
// index on token_hash (dropped afterwards: the other rows run on the schema
// as migrated).
func (b *bench) scaleRows(ctx context.Context) error {
	smallName := b.dbName + "_small"
	admin, err := pgx.Connect(ctx, b.opt.adminURL)
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE "+smallName)
	admin.Close(ctx)
	if err != nil {
		return err
	}
	b.extraDBs = append(b.extraDBs, smallName)
	smallURL := strings.Replace(b.dbURL, "/"+b.dbName+"?", "/"+smallName+"?", 1)
	// This patd applies the migrations to the small database.
	smallPatd, err := b.startPatd(ctx, "patd-nocache-1k", map[string]string{"PAT_CACHE_TTL": "0", "DATABASE_URL": b.withPool(smallURL)})
	if err != nil {
		return err
	}
	defer smallPatd.stop()
	smallDB, err := pgx.Connect(ctx, smallURL)
	if err != nil {
		return err
	}
	defer smallDB.Close(context.Background())
	if err := seed(ctx, smallDB, smallRows); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if _, err := smallDB.Exec(ctx, "VACUUM ANALYZE personal_access_tokens"); err != nil {
		return err
	}

	b.logf("seeding %d rows", b.opt.rows)
	seeded := time.Now()
	if err := seed(ctx, b.db, b.opt.rows); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// As autovacuum would, soon: statistics, and the visibility map that
	// index-only scans need.
	if _, err := b.db.Exec(ctx, "VACUUM ANALYZE personal_access_tokens"); err != nil {
		return err
	}
	b.notes = append(b.notes, fmt.Sprintf("%s rows inserted with one INSERT … SELECT (PostgreSQL's sha256) and vacuumed in %.1f s",
		thousands(b.opt.rows), time.Since(seeded).Seconds()))
	b.explain(ctx, "")
	largePatd, err := b.startPatd(ctx, "patd-nocache", map[string]string{"PAT_CACHE_TTL": "0"})
	if err != nil {
		return err
	}
	defer largePatd.stop()

	small := &row{server: "patd", name: fmt.Sprintf("miss, cache off, %s rows", thousands(smallRows)), conns: 16, res: loadgen.NewResult()}
	large := &row{server: "patd", name: fmt.Sprintf("miss, cache off, %s rows", thousands(b.opt.rows)), conns: 16, res: loadgen.NewResult()}
	smallBefore, largeBefore := lookupsIn(ctx, smallDB), b.lookups(ctx)
	for range b.opt.rounds {
		small.res.Merge(b.load(ctx, smallPatd, 16, b.validate(pickRange(smallRows)), statusIs(200), false, b.opt.warmup, b.opt.duration))
		large.res.Merge(b.load(ctx, largePatd, 16, b.validate(pickRange(b.opt.rows)), statusIs(200), false, b.opt.warmup, b.opt.duration))
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	time.Sleep(statsSettle)
	small.lookups, large.lookups = lookupsIn(ctx, smallDB)-smallBefore, b.lookups(ctx)-largeBefore
	b.add(smallPatd, small)
	b.add(largePatd, large)
	b.small, b.large = small, large
	b.logf("miss, cache off: %s rows %.0f req/s p99 %s; %s rows %.0f req/s p99 %s", thousands(smallRows), small.res.RPS(),
		ms(small.res.Quantile(99)), thousands(b.opt.rows), large.res.RPS(), ms(large.res.Quantile(99)))

	covering := time.Now()
	if _, err := b.db.Exec(ctx, `CREATE UNIQUE INDEX bench_token_hash_covering ON personal_access_tokens (token_hash)
INCLUDE (id, user_id, organization_id, name, expires_at, created_at)`); err != nil {
		return err
	}
	if _, err := b.db.Exec(ctx, "VACUUM ANALYZE personal_access_tokens"); err != nil {
		return err
	}
	b.notes = append(b.notes, fmt.Sprintf("covering index built and vacuumed in %.1f s", time.Since(covering).Seconds()))
	b.explain(ctx, " with a covering index")
	before := b.lookups(ctx)
	r := &row{server: "patd", name: fmt.Sprintf("miss, cache off, %s rows, covering index", thousands(b.opt.rows)), conns: 16}
	r.res = b.load(ctx, largePatd, 16, b.validate(pickRange(b.opt.rows)), statusIs(200), false, b.opt.warmup, b.opt.duration)
	time.Sleep(statsSettle)
	r.lookups = b.lookups(ctx) - before
	r.note = "one run, after the two above"
	b.add(largePatd, r)
	b.covering = r
	_, err = b.db.Exec(ctx, "DROP INDEX bench_token_hash_covering")
	return err
}
