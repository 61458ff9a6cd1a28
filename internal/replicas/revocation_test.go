package replicas_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

func TestRevocationReachesOtherReplicaWithinASecond(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour // the cache alone would serve stale answers for an hour
	a := pattest.Start(t, cfg)
	b := pattest.Start(t, cfg)

	for _, tc := range []struct {
		name   string
		revoke func(user, id string)
	}{
		{"delete", func(user, id string) { deleteToken(t, a, user, id) }},
		{"rotate", func(user, id string) {
			a.GraphQL(t, a.JWT(user), `mutation($id: ID!) { rotatePersonalAccessToken(id: $id) { id } }`, map[string]any{"id": id}).OK(t)
		}},
		{"revoke-all", func(user, _ string) {
			if resp := a.Do(http.MethodPost, "/internal/users/"+user+"/revoke-all", nil, secretHeader); resp.Status != http.StatusOK {
				t.Fatalf("revoke-all: %s", resp)
			}
		}},
	} {
		user := "user-" + tc.name
		id, secret := a.CreateToken(t, user, "ci", nil)
		if resp, _ := validate(t, b, secret); resp.Status != http.StatusOK {
			t.Fatalf("%s: B before: %s", tc.name, resp)
		}
		tc.revoke(user, id)
		pattest.Eventually(t, time.Second, func() (bool, string) {
			return refused(t, b, secret), tc.name + ": B still accepts the token revoked on A"
		})
	}
}

// A replica whose listening connection broke may have missed revocations: it
// clears its cache when it listens again, long before the TTL.
func TestListenerReconnectClearsCache(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour
	a := pattest.Start(t, cfg)

	proxy := pattest.NewProxy(t, "127.0.0.1:5432")
	cfgB := *cfg
	cfgB.DatabaseURL = proxy.Rewrite(cfg.DatabaseURL)
	b := pattest.Start(t, &cfgB)

	id, secret := a.CreateToken(t, "user-1", "ci", nil)
	looked := time.Now()
	if resp, _ := validate(t, b, secret); resp.Status != http.StatusOK {
		t.Fatal(resp)
	}
	proxy.Cut()
	deleteToken(t, a, "user-1", id) // B cannot hear this
	// Cut off, B serves its cached answer for a second from its lookup.
	if resp, _ := validate(t, b, secret); resp.Status != http.StatusOK && time.Since(looked) < 900*time.Millisecond {
		t.Fatalf("B, cut off, still serves its recent cached answer: %s", resp)
	}
	proxy.Restore()
	pattest.Eventually(t, 15*time.Second, func() (bool, string) {
		return refused(t, b, secret), "B reconnected but still accepts the deleted token"
	})
}

// A revocation that lands while a replica is looking the token up must not
// leave the answer read before it in the cache.
func TestRevocationDuringLookupIsNotCached(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CacheTTL = time.Hour
	a, b := pattest.Start(t, cfg), pattest.Start(t, cfg)
	id, secret := a.CreateToken(t, "user-1", "ci", nil)
	b.DelayAfter("token_hash =", 500*time.Millisecond)

	done := make(chan struct{})
	go func() {
		defer close(done)
		// Reads the row, then pauses before caching while A deletes it.
		_, _ = b.Server.Validator.Validate(context.Background(), secret)
	}()
	time.Sleep(200 * time.Millisecond)
	deleteToken(t, a, "user-1", id)
	<-done
	b.DelayAfter("token_hash =", 0)
	pattest.Eventually(t, time.Second, func() (bool, string) {
		return refused(t, b, secret), "B cached the answer it read before the revocation"
	})
}
