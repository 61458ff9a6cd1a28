package pat

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/alternatefutures/patd/db"
)

// lastUsedAt is written off the request path: uses are coalesced in memory and
// flushed in one statement per flushInterval, and a token whose lastUsedAt was
// written less than rewriteAfter ago is not written again. The stored value so
// lags the truth by at most rewriteAfter + flushInterval, under a minute.
const (
	flushInterval = 10 * time.Second
	rewriteAfter  = 45 * time.Second
)

type usageRecorder struct {
	mu      sync.Mutex
	pending map[string]time.Time // token id → last use not yet written
	written map[string]time.Time // token id → last use written
}

func newUsageRecorder() *usageRecorder {
	return &usageRecorder{pending: map[string]time.Time{}, written: map[string]time.Time{}}
}

// record notes a use of tokenID at now. It takes a lock and writes a map entry
// at most; never I/O.
func (u *usageRecorder) record(tokenID string, now time.Time) {
	u.mu.Lock()
	if w, ok := u.written[tokenID]; !ok || now.Sub(w) >= rewriteAfter {
		u.pending[tokenID] = now
	}
	u.mu.Unlock()
}

// take returns the pending uses and forgets written ones that are old enough
// to be written again.
func (u *usageRecorder) take(now time.Time) (ids []string, times []time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	// In id order: the flush's statement locks its rows in that order, and a
	// sorted batch keeps to it even where a plan follows the array's.
	ids = slices.Sorted(maps.Keys(u.pending))
	times = make([]time.Time, len(ids))
	for i, id := range ids {
		times[i] = u.pending[id]
		u.written[id] = times[i]
	}
	clear(u.pending)
	for id, t := range u.written {
		if now.Sub(t) >= rewriteAfter {
			delete(u.written, id)
		}
	}
	return ids, times
}

// putBack returns uses that could not be written to the pending set, unless
// a later use of the same token is pending already.
func (u *usageRecorder) putBack(ids []string, times []time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, id := range ids {
		if t, ok := u.pending[id]; !ok || t.Before(times[i]) {
			u.pending[id] = times[i]
		}
		delete(u.written, id)
	}
}

// FlushLastUsed writes the pending lastUsedAt values in one statement.
func (v *Validator) FlushLastUsed(ctx context.Context) error {
	ids, times := v.usage.take(time.Now())
	if len(ids) == 0 {
		return nil
	}
	err := v.inTx(ctx, func(q *db.Queries) error {
		return q.TouchTokens(ctx, db.TouchTokensParams{Ids: ids, UsedAt: times})
	})
	v.metrics.LastUsedFlush(err)
	if err != nil {
		v.usage.putBack(ids, times) // the next flush tries again
	}
	return err
}

// RunLastUsedFlusher flushes lastUsedAt every flushInterval until ctx is
// done. The caller flushes once more after the last request has finished.
func (v *Validator) RunLastUsedFlusher(ctx context.Context) {
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := v.FlushLastUsed(ctx); err != nil {
				v.log.WarnContext(ctx, "lastUsedAt flush failed; will retry", "error", err)
			}
		}
	}
}
