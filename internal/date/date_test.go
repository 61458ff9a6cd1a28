package date

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	ref      = time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	refMilli = ref.UnixMilli()
	firstMs  = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	lastMs   = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want time.Time
	}{
		{"RFC 3339 Z", "2026-01-31T12:00:00Z", ref},
		{"RFC 3339 with ms", "2026-01-31T12:00:00.000Z", ref},
		{"RFC 3339 +02:00", "2026-01-31T14:00:00+02:00", ref},
		{"RFC 3339 -05:30", "2026-01-31T06:30:00-05:30", ref},
		{"RFC 3339 +00:00", "2026-01-31T12:00:00+00:00", ref},
		{"RFC 3339 crossing a day", "2026-02-01T01:00:00+13:00", ref},
		{"RFC 3339 fraction", "2026-01-31T12:00:00.123Z", ref.Add(123 * time.Millisecond)},
		{"RFC 3339 nanoseconds", "2026-01-31T12:00:00.123456789Z", ref.Add(123456789)},
		{"RFC 3339 year 0", "0000-01-01T00:00:00Z", time.UnixMilli(firstMs).UTC()},
		{"RFC 3339 year 9999", "9999-12-31T23:59:59.999Z", time.UnixMilli(lastMs).UTC()},
		{"RFC 3339 before the epoch", "1969-12-31T23:59:59Z", time.Unix(-1, 0).UTC()},
		{"json.Number ms", json.Number(strconv.FormatInt(refMilli, 10)), ref},
		{"json.Number zero", json.Number("0"), time.Unix(0, 0).UTC()},
		{"json.Number negative", json.Number("-1000"), time.Unix(-1, 0).UTC()},
		{"json.Number known", json.Number("1700000000000"), time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)},
		{"json.Number exponent", json.Number("1.7e12"), time.UnixMilli(1.7e12).UTC()},
		{"json.Number whole with .0", json.Number("1700000000000.0"), time.UnixMilli(1700000000000).UTC()},
		{"json.Number first", json.Number(strconv.FormatInt(firstMs, 10)), time.UnixMilli(firstMs).UTC()},
		{"json.Number last", json.Number(strconv.FormatInt(lastMs, 10)), time.UnixMilli(lastMs).UTC()},
		{"int64", int64(refMilli), ref},
		{"int64 with ms", int64(refMilli + 5), ref.Add(5 * time.Millisecond)},
		{"int", int(refMilli), ref},
		{"int zero", 0, time.Unix(0, 0).UTC()},
		{"float64", float64(refMilli), ref},
		{"float64 exponent", 1.7e12, time.UnixMilli(1.7e12).UTC()},
		{"float64 negative zero", math.Copysign(0, -1), time.Unix(0, 0).UTC()},
		{"float64 first", float64(firstMs), time.UnixMilli(firstMs).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%#v): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("Parse(%#v) = %s, want %s", tt.in, got, tt.want)
			}
			if got.Location() != time.UTC {
				t.Fatalf("Parse(%#v) location = %v, want UTC", tt.in, got.Location())
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		in   any
	}{
		{"empty string", ""},
		{"garbage", "garbage"},
		{"date only", "2026-01-31"},
		{"no zone", "2026-01-31T12:00:00"},
		{"space separator", "2026-01-31 12:00:00Z"},
		{"month 13", "2026-13-01T00:00:00Z"},
		{"February 30", "2026-02-30T00:00:00Z"},
		{"hour 24", "2026-01-31T24:00:00Z"},
		{"second 60", "2026-01-31T23:59:60Z"},
		{"offset hour 25", "2026-01-31T12:00:00+25:00"},
		{"five-digit year", "10000-01-01T00:00:00Z"},
		{"negative year", "-0001-01-01T00:00:00Z"},
		{"digits as a string", strconv.FormatInt(refMilli, 10)},
		{"leading space", " 2026-01-31T12:00:00Z"},
		{"trailing space", "2026-01-31T12:00:00Z "},
		{"RFC 1123", "Sat, 31 Jan 2026 12:00:00 GMT"},
		{"very long", strings.Repeat("9", 10000)},
		{"year 0 with positive offset: before year 0 in UTC", "0000-01-01T00:00:00+01:00"},
		{"year 9999 with negative offset: year 10000 in UTC", "9999-12-31T23:30:00-01:00"},
		{"json.Number fractional ms", json.Number("1.5")},
		{"json.Number fractional large", json.Number("1700000000000.5")},
		{"json.Number garbage", json.Number("abc")},
		{"json.Number empty", json.Number("")},
		{"json.Number overflow", json.Number("1e400")},
		{"json.Number too large", json.Number(strconv.FormatInt(lastMs+1, 10))},
		{"json.Number too small", json.Number(strconv.FormatInt(firstMs-1, 10))},
		{"json.Number huge int", json.Number("99999999999999999999999")},
		{"json.Number NaN", json.Number("NaN")},
		{"json.Number Inf", json.Number("Inf")},
		{"int64 too large", int64(lastMs + 1)},
		{"int64 too small", int64(firstMs - 1)},
		{"int64 max", int64(math.MaxInt64)},
		{"int64 min", int64(math.MinInt64)},
		{"int max", int(math.MaxInt64)},
		{"float64 fractional", 1.5},
		{"float64 fractional large", 1700000000000.25},
		{"float64 NaN", math.NaN()},
		{"float64 +Inf", math.Inf(1)},
		{"float64 -Inf", math.Inf(-1)},
		{"float64 too large", 1e20},
		{"float64 too small", -1e20},
		{"float64 max", math.MaxFloat64},
		{"float64 just past the end", float64(lastMs + 1)},
		{"bool true", true},
		{"bool false", false},
		{"nil", nil},
		{"map", map[string]any{"ms": 1}},
		{"slice", []any{refMilli}},
		{"int32", int32(1)},
		{"uint64", uint64(1)},
		{"float32", float32(1)},
		{"time.Time", ref},
		{"string pointer", new(string)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%#v) = %s, nil; want an error", tt.in, Format(got))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%#v) error %v does not wrap ErrInvalid", tt.in, err)
			}
			if !got.IsZero() {
				t.Fatalf("Parse(%#v) returned %s with an error", tt.in, got)
			}
		})
	}
}

func TestParseStringErrorIsShort(t *testing.T) {
	_, err := ParseString(strings.Repeat("x", 5000))
	if err == nil {
		t.Fatal("no error")
	}
	if len(err.Error()) > 300 {
		t.Errorf("error message is %d bytes long; the input should be truncated", len(err.Error()))
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"whole seconds", ref, "2026-01-31T12:00:00.000Z"},
		{"milliseconds", ref.Add(123 * time.Millisecond), "2026-01-31T12:00:00.123Z"},
		{"sub-millisecond truncated", ref.Add(999999999), "2026-01-31T12:00:00.999Z"},
		{"microseconds truncated", ref.Add(1500 * time.Microsecond), "2026-01-31T12:00:00.001Z"},
		{"other zone", time.Date(2026, 1, 31, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600)), "2026-01-31T12:00:00.000Z"},
		{"negative offset crossing a day", time.Date(2026, 1, 31, 23, 0, 0, 0, time.FixedZone("", -5*3600)), "2026-02-01T04:00:00.000Z"},
		{"local", ref.Local(), "2026-01-31T12:00:00.000Z"},
		{"epoch", time.Unix(0, 0), "1970-01-01T00:00:00.000Z"},
		{"before the epoch", time.Unix(0, 0).Add(-time.Millisecond), "1969-12-31T23:59:59.999Z"},
		{"year 0", time.UnixMilli(firstMs), "0000-01-01T00:00:00.000Z"},
		{"year 9999", time.UnixMilli(lastMs), "9999-12-31T23:59:59.999Z"},
		{"leap day", time.Date(2028, 2, 29, 6, 7, 8, 9e6, time.UTC), "2028-02-29T06:07:08.009Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Format(tt.in); got != tt.want {
				t.Errorf("Format(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatPtr(t *testing.T) {
	if got := FormatPtr(nil); got != nil {
		t.Errorf("FormatPtr(nil) = %q, want nil", *got)
	}
	tm := ref
	got := FormatPtr(&tm)
	if got == nil || *got != "2026-01-31T12:00:00.000Z" {
		t.Errorf("FormatPtr(&ref) = %v", got)
	}
}

func TestRoundTrip(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("", 9*3600+1800), time.FixedZone("", -11*3600)}
	times := []time.Time{
		ref,
		ref.Add(123456789),
		ref.Add(-1),
		time.Unix(0, 0),
		time.Unix(-1, 999999999),
		time.UnixMilli(firstMs),
		time.UnixMilli(lastMs).Add(999999),
		time.Date(1900, 2, 28, 23, 59, 59, 1, time.UTC),
	}
	for _, tm := range times {
		for _, loc := range zones {
			in := tm.In(loc)
			s := Format(in)
			got, err := Parse(s)
			if err != nil {
				t.Errorf("Parse(Format(%s)) = %q: %v", in, s, err)
				continue
			}
			want := time.UnixMilli(in.UnixMilli())
			if !got.Equal(want) {
				t.Errorf("Parse(Format(%s)) = %s, want %s", in, got, want)
			}
			// Epoch milliseconds round-trip as well.
			got, err = Parse(json.Number(strconv.FormatInt(in.UnixMilli(), 10)))
			if err != nil || !got.Equal(want) {
				t.Errorf("Parse(ms of %s) = %s, %v; want %s", in, got, err, want)
			}
		}
	}
}

func TestFromMillis(t *testing.T) {
	for _, ms := range []int64{0, 1, -1, refMilli, firstMs, lastMs} {
		got, err := FromMillis(ms)
		if err != nil {
			t.Errorf("FromMillis(%d): %v", ms, err)
			continue
		}
		if got.UnixMilli() != ms || got.Location() != time.UTC {
			t.Errorf("FromMillis(%d) = %s", ms, got)
		}
	}
	for _, ms := range []int64{firstMs - 1, lastMs + 1, math.MaxInt64, math.MinInt64} {
		if got, err := FromMillis(ms); err == nil {
			t.Errorf("FromMillis(%d) = %s, want an error", ms, got)
		}
	}
}

// checkReparses asserts that Format(tm) is a valid Date that reads back to tm
// truncated to the millisecond, in years 0 to 9999.
func checkReparses(t *testing.T, input any, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Fatalf("Parse(%#v) location = %v, want UTC", input, tm.Location())
	}
	if y := tm.Year(); y < 0 || y > 9999 {
		t.Fatalf("Parse(%#v) = year %d, outside 0..9999", input, y)
	}
	out := Format(tm)
	if len(out) != len("2026-01-31T12:00:00.000Z") || !strings.HasSuffix(out, "Z") {
		t.Fatalf("Format(Parse(%#v)) = %q: not the output form", input, out)
	}
	back, err := ParseString(out)
	if err != nil {
		t.Fatalf("Format(Parse(%#v)) = %q does not re-parse: %v", input, out, err)
	}
	want := time.UnixMilli(tm.UnixMilli())
	if !back.Equal(want) {
		t.Fatalf("Format(Parse(%#v)) = %q re-parses to %s, want %s", input, out, back, want)
	}
	if Format(back) != out {
		t.Fatalf("Format is not stable: %q then %q", out, Format(back))
	}
	back, err = FromMillis(tm.UnixMilli())
	if err != nil || !back.Equal(want) {
		t.Fatalf("FromMillis(%d) = %s, %v; want %s", tm.UnixMilli(), back, err, want)
	}
}

func FuzzParseString(f *testing.F) {
	for _, s := range []string{
		"",
		"garbage",
		"2026-01-31T12:00:00Z",
		"2026-01-31T12:00:00.000Z",
		"2026-01-31T14:00:00+02:00",
		"2026-01-31T12:00:00.123456789-05:30",
		"2026-01-31t12:00:00z",
		"0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z",
		"0000-01-01T00:00:00+01:00",
		"9999-12-31T23:30:00-01:00",
		"1969-12-31T23:59:59.999Z",
		"2026-02-30T00:00:00Z",
		"2026-01-31T23:59:60Z",
		"2026-01-31T12:00:00+23:59",
		"2026-01-31 12:00:00Z",
		"1769860800000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseString(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseString(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		checkReparses(t, s, tm)
		again, err := Parse(s)
		if err != nil || !again.Equal(tm) {
			t.Fatalf("Parse(%q) = %s, %v; ParseString gave %s", s, again, err, tm)
		}
	})
}

func FuzzFromMillis(f *testing.F) {
	for _, ms := range []int64{0, 1, -1, refMilli, firstMs, firstMs - 1, lastMs, lastMs + 1, math.MaxInt64, math.MinInt64, 1 << 53, -(1 << 53)} {
		f.Add(ms)
	}
	f.Fuzz(func(t *testing.T, ms int64) {
		tm, err := FromMillis(ms)
		inRange := ms >= firstMs && ms <= lastMs
		if err != nil {
			if inRange {
				t.Fatalf("FromMillis(%d): %v; it is in range", ms, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("FromMillis(%d) error %v does not wrap ErrInvalid", ms, err)
			}
			return
		}
		if !inRange {
			t.Fatalf("FromMillis(%d) = %s; want an error", ms, tm)
		}
		if tm.UnixMilli() != ms {
			t.Fatalf("FromMillis(%d).UnixMilli() = %d", ms, tm.UnixMilli())
		}
		checkReparses(t, ms, tm)
		for _, v := range []any{ms, int(ms), json.Number(strconv.FormatInt(ms, 10))} {
			got, err := Parse(v)
			if err != nil || !got.Equal(tm) {
				t.Fatalf("Parse(%#v) = %s, %v; want %s", v, got, err, tm)
			}
		}
		// Whole float64 values read the same as the integer they hold.
		if f := float64(ms); f == math.Trunc(f) && int64(f) == ms {
			got, err := Parse(f)
			if err != nil || !got.Equal(tm) {
				t.Fatalf("Parse(float64(%d)) = %s, %v; want %s", ms, got, err, tm)
			}
		}
	})
}
