package replicas_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

// PostgreSQL restarted under two replicas (every connection closed, the
// LISTEN one included): both come back by themselves, and a token revoked
// on one right after the restart is refused by the other within a second.
func TestRevocationAfterPostgresRestart(t *testing.T) {
	t.Parallel()
	pg := pattest.StartPostgres(t)
	cfg := pattest.Config(t)
	cfg.DatabaseURL = pg.URL("postgres")
	cfg.CacheTTL = time.Hour
	a := pattest.Start(t, cfg)
	b := pattest.Start(t, cfg)

	id, secret := a.CreateToken(t, "user-1", "ci", nil)
	_, other := a.CreateToken(t, "user-1", "other", nil)
	for _, r := range []*pattest.Replica{a, b} {
		for _, tok := range []string{secret, other} {
			if resp, _ := validate(t, r, tok); resp.Status != http.StatusOK {
				t.Fatalf("before the restart: %s", resp)
			}
		}
	}

	pg.Restart()

	// The first writes after a restart may meet connections the restart
	// closed; the delete is retried until it goes through, and the clock
	// starts when it has.
	pattest.Eventually(t, 30*time.Second, func() (bool, string) {
		res, err := a.PostGraphQL("Bearer "+a.JWT("user-1"), `mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`, map[string]any{"id": id})
		return err == nil && len(res.Errors) == 0, "the delete after the restart keeps failing"
	})
	pattest.Eventually(t, time.Second, func() (bool, string) {
		return refused(t, b, secret), "B still accepts a token deleted on A after PostgreSQL restarted"
	})
	// Both listen again, and the other token still validates everywhere.
	for _, r := range []*pattest.Replica{a, b} {
		pattest.Eventually(t, 30*time.Second, func() (bool, string) {
			resp := r.Do(http.MethodGet, "/readyz", nil)
			return resp.Status == http.StatusOK, "not ready after the restart: " + resp.String()
		})
		if resp, _ := validate(t, r, other); resp.Status != http.StatusOK {
			t.Errorf("the other token after the restart: %s", resp)
		}
	}
}
