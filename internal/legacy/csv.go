// Package legacy reads the personal access tokens exported from the old
// TypeScript backend (`COPY personal_access_token TO … CSV HEADER`).
package legacy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Token is one exported row.
type Token struct {
	Line       int // line in the file; the header is line 1
	ID         string
	Name       string
	Secret     string
	UserID     string
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	CreatedAt  *time.Time // nil when the export had none
	UpdatedAt  *time.Time
}

// RowError is a row that cannot be imported.
type RowError struct {
	Line   int
	Reason string
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// columns maps every accepted header (camelCase as exported, or snake_case) to
// its field.
var columns = map[string]string{
	"id": "id", "name": "name", "token": "token",
	"userid": "userId", "user_id": "userId",
	"expiresat": "expiresAt", "expires_at": "expiresAt",
	"lastusedat": "lastUsedAt", "last_used_at": "lastUsedAt",
	"createdat": "createdAt", "created_at": "createdAt",
	"updatedat": "updatedAt", "updated_at": "updatedAt",
}

// Reader reads tokens from an export.
type Reader struct {
	r     *csv.Reader
	index map[string]int
}

// NewReader reads the header of the export in r.
func NewReader(r io.Reader) (*Reader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	index := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if f, ok := columns[h]; ok {
			index[f] = i
		}
	}
	for _, f := range []string{"id", "token", "userId"} {
		if _, ok := index[f]; !ok {
			return nil, fmt.Errorf("CSV header has no %s column", f)
		}
	}
	return &Reader{r: cr, index: index}, nil
}

// Next returns the next row. A row that cannot be imported comes back as a
// *RowError, and reading can go on; io.EOF ends the file. Any other error
// means the file cannot be read further.
func (r *Reader) Next() (Token, error) {
	rec, err := r.r.Read()
	if err != nil {
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			return Token{}, &RowError{Line: perr.StartLine, Reason: "unreadable CSV: " + perr.Err.Error()}
		}
		return Token{}, err
	}
	line, _ := r.r.FieldPos(0)
	field := func(name string) string {
		if i, ok := r.index[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	for _, f := range rec {
		// PostgreSQL text cannot hold either; one such row must not sink the
		// whole import.
		if !utf8.ValidString(f) || strings.IndexByte(f, 0) >= 0 {
			return Token{}, &RowError{Line: line, Reason: "a field is not valid UTF-8 text"}
		}
	}
	t := Token{Line: line, ID: field("id"), Name: field("name"), Secret: field("token"), UserID: field("userId")}
	switch {
	case t.ID == "":
		return Token{}, &RowError{Line: line, Reason: "missing id"}
	case t.Secret == "":
		return Token{}, &RowError{Line: line, Reason: "missing token"}
	case t.UserID == "":
		return Token{}, &RowError{Line: line, Reason: "missing userId"}
	}
	for _, ts := range []struct {
		name string
		dst  **time.Time
	}{{"expiresAt", &t.ExpiresAt}, {"lastUsedAt", &t.LastUsedAt}, {"createdAt", &t.CreatedAt}, {"updatedAt", &t.UpdatedAt}} {
		v := field(ts.name)
		if v == "" {
			continue
		}
		tm, err := ParseTime(v)
		if err != nil {
			return Token{}, &RowError{Line: line, Reason: fmt.Sprintf("unreadable %s %q", ts.name, clip(v))}
		}
		*ts.dst = &tm
	}
	return t, nil
}

// layouts are the forms PostgreSQL writes timestamps in (with and without a
// zone), and RFC 3339.
var layouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// ParseTime reads a timestamp as PostgreSQL exports it; one without a zone is UTC.
func ParseTime(s string) (time.Time, error) {
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable timestamp %q", clip(s))
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
