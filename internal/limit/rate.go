package limit

import (
	"sync"
	"time"
)

// LocalRate limits how often each key may be used per window, in this process
// alone. It decides without I/O, so it can sit on the validate path.
type LocalRate struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	windows map[string]*rateWindow
	sweep   time.Time
}

type rateWindow struct {
	start time.Time
	count int
}

// NewLocalRate allows limit uses per key per window; a limit of 0 allows all.
func NewLocalRate(limit int, window time.Duration) *LocalRate {
	return &LocalRate{limit: limit, window: window, windows: make(map[string]*rateWindow)}
}

// Allow takes one use of key at now. When the key is over its limit it
// returns false and how long until its window ends.
func (r *LocalRate) Allow(key string, now time.Time) (retryAfter time.Duration, ok bool) {
	if r.limit <= 0 {
		return 0, true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.sweep) > r.window {
		// Forget keys idle for a whole window so the map stays small.
		for k, w := range r.windows {
			if now.Sub(w.start) >= r.window {
				delete(r.windows, k)
			}
		}
		r.sweep = now
	}
	w := r.windows[key]
	if w == nil {
		w = &rateWindow{start: now}
		r.windows[key] = w
	} else if now.Sub(w.start) >= r.window {
		w.start, w.count = now, 0
	}
	if w.count >= r.limit {
		return w.start.Add(r.window).Sub(now), false
	}
	w.count++
	return 0, true
}
