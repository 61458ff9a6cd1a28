package pat

import (
	"testing"
	"time"
)

// The cache rotates every cache TTL, which no answer outlives, but never
// more often than once a second.
func TestRotationInterval(t *testing.T) {
	for _, tt := range []struct{ ttl, want time.Duration }{
		{30 * time.Second, 30 * time.Second},
		{60 * time.Second, 60 * time.Second},
		{time.Second, time.Second},
		{300 * time.Millisecond, time.Second},
		{time.Nanosecond, time.Second},
	} {
		if got := rotationInterval(tt.ttl); got != tt.want {
			t.Errorf("rotationInterval(%s) = %s, want %s", tt.ttl, got, tt.want)
		}
	}
}
