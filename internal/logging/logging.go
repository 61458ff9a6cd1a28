// Package logging builds patd's logger: JSON lines through log/slog, with
// anything that looks like a token or a JWT redacted before it is written.
package logging

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"unicode/utf8"
)

// secretPattern matches PATs (af_live_…, af_test_…, any af_<env>_…) and JWTs
// (three base64url segments, the first starting like a JSON header).
var secretPattern = regexp.MustCompile(`af_[a-z]+_[0-9A-Za-z]+|eyJ[0-9A-Za-z_-]*\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]*`)

// Redact replaces every token and JWT in s with [REDACTED].
func Redact(s string) string {
	return secretPattern.ReplaceAllString(s, "[REDACTED]")
}

// MaxValueLength is the most bytes of one value (the message, a string, an
// error, anything else as JSON) a log line holds: what is logged may come
// from a client (a header, a type name, a query), and a megabyte of it per
// line would flood the log.
const MaxValueLength = 2048

// New returns a JSON logger writing to w at level and above.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Value.Kind() {
			case slog.KindString:
				a.Value = slog.StringValue(clean(a.Value.String()))
			case slog.KindAny:
				a.Value = redactAny(a.Value.Any())
			}
			return a
		},
	}))
}

// clean redacts s, then cuts it to MaxValueLength bytes. Redacting first
// means the cut cannot leave part of a secret that the pattern would no
// longer match. Only what lies far beyond the cut is dropped before
// redacting, so that a megabyte is not scanned for the sake of 2 KiB; a
// secret cut there is either still matched (a token's prefix) or harmless (a
// JWT's header and claims without the signature).
func clean(s string) string {
	size := len(s)
	if size > 4*MaxValueLength {
		s = s[:4*MaxValueLength]
	}
	s = Redact(s)
	if len(s) <= MaxValueLength && size <= 4*MaxValueLength {
		return s
	}
	n := min(MaxValueLength, len(s))
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + fmt.Sprintf("… [cut: %d bytes in all]", size)
}

// redactAny redacts a value of any other kind as the JSON handler would
// render it: errors and Stringers by their text, anything else by its JSON.
func redactAny(v any) slog.Value {
	switch v := v.(type) {
	case error:
		return slog.StringValue(clean(v.Error()))
	case fmt.Stringer:
		return slog.StringValue(clean(v.String()))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return slog.StringValue(clean(fmt.Sprintf("%+v", v)))
	}
	// The pattern matches only letters, digits, '_', '-' and '.', so the
	// replacement stays inside the JSON strings it was in.
	b = secretPattern.ReplaceAll(b, []byte("[REDACTED]"))
	if len(b) > MaxValueLength {
		// Cut JSON is no longer JSON: log its text instead.
		return slog.StringValue(clean(string(b)))
	}
	return slog.AnyValue(json.RawMessage(b))
}
