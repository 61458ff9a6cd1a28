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
