package limit

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Rate limits how often each key may be used per fixed window (windows start
// at multiples of the window length, the same on every replica).
//
// Allow decides from memory alone, so it can sit on the validate path. With a
// Redis client, Sync (run by RunSync every SyncInterval) adds this replica's
// new uses to a per-window counter in Redis and learns the total of every
// replica. Between two syncs a replica does not see the others' uses, so the
// limit can be exceeded by at most what the other replicas allowed in one
// SyncInterval. When Redis is unreachable each replica keeps counting its own
// uses: the limit then holds per replica, and the backlog is added once Redis
// is back.
type Rate struct {
	limit  int
	window time.Duration
	client redis.UniversalClient // nil: this process only
	prefix string

	mu     sync.Mutex
	keys   map[string]*rateState
	pruned time.Time
	// dirty lists the keys with uses not yet sent to Redis, so that a sync
	// walks those, not every key: Allow waits on mu, and a walk of 100,000
	// keys five times a second held it long enough to show in the validate
	// route's p99. A key is listed once (rateState.listed).
	dirty []string
}

type rateState struct {
	window   int64 // index of the window the counts belong to
	global   int   // all replicas' uses, as of the last sync (ours included)
	unsynced int   // our uses since the last sync
	inflight int   // our uses being synced right now
	listed   bool  // in dirty
}

// SyncInterval is how often RunSync reconciles with Redis.
const SyncInterval = 200 * time.Millisecond

// NewRate allows limit uses per key per window; limit 0 allows all. client may
// be nil, for a limit kept in this process only.
func NewRate(limit int, window time.Duration, client redis.UniversalClient, prefix string) *Rate {
	return &Rate{limit: limit, window: window, client: client, prefix: prefix, keys: make(map[string]*rateState)}
}

// Exhausted reports, without taking a use, whether key has no use left in the
// window of now, and if so how long until the window ends.
func (r *Rate) Exhausted(key string, now time.Time) (retryAfter time.Duration, exhausted bool) {
	if r.limit <= 0 {
		return 0, false
	}
	w := now.UnixNano() / int64(r.window)
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.keys[key]
	if st == nil || st.window != w || st.used() < r.limit {
		return 0, false
	}
	return r.untilWindowEnd(w, now), true
}

// Allow takes one use of key at now. When key is over its limit it returns
// false and how long until its window ends.
func (r *Rate) Allow(key string, now time.Time) (retryAfter time.Duration, ok bool) {
	if r.limit <= 0 {
		return 0, true
	}
	w := now.UnixNano() / int64(r.window)
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.keys[key]
	if st == nil {
		st = &rateState{window: w}
		r.keys[key] = st
	} else if st.window != w {
		// A new window: its counts start over, and the key stays listed
		// (or not) as it was.
		*st = rateState{window: w, listed: st.listed}
	}
	if st.used() >= r.limit {
		return r.untilWindowEnd(w, now), false
	}
	st.unsynced++
	r.markDirty(key, st)
	return 0, true
}

// used is every use of the window known here: all replicas' as of the last
// sync, and this one's since.
func (st *rateState) used() int { return st.global + st.unsynced + st.inflight }

// untilWindowEnd is the wait from now until window w is over.
func (r *Rate) untilWindowEnd(w int64, now time.Time) time.Duration {
	return time.Duration((w+1)*int64(r.window) - now.UnixNano())
}

// markDirty lists key for the next sync. The caller holds mu.
func (r *Rate) markDirty(key string, st *rateState) {
	if r.client != nil && !st.listed {
		st.listed = true
		r.dirty = append(r.dirty, key)
	}
}

func (r *Rate) redisKey(key string, window int64) string {
	return r.prefix + "vrate:{" + key + "}:" + strconv.FormatInt(window, 10)
}

// prune forgets keys whose window is over, at most once a quarter window so
// that a large map is not walked on every sync. The caller holds mu.
func (r *Rate) prune(now time.Time, current int64) {
	if now.Sub(r.pruned) < r.window/4 {
		return
	}
	r.pruned = now
	for k, st := range r.keys {
		if st.window < current {
			// The window is over: its uses, sent or not, decide nothing more.
			delete(r.keys, k)
		}
	}
}

// Sync forgets keys whose window is over and, with a Redis client, sends this
// replica's new uses to Redis and learns every replica's totals.
func (r *Rate) Sync(ctx context.Context, now time.Time) error {
	if r.limit <= 0 {
		return nil
	}
	current := now.UnixNano() / int64(r.window)
	if r.client == nil {
		r.mu.Lock()
		r.prune(now, current)
		r.mu.Unlock()
		return nil
	}
	type sent struct {
		key    string
		window int64
		n      int
		cmd    *redis.IntCmd
	}
	var batch []sent
	r.mu.Lock()
	r.prune(now, current)
	dirty := r.dirty
	r.dirty = nil
	for _, k := range dirty {
		st := r.keys[k]
		if st == nil {
			continue // pruned
		}
		st.listed = false
		switch {
		case st.window > current:
			// Used in a window this sync's clock has not reached yet
			// (Allow read the clock after the ticker did): the next sync.
			r.markDirty(k, st)
		case st.window == current && st.unsynced > 0:
			batch = append(batch, sent{key: k, window: st.window, n: st.unsynced})
			st.inflight, st.unsynced = st.unsynced, 0
		}
		// Uses of a window that is over decide nothing more.
	}
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range batch {
			k := r.redisKey(batch[i].key, batch[i].window)
			batch[i].cmd = p.IncrBy(ctx, k, int64(batch[i].n))
			p.PExpire(ctx, k, 2*r.window)
		}
		return nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range batch {
		st := r.keys[b.key]
		if st == nil || st.window != b.window {
			continue
		}
		st.inflight = 0
		if total, cerr := b.cmd.Result(); err == nil && cerr == nil {
			st.global = int(total)
		} else {
			// Not counted in Redis: keep it to send again, and keep it
			// counting here meanwhile.
			st.unsynced += b.n
			r.markDirty(b.key, st)
		}
	}
	return err
}

// RunSync calls Sync every SyncInterval until ctx is done, reporting errors
// through onError (at most once a minute while they last).
func (r *Rate) RunSync(ctx context.Context, onError func(error)) {
	if r.limit <= 0 {
		return
	}
	t := time.NewTicker(SyncInterval)
	defer t.Stop()
	var lastReport time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			sctx, cancel := context.WithTimeout(ctx, SyncInterval)
			err := r.Sync(sctx, now)
			cancel()
			if err != nil && ctx.Err() == nil && now.Sub(lastReport) > time.Minute {
				onError(err)
				lastReport = now
			}
		}
	}
}

// Keys is how many keys the limiter holds state for.
func (r *Rate) Keys() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}
