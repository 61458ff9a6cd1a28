// Package cache is the in-process cache of validation answers: keyed by a
// token's SHA-256 (never the token), bounded in size, each entry with its own
// time to live.
package cache

import (
	"sync"
	"sync/atomic"
	"time"
)

// Key is the SHA-256 of a token.
type Key = [32]byte

// Cache maps keys to values of type V for a limited time. It is safe for
// concurrent use; a hit takes a read lock and allocates nothing.
//
// Values come from a store that changes behind the cache's back, so the cache
// counts invalidations (Forget, Clear) in a generation: a caller takes the
// generation before it reads the store and stores what it read with SetIf,
// which refuses it when an invalidation came in between. The comparison and
// the store happen under the one lock that invalidations take too, so no
// invalidation can fall between them.
//
// Entries live in two generations, the current one and the one before: Rotate
// drops the older whole and starts a new current one. A map never shrinks in
// Go, so this is how the memory of a burst of distinct keys comes back, map
// and all, once their values are of no more use; called at intervals no
// shorter than the longest time to live, it never drops a live entry.
type Cache[V any] struct {
	mu sync.RWMutex
	// cur takes every store; prev is the generation before, still read.
	// A key is in one of them at most.
	cur, prev map[Key]entry[V]
	capacity  int
	// gen changes only under mu (written), so SetIf's check holds until it
	// has stored; reading it needs no lock.
	gen atomic.Uint64
	// maxAge, when positive, bounds every entry's life counted from when
	// its value was read (see Restrict). Guarded by mu.
	maxAge time.Duration
}

type entry[V any] struct {
	v     V
	read  int64 // unix nanoseconds: when the value was read from the store
	until int64 // unix nanoseconds
}

// New returns a cache holding at most capacity entries; with a capacity of
// zero or less it holds nothing.
func New[V any](capacity int) *Cache[V] {
	return &Cache[V]{cur: newMap[V](capacity), prev: map[Key]entry[V]{}, capacity: capacity}
}

func newMap[V any](capacity int) map[Key]entry[V] {
	return make(map[Key]entry[V], max(0, min(capacity, 1024)))
}

// Get returns the value stored under k if it has not outlived its time to live.
func (c *Cache[V]) Get(k Key) (V, bool) {
	c.mu.RLock()
	e, ok := c.cur[k]
	if !ok {
		e, ok = c.prev[k]
	}
	c.mu.RUnlock()
	if !ok || time.Now().UnixNano() >= e.until {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Generation identifies the invalidations so far; take it before reading the
// value that SetIf is to store.
func (c *Cache[V]) Generation() uint64 { return c.gen.Load() }

// SetIf stores v under k until ttl after read, the moment v was read from
// the store (its age counts from then, not from when it is stored), unless
// the cache has been invalidated since generation gen: v may then be a value
// that the invalidation was about. It reports whether v was stored. When the
// cache is full it first drops expired entries, and failing that an arbitrary
// one: cheaper than LRU bookkeeping on every hit, and a dropped entry costs
// only one query.
func (c *Cache[V]) SetIf(k Key, v V, read time.Time, ttl time.Duration, gen uint64) bool {
	if ttl <= 0 || c.capacity <= 0 {
		return false
	}
	now := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return false
	}
	if c.maxAge > 0 {
		ttl = min(ttl, c.maxAge)
	}
	e := entry[V]{v: v, read: read.UnixNano()}
	e.until = e.read + int64(ttl)
	if e.until <= now {
		return false
	}
	if _, ok := c.prev[k]; ok {
		delete(c.prev, k)
	} else if _, ok := c.cur[k]; !ok && c.len() >= c.capacity {
		c.evict(now)
	}
	c.cur[k] = e
	return true
}

// Restrict makes every entry, present or stored later, expire at most maxAge
// after its value was read; 0 lifts the restriction for entries stored from
// now on. It serves callers that stop hearing about changes to the store: what
// they hold then is only as good as it is recent.
func (c *Cache[V]) Restrict(maxAge time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxAge = maxAge
	if maxAge <= 0 {
		return
	}
	now := time.Now().UnixNano()
	for _, m := range [2]map[Key]entry[V]{c.cur, c.prev} {
		for k, e := range m {
			if until := e.read + int64(maxAge); until < e.until {
				if until <= now {
					delete(m, k)
					continue
				}
				e.until = until
				m[k] = e
			}
		}
	}
}

// len is how many entries the cache holds. The caller holds mu.
func (c *Cache[V]) len() int { return len(c.cur) + len(c.prev) }

// evict makes room for one entry, from the older generation first. The
// caller holds mu.
func (c *Cache[V]) evict(now int64) {
	scanned := 0
sample:
	for _, m := range [2]map[Key]entry[V]{c.prev, c.cur} {
		for k, e := range m {
			if now >= e.until {
				delete(m, k)
			}
			// Bound the work under the lock; map order is random, so
			// this samples the cache.
			if scanned++; scanned >= 64 {
				break sample
			}
		}
	}
	if c.len() < c.capacity {
		return
	}
	for _, m := range [2]map[Key]entry[V]{c.prev, c.cur} {
		for k := range m {
			delete(m, k)
			return
		}
	}
}

// Rotate drops the older generation of entries, expired or not, and makes
// the current one the older: an entry stored before it lives until the next.
// Called every d, with d no shorter than any entry's time to live, it never
// drops a live entry, and it keeps nothing more than 2d after it was stored.
func (c *Cache[V]) Rotate() {
	// The new map is made before taking the lock that lookups wait on,
	// sized for what the current one holds (an idle cache makes a small one).
	c.mu.RLock()
	n := len(c.cur)
	c.mu.RUnlock()
	next := newMap[V](min(n, c.capacity))
	c.mu.Lock()
	c.prev, c.cur = c.cur, next
	c.mu.Unlock()
}

// Len returns how many entries the cache holds, expired or not.
func (c *Cache[V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.len()
}

// Forget drops the entries under keys and starts a new generation, so that
// values read before it are not stored afterwards.
func (c *Cache[V]) Forget(keys ...Key) {
	c.mu.Lock()
	c.gen.Add(1)
	for _, k := range keys {
		delete(c.cur, k)
		delete(c.prev, k)
	}
	c.mu.Unlock()
}

// Clear drops every entry and starts a new generation.
func (c *Cache[V]) Clear() {
	c.mu.Lock()
	c.gen.Add(1)
	clear(c.cur)
	clear(c.prev)
	c.mu.Unlock()
}
