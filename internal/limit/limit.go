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

// CeilSeconds is d in whole seconds, rounded up; 0 when d is not positive.
func CeilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// RetryAfter is what Retry-After and retryAfterSeconds say for a wait of d:
// whole seconds rounded up, at least 1, so a client never retries at once.
func RetryAfter(d time.Duration) int {
	return max(CeilSeconds(d), 1)
}

// DescribeWindow names a quota window for people: "day" for 24 h.
func DescribeWindow(d time.Duration) string {
	switch {
	case d == 24*time.Hour:
		return "day"
	case d == time.Hour:
		return "hour"
	case d == time.Minute:
		return "minute"
	}
	return d.String()
}
