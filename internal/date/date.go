// Package date reads and writes the timestamps of patd's interfaces: RFC 3339 in
// UTC with milliseconds on output; RFC 3339 or epoch milliseconds on input.
package date

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Layout is the output form, e.g. 2026-01-31T12:00:00.000Z.
const Layout = "2006-01-02T15:04:05.000Z07:00"

// ErrInvalid is returned for input that is not a readable timestamp.
var ErrInvalid = errors.New("date: want an RFC 3339 string or an integer of epoch milliseconds")

// Format renders t in UTC with milliseconds.
func Format(t time.Time) string {
	return t.UTC().Format(Layout)
}

// FormatPtr is Format for an optional time; nil stays nil.
func FormatPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := Format(*t)
	return &s
}

// Years 0 to 9999 are all RFC 3339 can write.
var (
	minMillis = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxMillis = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
)

// Parse reads a timestamp from a decoded JSON or GraphQL value: a string in
// RFC 3339, or a whole number of milliseconds since the Unix epoch.
func Parse(v any) (time.Time, error) {
	switch v := v.(type) {
	case string:
		return ParseString(v)
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return FromMillis(n)
		}
		f, err := v.Float64()
		if err != nil {
			return time.Time{}, ErrInvalid
		}
		return fromFloat(f)
	case int:
		return FromMillis(int64(v))
	case int64:
		return FromMillis(v)
	case float64:
		return fromFloat(v)
	default:
		return time.Time{}, ErrInvalid
	}
}

// ParseString reads an RFC 3339 timestamp.
func ParseString(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q", ErrInvalid, truncate(s))
	}
	// An offset can carry a valid local time outside what UTC output can write.
	if ms := t.UnixMilli(); ms < minMillis || ms > maxMillis {
		return time.Time{}, fmt.Errorf("%w: %q is out of range", ErrInvalid, truncate(s))
	}
	return t.UTC(), nil
}

// FromMillis converts epoch milliseconds to a time.
func FromMillis(ms int64) (time.Time, error) {
	if ms < minMillis || ms > maxMillis {
		return time.Time{}, ErrInvalid
	}
	return time.UnixMilli(ms).UTC(), nil
}

// fromFloat accepts JSON numbers such as 1.7e12 that are whole milliseconds.
func fromFloat(f float64) (time.Time, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || f < float64(minMillis) || f > float64(maxMillis) {
		return time.Time{}, ErrInvalid
	}
	return FromMillis(int64(f))
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
