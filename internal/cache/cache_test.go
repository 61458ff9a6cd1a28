package cache

import (
	"testing"
	"time"
)

func TestSetIfRefusesAfterInvalidation(t *testing.T) {
	c := New[string](10)
	k, other := Key{1}, Key{2}

	gen := c.Generation()
	if !c.SetIf(k, "a", time.Minute, gen) {
		t.Fatal("SetIf with the current generation did not store")
	}
	if v, ok := c.Get(k); !ok || v != "a" {
		t.Fatalf("Get = %q, %v", v, ok)
	}

	// An invalidation of any key between reading and storing: the value read
	// may be the one it was about.
	gen = c.Generation()
	c.Forget(other)
	if c.SetIf(k, "b", time.Minute, gen) {
		t.Fatal("SetIf stored a value read before a Forget")
	}
	gen = c.Generation()
	c.Clear()
	if c.SetIf(k, "c", time.Minute, gen) {
		t.Fatal("SetIf stored a value read before a Clear")
	}
	if _, ok := c.Get(k); ok {
		t.Fatal("Clear left an entry")
	}
}
