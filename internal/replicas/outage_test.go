package replicas_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

// After a PostgreSQL outage the listeners of the other replicas come back
// some time after the pool does, and a revocation committed in between
// reaches nobody; each replica must still refuse the token within a second
// of the revoking call's return. Both outages are longer than the listener's
// longest backoff; the short one is under a second.
func TestRevocationWithinASecondAfterOutage(t *testing.T) {
	t.Parallel()
	for _, outage := range []time.Duration{3500 * time.Millisecond, 700 * time.Millisecond} {
		t.Run(outage.String(), func(t *testing.T) {
			t.Parallel()
			cfg := pattest.Config(t)
			cfg.CacheTTL = time.Hour // the cache alone would serve stale answers for an hour
			proxy := pattest.NewProxy(t, "127.0.0.1:5432")
			cfg.DatabaseURL = proxy.Rewrite(cfg.DatabaseURL)
			a, b := pattest.Start(t, cfg), pattest.Start(t, cfg)

			// One token cached on B before the outage, one looked up by B
			// right after it, while B may not be listening yet.
			idBefore, before := a.CreateToken(t, "user-1", "before", nil)
			idAfter, after := a.CreateToken(t, "user-1", "after", nil)
			if resp, _ := validate(t, b, before); resp.Status != http.StatusOK {
				t.Fatalf("B before the outage: %s", resp)
			}

			proxy.Cut()
			time.Sleep(outage)
			proxy.Restore()

			pattest.Eventually(t, 10*time.Second, func() (bool, string) {
				resp, _ := validate(t, b, after)
				return resp.Status == http.StatusOK, "B after the outage: " + resp.String()
			})
			for _, tc := range []struct{ id, secret string }{{idBefore, before}, {idAfter, after}} {
				// The pool may hand out a connection the outage broke: the
				// revocation is what a client retries until it succeeds.
				pattest.Eventually(t, 10*time.Second, func() (bool, string) {
					res, err := a.PostGraphQL("Bearer "+a.JWT("user-1"), `mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`, map[string]any{"id": tc.id})
					return err == nil && len(res.Errors) == 0, fmt.Sprintf("delete on A: %v %+v", err, res.Errors)
				})
				revoked := time.Now()
				pattest.Eventually(t, 3*time.Second, func() (bool, string) { return refused(t, b, tc.secret), "" })
				if d := time.Since(revoked); d > time.Second {
					t.Errorf("B refused the token %s after the revoking call returned, want within 1s", d.Round(time.Millisecond))
				}
			}
		})
	}
}
