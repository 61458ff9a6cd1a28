package pat

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alternatefutures/patd/db"
)

// lastUsedAt is written off the request path: uses are coalesced in memory and
// flushed every flushInterval, and a token whose lastUsedAt was written less
// than rewriteAfter ago is not written again. The stored value so lags the
// truth by at most rewriteAfter + flushInterval (plus a paced flush's length),
// about a minute.
const (
	flushInterval = 10 * time.Second
	rewriteAfter  = 45 * time.Second
	// flushBatch bounds one flush statement. A single statement for every
	// pending use (100,000 after ten seconds of misses) held one PostgreSQL
	// backend busy for seconds, which showed in the lookups' p99, and its
	// parameters alone took 15 MB.
	flushBatch = 1000
)

// usageRecorder coalesces uses per token. It is keyed by the token id, the
// string the cached answer holds already, and keeps two instants per token in
// one entry: a use costs no allocation once its token has an entry.
type usageRecorder struct {
	mu   sync.Mutex
	uses map[string]usage
}

// usage is one token's record, in Unix nanoseconds; zero: none.
type usage struct {
	pending int64 // the last use not yet written
	written int64 // the last use written
}

func newUsageRecorder() *usageRecorder {
	return &usageRecorder{uses: map[string]usage{}}
}

// record notes a use of tokenID at now. It takes a lock and writes a map entry
// at most; never I/O.
func (u *usageRecorder) record(tokenID string, now time.Time) {
	t := now.UnixNano()
	u.mu.Lock()
	e := u.uses[tokenID]
	if e.written == 0 || t-e.written >= int64(rewriteAfter) {
		e.pending = t
		u.uses[tokenID] = e
	}
	u.mu.Unlock()
}

// take returns the pending uses, in id order, and forgets written ones that
// are old enough to be written again. It holds the lock for one walk of the
// map only: every valid validation waits on it, and sorting 100,000 ids
// takes tens of milliseconds.
func (u *usageRecorder) take(now time.Time) (ids []string, times []time.Time) {
	type use struct {
		id string
		at int64
	}
	var uses []use
	cutoff := now.UnixNano() - int64(rewriteAfter)
	u.mu.Lock()
	for id, e := range u.uses {
		switch {
		case e.pending != 0:
			uses = append(uses, use{id, e.pending})
			u.uses[id] = usage{written: e.pending}
		case e.written < cutoff:
			delete(u.uses, id)
		}
	}
	u.mu.Unlock()
	// In id order: each flush statement locks its rows in that order, and a
	// sorted batch keeps to it even where a plan follows the array's.
	slices.SortFunc(uses, func(a, b use) int { return strings.Compare(a.id, b.id) })
	ids, times = make([]string, len(uses)), make([]time.Time, len(uses))
	for i, x := range uses {
		ids[i], times[i] = x.id, time.Unix(0, x.at)
	}
	return ids, times
}

// putBack returns uses that could not be written to the pending set, unless
// a later use of the same token is pending already.
func (u *usageRecorder) putBack(ids []string, times []time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, id := range ids {
		e := u.uses[id]
		e.pending = max(e.pending, times[i].UnixNano())
		e.written = 0
		u.uses[id] = e
	}
}

// FlushLastUsed writes the pending lastUsedAt values now, flushBatch tokens
// per statement.
func (v *Validator) FlushLastUsed(ctx context.Context) error {
	return v.flushLastUsed(ctx, false)
}

// flushLastUsed writes the pending uses in batches, each its own transaction.
// Paced, it rests after each batch as long as the batch took, so that a large
// flush uses at most about half of one PostgreSQL backend and the lookups
// that share the server keep their latency. A failed batch and the ones after
// it go back to the pending set for the next flush.
func (v *Validator) flushLastUsed(ctx context.Context, paced bool) error {
	ids, times := v.usage.take(time.Now())
	for start := 0; start < len(ids); start += flushBatch {
		end := min(start+flushBatch, len(ids))
		began := time.Now()
		err := v.inTx(ctx, func(q txQueries) error {
			return q.TouchTokens(ctx, db.TouchTokensParams{Ids: ids[start:end], UsedAt: times[start:end]})
		})
		v.metrics.LastUsedFlush(err)
		if err != nil {
			v.usage.putBack(ids[start:], times[start:])
			return err
		}
		if paced && end < len(ids) {
			select {
			case <-time.After(time.Since(began)):
			case <-ctx.Done():
				v.usage.putBack(ids[end:], times[end:])
				return ctx.Err()
			}
		}
	}
	return nil
}

// RunLastUsedFlusher flushes lastUsedAt, paced, every flushInterval until ctx
// is done. The caller flushes once more after the last request has finished.
func (v *Validator) RunLastUsedFlusher(ctx context.Context) {
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := v.flushLastUsed(ctx, true); err != nil && ctx.Err() == nil {
				v.log.WarnContext(ctx, "lastUsedAt flush failed; will retry", "error", err)
			}
		}
	}
}
