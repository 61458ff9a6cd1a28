package pat

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A cursor is the position of the last token of a page: its creation time in
// microseconds (PostgreSQL's precision) and its id, base64url-encoded so that
// callers treat it as opaque.

var errBadCursor = errors.New("unreadable cursor")

// notOurCursor is the caller's error for an after that no page of this API
// ended with (token pages and security-log pages alike).
func notOurCursor() error {
	return inputError(ReasonInvalidPagination, "after is not a cursor this API returned")
}

func encodeCursor(createdAt time.Time, id string) string {
	raw := strconv.FormatInt(createdAt.UnixMicro(), 10) + ":" + id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(s string) (time.Time, string, error) {
	if len(s) > 256 {
		return time.Time{}, "", errBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", errBadCursor
	}
	micros, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" || !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0 {
		return time.Time{}, "", errBadCursor
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil || us < 0 {
		return time.Time{}, "", errBadCursor
	}
	return time.UnixMicro(us).UTC(), id, nil
}

// checkFirst refuses a page size outside 1 to MaxPageSize.
func checkFirst(first int) error {
	if first < 1 || first > MaxPageSize {
		return inputError(ReasonInvalidPagination, "first must be between 1 and %d", MaxPageSize)
	}
	return nil
}

// pageRows makes a page of rows read newest first with first+1 as their
// limit: the rows of the page, whether a next one follows, and the total.
// A first page that is not full is the whole list, so its total is its
// length; only the other pages call count, a second statement: a count in
// the page's own statement would cost every page as much as the page again
// (on a busy table its index-only scan fetches most heap pages).
func pageRows[R any](rows []R, first int, after string, count func() (int64, error)) (page []R, more bool, total int64, err error) {
	page, more = rows[:min(len(rows), first)], len(rows) > first
	if after == "" && !more {
		return page, false, int64(len(page)), nil
	}
	if total, err = count(); err != nil {
		return nil, false, 0, err
	}
	// The count is a later snapshot than the page: never report fewer
	// tokens than the page itself shows.
	seen := int64(len(page))
	if more {
		seen++
	}
	return page, more, max(total, seen), nil
}
