package limit

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// MemoryQuota is a Quota kept in this process: correct for a single replica only.
type MemoryQuota struct {
	limit  int
	window time.Duration

	mu    sync.Mutex
	seq   uint64
	uses  map[string][]use // oldest first
	swept time.Time
}

type use struct {
	at     time.Time
	member string
}

// NewMemoryQuota returns a quota of limit uses per window kept in process.
func NewMemoryQuota(limit int, window time.Duration) *MemoryQuota {
	return &MemoryQuota{limit: limit, window: window, uses: make(map[string][]use)}
}

// prune drops the uses of key that left the window and returns the rest.
func (q *MemoryQuota) prune(key string, now time.Time) []use {
	us := q.uses[key]
	i := 0
	for i < len(us) && !us[i].at.After(now.Add(-q.window)) {
		i++
	}
	us = us[i:]
	if len(us) == 0 {
		delete(q.uses, key)
	} else {
		q.uses[key] = us
	}
	return us
}

// sweep drops every key whose uses all left the window, once a window, so
// keys that are never used again do not stay forever. The caller holds mu.
func (q *MemoryQuota) sweep(now time.Time) {
	if now.Sub(q.swept) < q.window {
		return
	}
	q.swept = now
	for k := range q.uses {
		q.prune(k, now)
	}
}

// Take implements Quota.
func (q *MemoryQuota) Take(_ context.Context, key string) (Reservation, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	q.sweep(now)
	us := q.prune(key, now)
	if len(us) >= q.limit {
		return Reservation{}, &ExceededError{Limit: q.limit, Window: q.window, ResetAt: us[0].at.Add(q.window)}
	}
	q.seq++
	r := Reservation{key: key, member: strconv.FormatUint(q.seq, 10)}
	us = append(us, use{at: now, member: r.member})
	q.uses[key] = us
	r.After = Usage{Limit: q.limit, Window: q.window, Remaining: q.limit - len(us), ResetAt: us[0].at.Add(q.window)}
	return r, nil
}

// Release implements Quota.
func (q *MemoryQuota) Release(_ context.Context, r Reservation) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	us := q.uses[r.key]
	for i, u := range us {
		if u.member == r.member {
			q.uses[r.key] = append(us[:i:i], us[i+1:]...)
			break
		}
	}
	return nil
}

// Usage implements Quota.
func (q *MemoryQuota) Usage(_ context.Context, key string) (Usage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	us := q.prune(key, now)
	u := Usage{Limit: q.limit, Window: q.window, Remaining: max(q.limit-len(us), 0), ResetAt: now}
	if len(us) > 0 {
		u.ResetAt = us[0].at.Add(q.window)
	}
	return u, nil
}
