// Package logging builds patd's logger: JSON lines through log/slog, with
// anything that looks like a token or a JWT redacted before it is written.
package logging

import (
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
				if err, ok := a.Value.Any().(error); ok {
					a.Value = slog.StringValue(Redact(err.Error()))
				}
			}
			return a
		},
	}))
}
