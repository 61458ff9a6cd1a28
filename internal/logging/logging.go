// Package logging builds patd's logger: JSON lines through log/slog, with
// anything that looks like a token or a JWT redacted before it is written.
package logging

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
)

// secretPattern matches PATs (af_live_…, af_test_…, any af_<env>_…) and JWTs
// (three base64url segments, the first starting like a JSON header).
var secretPattern = regexp.MustCompile(`af_[a-z]+_[0-9A-Za-z]+|eyJ[0-9A-Za-z_-]*\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]*`)

// Redact replaces every token and JWT in s with [REDACTED].
func Redact(s string) string {
	return secretPattern.ReplaceAllString(s, "[REDACTED]")
}

// New returns a JSON logger writing to w at level and above.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Value.Kind() {
			case slog.KindString:
				a.Value = slog.StringValue(Redact(a.Value.String()))
			case slog.KindAny:
				a.Value = redactAny(a.Value.Any())
			}
			return a
		},
	}))
}

// redactAny redacts a value of any other kind as the JSON handler would
// render it: errors and Stringers by their text, anything else by its JSON.
func redactAny(v any) slog.Value {
	switch v := v.(type) {
	case error:
		return slog.StringValue(Redact(v.Error()))
	case fmt.Stringer:
		return slog.StringValue(Redact(v.String()))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return slog.StringValue(Redact(fmt.Sprintf("%+v", v)))
	}
	// The pattern matches only letters, digits, '_', '-' and '.', so the
	// replacement stays inside the JSON strings it was in.
	return slog.AnyValue(json.RawMessage(secretPattern.ReplaceAll(b, []byte("[REDACTED]"))))
}
