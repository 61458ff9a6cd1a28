package pat

import (
	"context"
	"sync"
	"time"

	"github.com/bits-and-blooms/bloom/v3"

	"github.com/alternatefutures/patd/db"
)

// Tokens without patd's checksum (those imported from the old backend) can
// only be told from random strings by a lookup. So that a random string never
// costs a query, every replica keeps the hashes of the imported tokens in a
// Bloom filter, loaded at start and extended from pat_imported_hashes every
// importedRefresh: a string not in the filter is NOT_FOUND with no I/O. A
// false positive (one in a thousand) costs one lookup; a token deleted since
// it was imported stays in the filter and is looked up, as before.
const (
	importedRefresh   = 10 * time.Second
	importedPage      = 10_000
	importedFalseRate = 0.001
	importedMinSize   = 100_000
)

// importedSet is the filter of imported token hashes.
type importedSet struct {
	mu     sync.RWMutex
	filter *bloom.BloomFilter
	size   uint  // entries the filter was sized for
	n      uint  // entries added
	seq    int64 // the last pat_imported_hashes.seq added
	loaded bool  // false until the first full load: until then, look up
}

func newImportedSet() *importedSet {
	return &importedSet{filter: bloom.NewWithEstimates(importedMinSize, importedFalseRate), size: importedMinSize}
}

// mayContain reports whether h may be an imported token's hash. Before the
// first load it cannot tell, and says yes.
func (s *importedSet) mayContain(h [32]byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.loaded || s.filter.Test(h[:])
}

// refresh adds the hashes imported since the last refresh, all of them the
// first time. A filter outgrowing its size is rebuilt twice as large, so the
// false-positive rate stays as designed.
func (s *importedSet) refresh(ctx context.Context, q *db.Queries) error {
	s.mu.RLock()
	after, full := s.seq, s.n >= s.size
	s.mu.RUnlock()
	if full {
		return s.rebuild(ctx, q)
	}
	for {
		rows, err := q.ImportedHashesSince(ctx, db.ImportedHashesSinceParams{AfterSeq: after, MaxRows: importedPage})
		if err != nil {
			return err
		}
		s.mu.Lock()
		for _, r := range rows {
			s.filter.Add(r.TokenHash)
			s.n++
			s.seq = r.Seq
		}
		after = s.seq
		if len(rows) < importedPage {
			s.loaded = true
		}
		s.mu.Unlock()
		if len(rows) < importedPage {
			return nil
		}
	}
}

// rebuild loads every imported hash into a new filter twice the size, then
// swaps it in; the old one answers meanwhile.
func (s *importedSet) rebuild(ctx context.Context, q *db.Queries) error {
	s.mu.RLock()
	size := max(2*s.n, importedMinSize)
	s.mu.RUnlock()
	next := &importedSet{filter: bloom.NewWithEstimates(size, importedFalseRate), size: size}
	if err := next.refresh(ctx, q); err != nil {
		return err
	}
	s.mu.Lock()
	s.filter, s.size, s.n, s.seq, s.loaded = next.filter, next.size, next.n, next.seq, true
	s.mu.Unlock()
	return nil
}

// RunImportedRefresher keeps this replica's filter of imported token hashes
// current until ctx is done: at once, then every importedRefresh.
func (v *Validator) RunImportedRefresher(ctx context.Context) {
	t := time.NewTicker(importedRefresh)
	defer t.Stop()
	for {
		if err := v.imported.refresh(ctx, v.q); err != nil && ctx.Err() == nil {
			v.log.WarnContext(ctx, "imported token hashes: refresh failed; will retry", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshImported reads imported token hashes now, for a replica that must
// see an import at once: tests, which would otherwise wait for the next
// periodic refresh (a running patd relies on that refresh alone).
func (v *Validator) RefreshImported(ctx context.Context) error {
	return v.imported.refresh(ctx, v.q)
}
