package limit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/pattest"
)

// A sync sends each key's new uses exactly once, whatever else the limiter
// holds: keys without new uses are not sent again, and a key used in two
// windows between syncs is counted in the current one only.
func TestRateSyncSendsNewUsesOnce(t *testing.T) {
	t.Parallel()
	c := redisClient(t, pattest.RedisURL())
	prefix := pattest.RedisPrefix(t, pattest.RedisURL())
	r := limit.NewRate(1000, time.Hour, c, prefix)
	ctx := context.Background()
	now := time.Now()
	w := now.UnixNano() / int64(time.Hour)
	count := func(key string, window int64) int {
		n, _ := c.Get(ctx, prefix+"vrate:{"+key+"}:"+strconv.FormatInt(window, 10)).Int()
		return n
	}
	for i := range 1000 {
		r.Allow("k"+strconv.Itoa(i), now)
		r.Allow("k"+strconv.Itoa(i), now)
	}
	if err := r.Sync(ctx, now); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx, now); err != nil { // nothing new
		t.Fatal(err)
	}
	r.Allow("k7", now)
	if err := r.Sync(ctx, now); err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]int{0: 2, 7: 3, 999: 2} {
		if got := count("k"+strconv.Itoa(i), w); got != want {
			t.Errorf("k%d counted %d times in Redis, want %d", i, got, want)
		}
	}

	next := now.Add(time.Hour)
	r.Allow("roll", now)
	r.Allow("roll", next)
	r.Allow("roll", next)
	if err := r.Sync(ctx, next); err != nil {
		t.Fatal(err)
	}
	if got, old := count("roll", w+1), count("roll", w); got != 2 || old != 0 {
		t.Errorf("key used across a window change: %d in the new window (want 2), %d in the old (want 0)", got, old)
	}
}

// A sync whose clock is still in the window before a key's (the ticker's time
// lags the Allow that came just after it) keeps the key's uses for the next
// sync instead of dropping them from its list.
func TestRateSyncBehindAKeysWindowKeepsItsUses(t *testing.T) {
	t.Parallel()
	c := redisClient(t, pattest.RedisURL())
	prefix := pattest.RedisPrefix(t, pattest.RedisURL())
	r := limit.NewRate(1000, time.Hour, c, prefix)
	ctx := context.Background()
	now := time.Now()
	next := now.Add(time.Hour)
	w := next.UnixNano() / int64(time.Hour)
	r.Allow("late", next)
	if err := r.Sync(ctx, now); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx, next); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Get(ctx, prefix+"vrate:{late}:"+strconv.FormatInt(w, 10)).Int(); n != 1 {
		t.Errorf("a use of a window the first sync had not reached: %d in Redis after the next sync, want 1", n)
	}
}
