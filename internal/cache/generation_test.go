package cache

import (
	"testing"
	"time"
)

func TestSetIfRefusesAfterInvalidation(t *testing.T) {
	c := New[string](10)
	k, other := Key{1}, Key{2}

	gen := c.Generation()
	if !c.SetIf(k, "a", time.Now(), time.Minute, gen) {
		t.Fatal("SetIf with the current generation did not store")
	}
	if v, ok := c.Get(k); !ok || v != "a" {
		t.Fatalf("Get = %q, %v", v, ok)
	}

	// An invalidation of any key between reading and storing: the value read
	// may be the one it was about.
	gen = c.Generation()
	c.Forget(other)
	if c.SetIf(k, "b", time.Now(), time.Minute, gen) {
		t.Fatal("SetIf stored a value read before a Forget")
	}
	gen = c.Generation()
	c.Clear()
	if c.SetIf(k, "c", time.Now(), time.Minute, gen) {
		t.Fatal("SetIf stored a value read before a Clear")
	}
	if _, ok := c.Get(k); ok {
		t.Fatal("Clear left an entry")
	}
}

func TestAgeCountsFromRead(t *testing.T) {
	c := New[string](10)
	k := Key{1}
	if c.SetIf(k, "old", time.Now().Add(-2*time.Second), time.Second, c.Generation()) {
		t.Fatal("stored a value read longer ago than its ttl")
	}
	c.SetIf(k, "v", time.Now().Add(-500*time.Millisecond), 600*time.Millisecond, c.Generation())
	if _, ok := c.Get(k); !ok {
		t.Fatal("a value read 500ms ago with a ttl of 600ms is gone")
	}
	time.Sleep(150 * time.Millisecond)
	if _, ok := c.Get(k); ok {
		t.Fatal("a value outlived its ttl counted from when it was read")
	}
}

func TestRestrict(t *testing.T) {
	c := New[string](10)
	old, recent, later := Key{1}, Key{2}, Key{3}
	now := time.Now()
	c.SetIf(old, "old", now.Add(-2*time.Second), time.Hour, c.Generation())
	c.SetIf(recent, "recent", now, time.Hour, c.Generation())

	c.Restrict(time.Second)
	if _, ok := c.Get(old); ok {
		t.Error("an entry read 2s ago survived Restrict(1s)")
	}
	if _, ok := c.Get(recent); !ok {
		t.Error("an entry read just now did not survive Restrict(1s)")
	}
	c.SetIf(later, "later", time.Now(), time.Hour, c.Generation())
	c.mu.RLock()
	e := c.cur[later]
	c.mu.RUnlock()
	if d := time.Duration(e.until - e.read); d != time.Second {
		t.Errorf("an entry stored while restricted lives %s, want 1s", d)
	}

	c.Restrict(0)
	c.SetIf(later, "later", time.Now(), time.Hour, c.Generation())
	c.mu.RLock()
	e = c.cur[later]
	c.mu.RUnlock()
	if d := time.Duration(e.until - e.read); d != time.Hour {
		t.Errorf("after Restrict(0) an entry lives %s, want its ttl, 1h", d)
	}
}
