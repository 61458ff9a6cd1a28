// Package cache is the in-process cache of validation answers: keyed by a
// token's SHA-256 (never the token), bounded in size, each entry with its own
// time to live.
package cache

import (
	"sync"
	"time"
)

// Key is the SHA-256 of a token.
type Key = [32]byte

// Cache maps keys to values of type V for a limited time. It is safe for
// concurrent use; a hit takes a read lock and allocates nothing.
type Cache[V any] struct {
	mu       sync.RWMutex
	entries  map[Key]entry[V]
	capacity int
}

type entry[V any] struct {
	v     V
	until int64 // unix nanoseconds
}

// New returns a cache holding at most capacity entries; with a capacity of
// zero or less it holds nothing.
func New[V any](capacity int) *Cache[V] {
	return &Cache[V]{entries: make(map[Key]entry[V], max(0, min(capacity, 1024))), capacity: capacity}
}

// Get returns the value stored under k if it has not outlived its time to live.
func (c *Cache[V]) Get(k Key) (V, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || time.Now().UnixNano() >= e.until {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Set stores v under k for ttl. When the cache is full it first drops expired
// entries, and failing that an arbitrary one: cheaper than LRU bookkeeping on
// every hit, and a dropped entry costs only one query.
func (c *Cache[V]) Set(k Key, v V, ttl time.Duration) {
	if ttl <= 0 || c.capacity <= 0 {
		return
	}
	now := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.capacity {
		c.evict(now)
	}
	c.entries[k] = entry[V]{v: v, until: now + int64(ttl)}
}

// evict makes room for one entry. The caller holds mu.
func (c *Cache[V]) evict(now int64) {
	scanned := 0
	for k, e := range c.entries {
		if now >= e.until {
			delete(c.entries, k)
		}
		// Bound the work under the lock; map order is random, so this
		// samples the cache.
		if scanned++; scanned >= 64 {
			break
		}
	}
	if len(c.entries) < c.capacity {
		return
	}
	for k := range c.entries {
		delete(c.entries, k)
		return
	}
}

// Delete drops the entry under k.
func (c *Cache[V]) Delete(k Key) {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}

// Clear drops every entry.
func (c *Cache[V]) Clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
