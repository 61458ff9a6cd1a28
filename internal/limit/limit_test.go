package limit_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/pattest"
)

func redisClient(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	c, err := limit.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// quotas returns the Redis quota and the in-process one, which must behave alike.
func quotas(t *testing.T, n int, window time.Duration) map[string]limit.Quota {
	c := redisClient(t, pattest.RedisURL())
	return map[string]limit.Quota{
		"redis":  limit.NewRedisQuota(c, pattest.RedisPrefix(t, pattest.RedisURL()), n, window),
		"memory": limit.NewMemoryQuota(n, window),
	}
}

func TestQuotaTakeReleaseUsage(t *testing.T) {
	t.Parallel()
	for name, q := range quotas(t, 3, time.Hour) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			u, err := q.Usage(ctx, "alice")
			if err != nil || u.Limit != 3 || u.Remaining != 3 || time.Since(u.ResetAt).Abs() > 2*time.Second {
				t.Fatalf("fresh usage: %+v %v", u, err)
			}
			start := time.Now()
			var rs []limit.Reservation
			for i := 0; i < 3; i++ {
				r, err := q.Take(ctx, "alice")
				if err != nil {
					t.Fatalf("take %d: %v", i+1, err)
				}
				rs = append(rs, r)
			}
			_, err = q.Take(ctx, "alice")
			var ex *limit.ExceededError
			if !errors.As(err, &ex) {
				t.Fatalf("4th take: want ExceededError, got %v", err)
			}
			// resetAt is when the oldest use leaves the window.
			if d := ex.ResetAt.Sub(start.Add(time.Hour)); d < -2*time.Second || d > 2*time.Second {
				t.Errorf("resetAt %v, want about %v", ex.ResetAt, start.Add(time.Hour))
			}
			if u, _ := q.Usage(ctx, "alice"); u.Remaining != 0 {
				t.Errorf("remaining %d, want 0", u.Remaining)
			}
			// Other keys are independent.
			if _, err := q.Take(ctx, "bob"); err != nil {
				t.Errorf("bob: %v", err)
			}
			if err := q.Release(ctx, rs[1]); err != nil {
				t.Fatal(err)
			}
			if u, _ := q.Usage(ctx, "alice"); u.Remaining != 1 {
				t.Errorf("after release: remaining %d, want 1", u.Remaining)
			}
			if _, err := q.Take(ctx, "alice"); err != nil {
				t.Errorf("take after release: %v", err)
			}
		})
	}
}

func TestQuotaConcurrentTakes(t *testing.T) {
	t.Parallel()
	for name, q := range quotas(t, 10, time.Hour) {
		t.Run(name, func(t *testing.T) {
			var ok, refused atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 30; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := q.Take(context.Background(), "carol")
					var ex *limit.ExceededError
					switch {
					case err == nil:
						ok.Add(1)
					case errors.As(err, &ex):
						refused.Add(1)
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 10 || refused.Load() != 20 {
				t.Errorf("%d taken, %d refused; want 10 and 20", ok.Load(), refused.Load())
			}
		})
	}
}

func TestQuotaWindowRolls(t *testing.T) {
	t.Parallel()
	for name, q := range quotas(t, 2, 600*time.Millisecond) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for i := 0; i < 2; i++ {
				if _, err := q.Take(ctx, "dave"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := q.Take(ctx, "dave"); err == nil {
				t.Fatal("third take within the window succeeded")
			}
			time.Sleep(700 * time.Millisecond)
			if u, _ := q.Usage(ctx, "dave"); u.Remaining != 2 {
				t.Errorf("after the window: remaining %d, want 2", u.Remaining)
			}
			if _, err := q.Take(ctx, "dave"); err != nil {
				t.Errorf("take after the window: %v", err)
			}
		})
	}
}

// The scripts touch one key each, tagged with {userId}, so they run unchanged
// on Redis Cluster.
func TestRedisQuotaAndRateOnCluster(t *testing.T) {
	t.Parallel()
	c := redisClient(t, pattest.StartRedisCluster(t, 3))
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("the cluster URL made a %T", c)
	}
	ctx := context.Background()
	q := limit.NewRedisQuota(c, "patd:", 2, time.Hour)
	// Enough users that their keys land on every node.
	for _, user := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"} {
		r, err := q.Take(ctx, user)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if _, err := q.Take(ctx, user); err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if _, err := q.Take(ctx, user); err == nil {
			t.Fatalf("%s: third take allowed", user)
		}
		if err := q.Release(ctx, r); err != nil {
			t.Fatal(err)
		}
		if u, err := q.Usage(ctx, user); err != nil || u.Remaining != 1 {
			t.Fatalf("%s: usage %+v %v", user, u, err)
		}
	}
	var shards atomic.Int32
	_ = c.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		if n.DBSize(ctx).Val() > 0 {
			shards.Add(1)
		}
		return nil
	})
	if shards.Load() < 2 {
		t.Errorf("keys landed on %d nodes; the test wants them spread", shards.Load())
	}

	rate := limit.NewRate(5, time.Hour, c, "patd:")
	now := time.Now()
	for _, tok := range []string{"t1", "t2", "t3"} {
		for i := 0; i < 3; i++ {
			rate.Allow(tok, now)
		}
	}
	if err := rate.Sync(ctx, now); err != nil {
		t.Fatalf("sync on cluster: %v", err)
	}
	if err := limit.Ping(ctx, c); err != nil {
		t.Fatal(err)
	}
}

func TestRateLocal(t *testing.T) {
	t.Parallel()
	r := limit.NewRate(3, time.Minute, nil, "")
	now := time.Date(2026, 1, 1, 12, 0, 10, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if _, ok := r.Allow("k", now); !ok {
			t.Fatalf("use %d refused", i+1)
		}
	}
	wait, ok := r.Allow("k", now)
	if ok || wait != 50*time.Second {
		t.Errorf("4th use: ok %v, retry after %v; want refused, 50s (the window ends at the minute)", ok, wait)
	}
	if _, ok := r.Allow("other", now); !ok {
		t.Error("another key refused")
	}
	if _, ok := r.Allow("k", now.Add(50*time.Second)); !ok {
		t.Error("refused in the next window")
	}
	if _, ok := limit.NewRate(0, time.Minute, nil, "").Allow("k", now); !ok {
		t.Error("a limit of 0 must allow everything")
	}
}

// Two replicas each allowing from memory and syncing with Redis keep the
// total near the limit: over by at most what the other allowed between syncs.
func TestRateSharedBetweenReplicas(t *testing.T) {
	t.Parallel()
	c := redisClient(t, pattest.RedisURL())
	prefix := pattest.RedisPrefix(t, pattest.RedisURL())
	a := limit.NewRate(50, time.Hour, c, prefix)
	b := limit.NewRate(50, time.Hour, c, prefix)
	ctx := context.Background()
	now := time.Now()
	allowed := 0
	for round := 0; round < 40; round++ {
		for _, r := range []*limit.Rate{a, b} {
			for i := 0; i < 3; i++ {
				if _, ok := r.Allow("tok", now); ok {
					allowed++
				}
			}
			if err := r.Sync(ctx, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Each sync round lets the other replica allow at most 3 unseen uses.
	if allowed < 50 || allowed > 53 {
		t.Errorf("two replicas allowed %d uses of a limit of 50; want 50 to 53", allowed)
	}
}

func TestRateWithRedisDownLimitsPerReplica(t *testing.T) {
	t.Parallel()
	srv := pattest.StartRedis(t)
	c := redisClient(t, srv.URL())
	r := limit.NewRate(5, time.Hour, c, "p:")
	now := time.Now()
	for i := 0; i < 2; i++ {
		r.Allow("tok", now)
	}
	if err := r.Sync(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	allowed := 0
	for i := 0; i < 10; i++ {
		if _, ok := r.Allow("tok", now); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("with Redis down, %d more allowed; want 3 (the per-replica count goes on)", allowed)
	}
	if err := r.Sync(context.Background(), now); err == nil {
		t.Error("sync with Redis down reported no error")
	}
	if time.Since(start) > 3*time.Second {
		t.Error("Allow or Sync waited long on a dead Redis")
	}
	srv.Start()
	if err := r.Sync(context.Background(), now); err != nil {
		t.Fatalf("sync after Redis came back: %v", err)
	}
	if n, _ := c.Get(context.Background(), "p:vrate:{tok}:"+itoa(now.UnixNano()/int64(time.Hour))).Int(); n != 3 {
		t.Errorf("after recovery Redis counts %d, want the 3 uses allowed while it was down", n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Keys whose window is over are forgotten, with or without Redis, so the
// in-process maps stay as small as the traffic of one window.
func TestRateForgetsOldWindows(t *testing.T) {
	t.Parallel()
	r := limit.NewRate(10, time.Minute, nil, "")
	start := time.Now()
	for i := 0; i < 1000; i++ {
		r.Allow(strconv.Itoa(i), start)
	}
	later := start.Add(2 * time.Minute)
	if err := r.Sync(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	r.Allow("new", later)
	if n := r.Keys(); n != 1 {
		t.Errorf("%d keys after their windows ended, want 1", n)
	}
}
