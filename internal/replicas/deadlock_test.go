package replicas_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/token"
)

// insertTokens stores n tokens of user directly, in an order of ids unlike
// their order of creation, and returns their secrets.
func insertTokens(t *testing.T, url, user string, n int) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	secrets := make([]string, n)
	rows := make([][]any, n)
	now := time.Now()
	for i := range n {
		s, err := token.New(token.PrefixLive)
		if err != nil {
			t.Fatal(err)
		}
		h := token.Hash(s)
		secrets[i] = s
		rows[i] = []any{pattest.Unique("tok-"), user, "bulk", h[:], token.Start(s), now.Add(time.Duration(i) * time.Millisecond)}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"personal_access_tokens"},
		[]string{"id", "user_id", "name", "token_hash", "token_start", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	return secrets
}

// fillTable stores n tokens of other users and refreshes the planner's
// statistics.
func fillTable(t *testing.T, url string, n int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO personal_access_tokens (id, user_id, name, token_hash, token_start)
		SELECT 'filler-' || i, 'filler-user-' || (i % 10000), 'filler', sha256(('filler-' || i)::bytea), 'af_live_xxxx'
		FROM generate_series(1, $1::int) AS i`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE personal_access_tokens"); err != nil {
		t.Fatal(err)
	}
}

// Every replica flushes lastUsedAt for the same tokens at the moment a
// revoke-all deletes them: the statements must take their row locks in one
// order, so that none of them deadlocks and revoke-all never answers 5xx.
func TestLastUsedFlushRacesRevokeAll(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	replicas := []*pattest.Replica{pattest.Start(t, cfg), pattest.Start(t, cfg), pattest.Start(t, cfg)}
	ctx := context.Background()
	// A table of production size, so that PostgreSQL plans as it would in
	// production: index lookups in whatever order each statement is given.
	fillTable(t, cfg.DatabaseURL, 50000)
	const user = "user-leaving"
	for round := range 8 {
		secrets := insertTokens(t, cfg.DatabaseURL, user, 150)
		for _, r := range replicas {
			for _, s := range secrets {
				if v, err := r.Server.Validator.Validate(ctx, s); err != nil || v.Outcome != "VALID" {
					t.Fatalf("round %d: validate: %v %v", round, v.Outcome, err)
				}
			}
		}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make(chan error, len(replicas)*2+1)
		)
		for _, r := range replicas {
			for range 2 { // the second flush finds nothing pending, or what the first left
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if err := r.Server.Validator.FlushLastUsed(ctx); err != nil {
						errs <- fmt.Errorf("flush: %w", err)
					}
				}()
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := replicas[0].Send(http.MethodPost, "/internal/users/"+user+"/revoke-all", nil, "Authorization: Bearer "+pattest.ServiceSecret)
			if err != nil {
				errs <- err
				return
			}
			if resp.Status != http.StatusOK {
				errs <- fmt.Errorf("revoke-all: %d %s", resp.Status, resp.Body)
			}
		}()
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
		if t.Failed() {
			return
		}
	}
	// Locked in one order, they never even deadlock: nothing was retried.
	for i, r := range replicas {
		resp := r.Do(http.MethodGet, "/metrics", nil)
		if want := `patd_db_transaction_retries_total{reason="deadlock"} 0`; !strings.Contains(string(resp.Body), want+"\n") {
			t.Errorf("replica %d: want %s in /metrics", i, want)
		}
	}
}
