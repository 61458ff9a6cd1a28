package webhooks_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/database"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/webhooks"
)

// TestFailedDeliveryKeepsURLSecrets sends one event to endpoints whose URLs
// carry a receiver's secret (in the query, the path, the user name and the
// password) and that all fail, by a refused connection or by hanging past
// the HTTP timeout, until dead-lettered. Neither the log (every level, River's
// lines included) nor the stored last_error may hold any part of the URL
// beyond scheme://host:port, and last_error must still say what went wrong.
func TestFailedDeliveryKeepsURLSecrets(t *testing.T) {
	closed := closedPort(t)
	hanging := hangingReceiver(t)
	secrets := []string{"qsecret0aaa", "psecret1bbb", "usecret2ccc", "wsecret3ddd", "qsecret4eee", "usecret5fff", "wsecret6ggg"}
	cases := []struct {
		url, origin, cause string
	}{
		{"http://" + closed + "/hooks?token=qsecret0aaa", "http://" + closed, "connection refused"},
		{"http://usecret2ccc:wsecret3ddd@" + closed + "/hooks/psecret1bbb", "http://" + closed, "connection refused"},
		{hanging + "/hooks?token=qsecret4eee&x=1", hanging, "Client.Timeout exceeded"},
		{"http://usecret5fff:wsecret6ggg@" + strings.TrimPrefix(hanging, "http://") + "/hooks", hanging, "Client.Timeout exceeded"},
	}
	urls := make([]string, len(cases))
	for i, c := range cases {
		urls[i] = c.url
	}

	ctx := context.Background()
	pool, err := database.Open(ctx, pattest.Database(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logs := &pattest.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := database.Migrate(ctx, pool, log); err != nil {
		t.Fatal(err)
	}
	if err := database.MigrateRiver(ctx, pool, log); err != nil {
		t.Fatal(err)
	}
	key, err := webhooks.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	w, err := webhooks.New(pool, webhooks.Config{
		URLs: urls, Key: key,
		RetrySchedule: []time.Duration{10 * time.Millisecond}, // two attempts, then the dead letter
		HTTPTimeout:   300 * time.Millisecond,
		PeriodicEvery: time.Hour,
	}, webhooks.Deps{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(ctx, 5*time.Second) })

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	ev := pat.Event{Type: pat.EventCreated, TokenID: "tok-secret-url", Time: time.Now(), Data: map[string]any{"id": "tok-secret-url"}}
	if err := w.Write(ctx, tx, []pat.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	pattest.Eventually(t, 20*time.Second, func() (bool, string) {
		var dead int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE state = 'dead'`).Scan(&dead)
		return dead == len(cases), "waiting for every delivery to be dead-lettered"
	})
	w.Stop(ctx, 5*time.Second)

	for _, c := range cases {
		var lastError string
		if err := pool.QueryRow(ctx, `SELECT last_error FROM webhook_deliveries WHERE endpoint = $1`, c.url).Scan(&lastError); err != nil {
			t.Fatal(err)
		}
		t.Logf("last_error: %s", lastError)
		for _, s := range secrets {
			if strings.Contains(lastError, s) {
				t.Errorf("last_error holds the secret %s: %s", s, lastError)
			}
		}
		for _, part := range []string{"/hooks", "token="} {
			if strings.Contains(lastError, part) {
				t.Errorf("last_error holds the URL's path or query (%s): %s", part, lastError)
			}
		}
		if !strings.Contains(lastError, c.cause) || !strings.Contains(lastError, `Post "`+c.origin+`"`) {
			t.Errorf("last_error %q does not say what failed (want Post %q and %q)", lastError, c.origin, c.cause)
		}
	}
	out := logs.String()
	for _, s := range append(secrets, "/hooks", "token=") {
		if strings.Contains(out, s) {
			t.Errorf("the log holds %s:\n%s", s, out)
		}
	}
	if n := strings.Count(out, "webhook delivery dead-lettered"); n != len(cases) {
		t.Errorf("%d dead-letter warnings, want %d:\n%s", n, len(cases), out)
	}
	for _, c := range cases {
		if !strings.Contains(out, "endpoint="+c.origin+" ") {
			t.Errorf("no dead-letter warning names the endpoint's origin %s:\n%s", c.origin, out)
		}
	}
}

// closedPort returns a loopback host:port that nothing listens on: a
// delivery there is refused at once.
func closedPort(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(pattest.FreePort(t))
}

// hangingReceiver returns the URL (http://host:port) of a receiver that
// takes each request and never answers it.
func hangingReceiver(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: no handler keeps Close waiting
	return srv.URL
}
