package pat

// Test hooks for the external tests of this package.

// SetBeforeCacheHook makes f run after every lookup, just before its answer
// is stored in the cache.
func (v *Validator) SetBeforeCacheHook(f func()) { v.beforeCache.Store(&f) }

// RevocationGeneration moves whenever cached answers are invalidated.
func (v *Validator) RevocationGeneration() uint64 { return v.cache.Generation() }
