package cache_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/cache"
)

// key returns a distinct key for i.
func key(i int) cache.Key {
	var k cache.Key
	copy(k[:], fmt.Sprintf("key-%d", i))
	return k
}

// hits counts the keys 0..n-1 that are cached.
func hits(c *cache.Cache[int], n int) int {
	found := 0
	for i := range n {
		if _, ok := c.Get(key(i)); ok {
			found++
		}
	}
	return found
}

func TestGetSet(t *testing.T) {
	t.Parallel()
	c := cache.New[string](10)
	if v, ok := c.Get(key(1)); ok || v != "" {
		t.Fatalf("empty cache: Get = %q, %v; want the zero value and a miss", v, ok)
	}
	set(c, key(1), "one", time.Hour)
	set(c, key(2), "two", time.Hour)
	if v, ok := c.Get(key(1)); !ok || v != "one" {
		t.Errorf("Get(1) = %q, %v; want one", v, ok)
	}
	if v, ok := c.Get(key(2)); !ok || v != "two" {
		t.Errorf("Get(2) = %q, %v; want two", v, ok)
	}
	set(c, key(1), "uno", time.Hour)
	if v, ok := c.Get(key(1)); !ok || v != "uno" {
		t.Errorf("Get(1) after a second Set = %q, %v; want uno", v, ok)
	}
}

func TestEntriesExpire(t *testing.T) {
	t.Parallel()
	c := cache.New[int](10)
	set(c, key(1), 1, time.Nanosecond)
	set(c, key(2), 2, time.Hour)
	// The nanosecond is certainly over once a millisecond has passed; there
	// is no upper bound to wait for, so no timing can make this flaky.
	time.Sleep(time.Millisecond)
	if v, ok := c.Get(key(1)); ok {
		t.Errorf("an entry outlived its TTL: Get = %d", v)
	}
	if v, ok := c.Get(key(2)); !ok || v != 2 {
		t.Errorf("an entry within its TTL: Get = %d, %v", v, ok)
	}
}

// A TTL of zero or less means "do not cache", not "cache forever".
func TestNonPositiveTTLStoresNothing(t *testing.T) {
	t.Parallel()
	c := cache.New[int](10)
	set(c, key(1), 1, 0)
	set(c, key(2), 2, -time.Second)
	if n := hits(c, 3); n != 0 {
		t.Errorf("%d entries stored with a TTL of zero or less", n)
	}
}

func TestDeleteAndClear(t *testing.T) {
	t.Parallel()
	c := cache.New[int](10)
	for i := range 5 {
		set(c, key(i), i, time.Hour)
	}
	c.Forget(key(2))
	c.Forget(key(99)) // absent: nothing happens
	if _, ok := c.Get(key(2)); ok {
		t.Error("a deleted entry is still served")
	}
	if n := hits(c, 5); n != 4 {
		t.Errorf("Delete dropped %d entries, want 1", 5-n)
	}
	c.Clear()
	if n := hits(c, 5); n != 0 {
		t.Errorf("%d entries left after Clear", n)
	}
	set(c, key(7), 7, time.Hour)
	if v, ok := c.Get(key(7)); !ok || v != 7 {
		t.Errorf("Set after Clear: Get = %d, %v", v, ok)
	}
}

func TestSizeIsBounded(t *testing.T) {
	t.Parallel()
	const capacity = 10
	c := cache.New[int](capacity)
	for i := range 100 {
		set(c, key(i), i, time.Hour)
		// The entry just set is always kept: eviction makes room for it.
		if v, ok := c.Get(key(i)); !ok || v != i {
			t.Fatalf("entry %d not stored when the cache was full", i)
		}
	}
	if n := hits(c, 100); n != capacity {
		t.Errorf("%d entries cached, want the capacity, %d", n, capacity)
	}
}

// Replacing an entry that is already cached takes no room, so it evicts nothing.
func TestReplacingInAFullCacheEvictsNothing(t *testing.T) {
	t.Parallel()
	c := cache.New[int](3)
	for i := range 3 {
		set(c, key(i), i, time.Hour)
	}
	set(c, key(1), 10, time.Hour)
	if n := hits(c, 3); n != 3 {
		t.Errorf("%d of 3 entries left after replacing one in a full cache", n)
	}
	if v, _ := c.Get(key(1)); v != 10 {
		t.Errorf("replaced entry = %d, want 10", v)
	}
}

// A full cache drops expired entries before live ones.
func TestEvictionPrefersExpiredEntries(t *testing.T) {
	t.Parallel()
	c := cache.New[int](4)
	set(c, key(0), 0, time.Hour)
	for i := 1; i < 4; i++ {
		set(c, key(i), i, time.Nanosecond)
	}
	time.Sleep(time.Millisecond) // the three short entries have expired
	for i := 4; i < 7; i++ {
		set(c, key(i), i, time.Hour)
	}
	for _, i := range []int{0, 4, 5, 6} {
		if _, ok := c.Get(key(i)); !ok {
			t.Errorf("live entry %d was evicted while expired ones could go", i)
		}
	}
}

func TestZeroCapacityCachesNothing(t *testing.T) {
	t.Parallel()
	for _, capacity := range []int{0, -1} {
		c := cache.New[int](capacity)
		set(c, key(1), 1, time.Hour)
		if _, ok := c.Get(key(1)); ok {
			t.Errorf("capacity %d: an entry was cached", capacity)
		}
	}
}

// Run with -race: readers, writers, deleters and clearers at once. Every hit
// must return the value stored under its key, and the bound must hold.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	const capacity, keys, workers, rounds = 50, 200, 8, 2000
	c := cache.New[int](capacity)
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				k := (w*rounds + i) % keys
				switch i % 10 {
				case 0:
					c.Forget(key(k))
				case 1:
					if w == 0 && i%500 == 1 {
						c.Clear()
					}
				case 2, 3, 4:
					set(c, key(k), k, time.Hour)
				default:
					if v, ok := c.Get(key(k)); ok && v != k {
						errs <- fmt.Sprintf("key %d holds %d", k, v)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := hits(c, keys); n > capacity {
		t.Errorf("%d entries cached, over the capacity of %d", n, capacity)
	}
}

// set stores v under k for ttl from now, whatever was invalidated before.
func set[V any](c *cache.Cache[V], k cache.Key, v V, ttl time.Duration) {
	c.SetIf(k, v, time.Now(), ttl, c.Generation())
}

// An entry lives through one rotation and is gone after the second,
// expired or not; storing a key again moves it to the new generation.
func TestRotateDropsTheOlderGeneration(t *testing.T) {
	t.Parallel()
	c := cache.New[int](100)
	set(c, key(1), 1, time.Hour)
	set(c, key(2), 2, time.Hour)
	c.Rotate()
	if got := hits(c, 3); got != 2 || c.Len() != 2 {
		t.Fatalf("after one rotation: %d of 2 entries found, Len %d", got, c.Len())
	}
	set(c, key(2), 20, time.Hour) // stored again: now in the current generation
	set(c, key(3), 3, time.Hour)
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3: a key is in one generation at most", c.Len())
	}
	c.Rotate()
	if _, ok := c.Get(key(1)); ok {
		t.Error("an entry outlived two rotations")
	}
	if v, ok := c.Get(key(2)); !ok || v != 20 {
		t.Errorf("an entry stored again after the first rotation: Get = %d, %v; want 20", v, ok)
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	c.Rotate()
	c.Rotate()
	if c.Len() != 0 || hits(c, 4) != 0 {
		t.Errorf("two rotations with nothing stored left %d entries", c.Len())
	}
}

// Capacity counts both generations, eviction takes from the older first,
// and Forget, Clear and Restrict reach the older generation too.
func TestGenerationsShareCapacityAndInvalidation(t *testing.T) {
	t.Parallel()
	c := cache.New[int](4)
	for i := range 3 {
		set(c, key(i), i, time.Hour)
	}
	c.Rotate()
	set(c, key(3), 3, time.Hour)
	set(c, key(4), 4, time.Hour) // full: one of the older generation goes
	if c.Len() != 4 {
		t.Fatalf("Len = %d, want the capacity 4", c.Len())
	}
	if _, ok := c.Get(key(3)); !ok {
		t.Error("eviction took from the current generation while the older had entries")
	}
	if hits(c, 3) != 2 {
		t.Errorf("%d of the older generation left, want 2", hits(c, 3))
	}

	c.Forget(key(0), key(1), key(2))
	if hits(c, 3) != 0 {
		t.Error("Forget left an entry of the older generation")
	}
	set(c, key(5), 5, time.Hour)
	c.Rotate()
	if !c.SetIf(key(6), 6, time.Now().Add(-2*time.Second), time.Hour, c.Generation()) {
		t.Fatal("SetIf refused a value read 2 s ago with a ttl of an hour")
	}
	c.Rotate()
	c.Restrict(time.Second) // key(6), read 2 s ago, is in the older generation now
	if _, ok := c.Get(key(6)); ok {
		t.Error("Restrict left an entry of the older generation that it had made expire")
	}
	c.Restrict(0)

	set(c, key(7), 7, time.Hour)
	c.Rotate()
	set(c, key(8), 8, time.Hour)
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want one entry in each generation", c.Len())
	}
	c.Clear()
	if c.Len() != 0 || hits(c, 9) != 0 {
		t.Errorf("Clear left %d entries", c.Len())
	}
}

// Storing again a key of the older generation, in a full cache, moves it
// and evicts nothing.
func TestStoringAKeyOfTheOlderGenerationEvictsNothing(t *testing.T) {
	t.Parallel()
	c := cache.New[int](3)
	set(c, key(0), 0, time.Hour)
	set(c, key(1), 1, time.Hour)
	c.Rotate()
	set(c, key(2), 2, time.Hour) // full: two old, one current
	set(c, key(0), 10, time.Hour)
	if c.Len() != 3 || hits(c, 3) != 3 {
		t.Fatalf("Len %d, %d of 3 keys found: storing a key again evicted another", c.Len(), hits(c, 3))
	}
	if v, _ := c.Get(key(0)); v != 10 {
		t.Errorf("Get(0) = %d, want the value stored again, 10", v)
	}
	c.Rotate() // key(0) moved to the current generation: it stays, key(1) goes
	if _, ok := c.Get(key(0)); !ok {
		t.Error("a key stored again went with its old generation")
	}
	if _, ok := c.Get(key(1)); ok {
		t.Error("key(1) outlived two rotations")
	}
	if _, ok := c.Get(key(2)); !ok {
		t.Error("key(2), stored after the first rotation, is gone after the second")
	}
}

// Rotation runs beside lookups and stores (go test -race).
func TestRotateConcurrentWithUse(t *testing.T) {
	t.Parallel()
	c := cache.New[int](2_000)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5_000 {
				k := key(w*5_000 + i)
				set(c, k, i, time.Hour)
				if v, ok := c.Get(k); ok && v != i {
					t.Errorf("Get = %d, want %d", v, i)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			c.Rotate()
		}
	})
	wg.Wait()
	if n := c.Len(); n > 2_000 {
		t.Fatalf("%d entries in a cache of 2000", n)
	}
}
