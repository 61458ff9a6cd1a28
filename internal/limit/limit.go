// Package limit keeps patd's rate limits: the rolling creation quota per user,
// shared by every replica through Redis (or kept in process when there is no
// Redis), and the per-token validation rate.
package limit

import (
	"context"
	"fmt"
	"time"
)

// Usage is where a key stands in its quota window.
type Usage struct {
	Limit     int
	Window    time.Duration
	Remaining int
	// ResetAt is when the oldest use in the window leaves it; now when none.
	ResetAt time.Time
}

// ExceededError is returned when a quota has no slot left.
type ExceededError struct {
	Limit  int
	Window time.Duration
	// ResetAt is when the oldest use leaves the window, freeing a slot.
	ResetAt time.Time
}

func (e *ExceededError) Error() string {
	return fmt.Sprintf("limit: quota exceeded until %s", e.ResetAt.UTC().Format(time.RFC3339))
}

// Reservation is a slot taken from a quota, to be given back if the work it was
// taken for fails.
type Reservation struct {
	key    string
	member string
	// After is where the key stands once the slot is taken.
	After Usage
}

// Quota is a rolling-window quota: at most Limit uses per key per Window.
type Quota interface {
	// Take takes a slot for key, or returns *ExceededError.
	Take(ctx context.Context, key string) (Reservation, error)
	// Release gives back a slot that Take returned.
	Release(ctx context.Context, r Reservation) error
	// Usage tells where key stands without taking a slot.
	Usage(ctx context.Context, key string) (Usage, error)
}
