package pat_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
)

// Two transactions that lock two rows in opposite order deadlock for sure:
// PostgreSQL aborts one, the helper runs it again, both end committed, and
// the retry is counted.
func TestDeadlockedTransactionIsRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pattest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE pair (id int PRIMARY KEY, n int NOT NULL); INSERT INTO pair VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)

	var (
		holding sync.WaitGroup // each first attempt holds its first row
		done    sync.WaitGroup
		errs    [2]error
	)
	holding.Add(2)
	for i, order := range [][2]int{{1, 2}, {2, 1}} {
		done.Add(1)
		go func() {
			defer done.Done()
			attempt := 0
			errs[i] = pat.InTx(ctx, pool, m, func(tx pgx.Tx) error {
				attempt++
				if _, err := tx.Exec(ctx, "UPDATE pair SET n = n + 1 WHERE id = $1", order[0]); err != nil {
					return err
				}
				if attempt == 1 {
					holding.Done()
					holding.Wait()
				}
				_, err := tx.Exec(ctx, "UPDATE pair SET n = n + 1 WHERE id = $1", order[1])
				return err
			})
		}()
	}
	done.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("a deadlocked transaction surfaced: %v", err)
		}
	}
	var n1, n2 int
	if err := pool.QueryRow(ctx, "SELECT (SELECT n FROM pair WHERE id = 1), (SELECT n FROM pair WHERE id = 2)").Scan(&n1, &n2); err != nil {
		t.Fatal(err)
	}
	if n1 != 2 || n2 != 2 {
		t.Fatalf("rows %d and %d, want 2 and 2: each transaction committed once", n1, n2)
	}
	if got := counter(t, reg, "patd_db_transaction_retries_total", "reason", "deadlock"); got != 1 {
		t.Fatalf("patd_db_transaction_retries_total{reason=\"deadlock\"} = %v, want 1", got)
	}
}

// counter reads the value of a counter with the label name=value from reg.
func counter(t *testing.T, reg *prometheus.Registry, metric, name, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == name && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", metric, name, value)
	return 0
}
