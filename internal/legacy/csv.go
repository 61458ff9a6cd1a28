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

	"github.com/alternatefutures/patd/internal/token"
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

// NewReader reads the header of the export in r. Reading fails, with
// ErrLineTooLong, at a line longer than MaxLineLength.
func NewReader(r io.Reader) (*Reader, error) {
	cr := csv.NewReader(&lineLimiter{r: r}) // csv.Reader buffers
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
	if reason := t.check(); reason != "" {
		return Token{}, &RowError{Line: line, Reason: reason}
	}
	for _, ts := range []struct {
		name string
		dst  **time.Time
	}{{"expiresAt", &t.ExpiresAt}, {"lastUsedAt", &t.LastUsedAt}, {"createdAt", &t.CreatedAt}, {"updatedAt", &t.UpdatedAt}} {
		tm, reason := timestamp(ts.name, field(ts.name))
		if reason != "" {
			return Token{}, &RowError{Line: line, Reason: reason}
		}
		*ts.dst = tm
	}
	return t, nil
}

// check tells what makes t impossible to import ("" when nothing), and
// normalises its name.
func (t *Token) check() string {
	switch {
	case t.ID == "":
		return "missing id"
	case t.Secret == "":
		return "missing token"
	case t.UserID == "":
		return "missing userId"
	case len(t.ID) > maxIDLength || len(t.UserID) > maxIDLength:
		return fmt.Sprintf("id or userId longer than %d bytes", maxIDLength)
	case token.Classify(t.Secret) == token.Malformed:
		// It could never validate: longer than any token, with spaces or
		// control characters, or patd's own form with a wrong checksum.
		return "the token is not one that can ever validate"
	}
	if t.Name != "" {
		name, err := token.NormalizeName(t.Name)
		if err != nil {
			return fmt.Sprintf("name %q breaks the name rule", clip(t.Name))
		}
		t.Name = name
	}
	return ""
}

// timestamp reads the column name's value v: nil when empty, else a time
// between minYear and maxYear, or the reason it is not one.
func timestamp(name, v string) (*time.Time, string) {
	if v == "" {
		return nil, ""
	}
	tm, err := ParseTime(v)
	if err != nil {
		return nil, fmt.Sprintf("unreadable %s %q", name, clip(v))
	}
	if tm.Year() < minYear || tm.Year() > maxYear {
		return nil, fmt.Sprintf("%s %q is not between the years %d and %d", name, clip(v), minYear, maxYear)
	}
	return &tm, ""
}

// Bounds of what a row may hold: nothing the old backend wrote is outside
// them, and what is, is a broken row rather than a token.
const (
	maxIDLength = 256
	minYear     = 1970
	maxYear     = 2200
	// MaxLineLength bounds one line of the file, so that a file without
	// line breaks cannot make the reader hold it whole.
	MaxLineLength = 64 << 10
)

// ErrLineTooLong ends an import whose file has a line over MaxLineLength.
var ErrLineTooLong = fmt.Errorf("a line is longer than %d bytes", MaxLineLength)

// lineLimiter passes bytes through, failing once a line runs past
// MaxLineLength without a line break.
type lineLimiter struct {
	r    io.Reader
	line int // bytes since the last line break
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			l.line = 0
		} else if l.line++; l.line > MaxLineLength {
			return 0, ErrLineTooLong
		}
	}
	return n, err
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
