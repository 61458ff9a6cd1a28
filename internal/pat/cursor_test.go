package pat

import (
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestCursorRoundTrip(t *testing.T) {
	base := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		t    time.Time
		id   string
	}{
		{"uuid", base, "01947c4e-8f5a-7b3c-9d2e-0123456789ab"},
		{"microseconds", base.Add(123456 * time.Microsecond), "id-1"},
		{"epoch", time.Unix(0, 0), "x"},
		{"other zone", base.In(time.FixedZone("", -7*3600)), "cuid_clx0123456789"},
		{"id with colons", base, "a:b:c"},
		{"id starting with colon", base, ":leading"},
		{"unicode id", base, "tökén-日本"},
		{"id with spaces", base, "an id with spaces"},
		{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "late"},
		{"long id", base, strings.Repeat("i", 150)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := encodeCursor(tt.t, tt.id)
			if strings.ContainsAny(c, "+/=") {
				t.Errorf("cursor %q is not unpadded base64url", c)
			}
			gotT, gotID, err := decodeCursor(c)
			if err != nil {
				t.Fatalf("decodeCursor(encodeCursor(%s, %q)): %v", tt.t, tt.id, err)
			}
			if !gotT.Equal(tt.t) || gotID != tt.id {
				t.Fatalf("round trip = (%s, %q), want (%s, %q)", gotT, gotID, tt.t, tt.id)
			}
			if gotT.Location() != time.UTC {
				t.Errorf("decoded time location = %v, want UTC", gotT.Location())
			}
		})
	}
}

func TestCursorTruncatesToMicroseconds(t *testing.T) {
	in := time.Date(2026, 1, 31, 12, 0, 0, 123456789, time.UTC)
	gotT, _, err := decodeCursor(encodeCursor(in, "id"))
	if err != nil {
		t.Fatal(err)
	}
	if want := in.Truncate(time.Microsecond); !gotT.Equal(want) {
		t.Errorf("decoded %s, want %s (PostgreSQL precision)", gotT, want)
	}
}

func TestCursorKnownEncoding(t *testing.T) {
	c := encodeCursor(time.UnixMicro(1700000000000000), "abc")
	if want := b64("1700000000000000:abc"); c != want {
		t.Errorf("encodeCursor = %q, want %q", c, want)
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	oversized := encodeCursor(time.Unix(0, 0), strings.Repeat("x", 300))
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not base64", "!!!not-base64!!!"},
		{"padded", b64("123:id") + "=="},
		{"std alphabet", "+/+/"},
		{"garbage base64 no colon", b64("garbage")},
		{"only micros", b64("123")},
		{"missing id", b64("123:")},
		{"missing micros", b64(":id")},
		{"only colon", b64(":")},
		{"negative micros", b64("-5:id")},
		{"min int64", b64("-9223372036854775808:id")},
		{"letters in micros", b64("abc:id")},
		{"hex micros", b64("0x10:id")},
		{"fractional micros", b64("1.5:id")},
		{"spaces in micros", b64(" 12:id")},
		{"overflowing micros", b64("99999999999999999999:id")},
		{"binary garbage", b64("\x00\x01\x02\xff")},
		{"oversized", oversized},
		{"oversized garbage", strings.Repeat("A", 257)},
		{"very long", strings.Repeat("QUFB", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotT, gotID, err := decodeCursor(tt.in)
			if err == nil {
				t.Fatalf("decodeCursor(%q) = (%s, %q), nil; want an error", tt.in, gotT, gotID)
			}
			if err != errBadCursor {
				t.Fatalf("decodeCursor(%q) error = %v, want errBadCursor", tt.in, err)
			}
		})
	}
}

// The id of a cursor goes to PostgreSQL as a text parameter, which refuses NUL
// bytes and invalid UTF-8 (SQLSTATE 22021): such a cursor would end as an
// INTERNAL_SERVER_ERROR instead of BAD_USER_INPUT. No id patd hands out has
// either, so decodeCursor must refuse them.
func TestDecodeCursorRejectsIDsPostgreSQLCannotTake(t *testing.T) {
	for _, raw := range []string{
		"123:a\x00b",
		"123:\x00",
		"123:a\xffb",
		"123:\xc3",
	} {
		c := b64(raw)
		if gotT, gotID, err := decodeCursor(c); err == nil {
			t.Errorf("decodeCursor(b64(%q)) = (%s, %q), nil; want an error", raw, gotT, gotID)
		}
	}
}

func TestDecodeCursorSizeLimit(t *testing.T) {
	// 256 characters of cursor are accepted; 257 are not.
	var at256 string
	for n := 1; n < 300; n++ {
		c := encodeCursor(time.Unix(0, 0), strings.Repeat("x", n))
		if len(c) == 256 {
			at256 = c
			break
		}
	}
	if at256 == "" {
		t.Fatal("found no id that encodes to 256 characters")
	}
	if _, _, err := decodeCursor(at256); err != nil {
		t.Errorf("256-character cursor refused: %v", err)
	}
	if _, _, err := decodeCursor(at256 + "A"); err == nil {
		t.Errorf("257-character cursor accepted")
	}
}

func TestDecodeCursorLargestMicros(t *testing.T) {
	c := b64("9223372036854775807:id")
	gotT, gotID, err := decodeCursor(c)
	if err != nil {
		t.Fatalf("decodeCursor(max int64): %v", err)
	}
	if gotT.UnixMicro() != math.MaxInt64 || gotID != "id" {
		t.Errorf("decodeCursor(max int64) = (%d, %q)", gotT.UnixMicro(), gotID)
	}
}

func FuzzDecodeCursor(f *testing.F) {
	base := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		"",
		"!!!",
		"MTIz",
		encodeCursor(base, "01947c4e-8f5a-7b3c-9d2e-0123456789ab"),
		encodeCursor(time.Unix(0, 0), "x"),
		encodeCursor(base, "a:b"),
		b64("-5:id"),
		b64("+5:id"),
		b64("0005:id"),
		b64("-0:id"),
		b64("123:"),
		b64(":id"),
		b64("9223372036854775807:id"),
		b64("9223372036854775808:id"),
		b64("123:a\x00b"),
		b64("123:a\xffb"),
		b64("123:id") + "==",
		strings.Repeat("A", 256),
		strings.Repeat("A", 257),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, id, err := decodeCursor(s)
		if err != nil {
			if err != errBadCursor {
				t.Fatalf("decodeCursor(%q) error = %v, want errBadCursor", s, err)
			}
			return
		}
		if len(s) > 256 {
			t.Fatalf("decodeCursor accepted a %d-character cursor", len(s))
		}
		if id == "" {
			t.Fatalf("decodeCursor(%q) returned an empty id", s)
		}
		if tm.Location() != time.UTC {
			t.Fatalf("decodeCursor(%q) location = %v", s, tm.Location())
		}
		if tm.UnixMicro() < 0 {
			t.Fatalf("decodeCursor(%q) = %s: before the epoch", s, tm)
		}
		if tm.Nanosecond()%1000 != 0 {
			t.Fatalf("decodeCursor(%q) = %s: finer than microseconds", s, tm)
		}
		c := encodeCursor(tm, id)
		tm2, id2, err := decodeCursor(c)
		if err != nil {
			t.Fatalf("decodeCursor(encodeCursor(%s, %q)) = %v (cursor %q from %q)", tm, id, err, c, s)
		}
		if !tm2.Equal(tm) || id2 != id {
			t.Fatalf("re-encoded cursor decodes to (%s, %q), want (%s, %q)", tm2, id2, tm, id)
		}
	})
}

// FuzzCursorRoundTrip: whatever patd encodes from a real row (a time after the
// epoch, a non-empty id), it decodes back, as long as the cursor fits.
func FuzzCursorRoundTrip(f *testing.F) {
	f.Add(int64(1769860800000000), "01947c4e-8f5a-7b3c-9d2e-0123456789ab")
	f.Add(int64(0), "x")
	f.Add(int64(math.MaxInt64), "a:b")
	f.Add(int64(1), strings.Repeat("z", 180))
	f.Fuzz(func(t *testing.T, us int64, id string) {
		if us < 0 || id == "" || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
			return
		}
		in := time.UnixMicro(us)
		c := encodeCursor(in, id)
		tm, got, err := decodeCursor(c)
		if len(c) > 256 {
			if err == nil {
				t.Fatalf("oversized cursor (%d characters) accepted", len(c))
			}
			return
		}
		if err != nil {
			t.Fatalf("decodeCursor(encodeCursor(%d, %q)): %v", us, id, err)
		}
		if tm.UnixMicro() != us || got != id {
			t.Fatalf("round trip = (%d, %q), want (%d, %q)", tm.UnixMicro(), got, us, id)
		}
	})
}

func TestPageRowsCountsOnlyWhenThePageDoesNotTell(t *testing.T) {
	errCount := errors.New("count failed")
	tests := []struct {
		name      string
		rows      int // read with first+1 as the limit
		after     string
		counted   int64
		countErr  error
		wantPage  int
		wantMore  bool
		wantTotal int64
		wantCount bool
		wantErr   error
	}{
		{name: "empty first page", rows: 0, wantTotal: 0},
		{name: "first page holds the whole list", rows: 3, wantPage: 3, wantTotal: 3},
		{name: "first page exactly full", rows: 5, wantPage: 5, wantTotal: 5},
		{name: "full first page", rows: 6, counted: 9, wantPage: 5, wantMore: true, wantTotal: 9, wantCount: true},
		{name: "page after a cursor", rows: 2, after: "c", counted: 7, wantPage: 2, wantTotal: 7, wantCount: true},
		{name: "empty page after a cursor", rows: 0, after: "c", counted: 7, wantTotal: 7, wantCount: true},
		// The count is a later snapshot: tokens deleted in between must
		// not make the total smaller than what the page shows.
		{name: "count below the page", rows: 6, counted: 2, wantPage: 5, wantMore: true, wantTotal: 6, wantCount: true},
		{name: "count fails", rows: 6, countErr: errCount, wantCount: true, wantErr: errCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counted := false
			page, more, total, err := pageRows(make([]int, tt.rows), 5, tt.after, func() (int64, error) {
				counted = true
				return tt.counted, tt.countErr
			})
			if counted != tt.wantCount {
				t.Errorf("count called: %v, want %v", counted, tt.wantCount)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(page) != tt.wantPage || more != tt.wantMore || total != tt.wantTotal {
				t.Errorf("got %d rows, more %v, total %d; want %d, %v, %d", len(page), more, total, tt.wantPage, tt.wantMore, tt.wantTotal)
			}
		})
	}
}
