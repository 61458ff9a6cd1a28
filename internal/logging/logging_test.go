package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	liveToken = "af_live_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
	testToken = "af_test_0123456789abcdefghijABCDEFGHIJ123456"
	// legacyToken is a token of the old backend: af_live_ + 32 base62.
	legacyToken = "af_live_0123456789abcdefghijABCDEFGHIJKL"
	jwt         = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)

var secrets = []string{liveToken, testToken, legacyToken, jwt,
	// The parts that would identify the secret on their own.
	"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "0123456789abcdefghijABCDEFGHIJ123456", "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"}

// lines decodes buf as JSON lines, failing when a line is not a JSON object.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not a JSON object (%v): %s", err, sc.Bytes())
		}
		out = append(out, m)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) && buf.Len() > 0 {
		t.Errorf("output does not end with a newline: %q", buf.String())
	}
	return out
}

func noSecrets(t *testing.T, what string, out string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s: secret %.20s… is in the log: %s", what, s, out)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"token " + liveToken + " used", "token [REDACTED] used"},
		{testToken, "[REDACTED]"},
		{"Bearer " + jwt, "Bearer [REDACTED]"},
		{"a=" + liveToken + ",b=" + jwt + ".", "a=[REDACTED],b=[REDACTED]."},
		{"af_staging_abc123", "[REDACTED]"},
		{"nothing to hide: af_ alone, eyJ alone, user af-live-1", "nothing to hide: af_ alone, eyJ alone, user af-live-1"},
		{"", ""},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo)
	log.Info("first", "n", 1)
	log.Warn("second", "route", "POST /validate")
	log.Debug("hidden below the level")
	got := lines(t, &buf)
	if len(got) != 2 {
		t.Fatalf("want 2 lines, got %d: %s", len(got), buf.String())
	}
	if got[0]["msg"] != "first" || got[0]["level"] != "INFO" || got[0]["n"] != float64(1) || got[0]["time"] == nil {
		t.Errorf("first line: %v", got[0])
	}
	if got[1]["msg"] != "second" || got[1]["level"] != "WARN" || got[1]["route"] != "POST /validate" {
		t.Errorf("second line: %v", got[1])
	}
}

func TestKeepsOtherText(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo)
	log.Info("validate: token store unavailable", "user", "user-42", "route", "POST /graphql",
		"error", errors.New("connection refused"), "masked", "af_live_AbCd…", "status", 503)
	got := lines(t, &buf)
	if len(got) != 1 {
		t.Fatalf("want 1 line: %s", buf.String())
	}
	l := got[0]
	if l["msg"] != "validate: token store unavailable" || l["user"] != "user-42" || l["route"] != "POST /graphql" ||
		l["error"] != "connection refused" || l["status"] != float64(503) {
		t.Errorf("ordinary text was changed: %v", l)
	}
	// A masked token (prefix plus 4 characters) is itself redacted by the
	// contract's pattern; nothing else on the line is.
	if m, _ := l["masked"].(string); strings.Contains(m, "AbCd") {
		t.Errorf("masked = %q", m)
	}
}

func TestRedactsStringAttributes(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo)
	log.Info("request", "token", liveToken, "authorization", "Bearer "+jwt, "other", "x "+testToken+" y", "legacy", legacyToken)
	noSecrets(t, "string attributes", buf.String())
	l := lines(t, &buf)[0]
	if l["token"] != "[REDACTED]" || l["authorization"] != "Bearer [REDACTED]" || l["other"] != "x [REDACTED] y" {
		t.Errorf("attributes: %v", l)
	}
}

func TestRedactsErrors(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo)
	err := fmt.Errorf("lookup %s: %w", liveToken, errors.New("jwt "+jwt+" rejected"))
	log.Error("failed", "error", err)
	log.Error("failed", slog.Any("err", err))
	noSecrets(t, "error attributes", buf.String())
	for _, l := range lines(t, &buf) {
		for _, k := range []string{"error", "err"} {
			if v, ok := l[k]; ok && v != "lookup [REDACTED]: jwt [REDACTED] rejected" {
				t.Errorf("%s = %v", k, v)
			}
		}
	}
}

// The message is an attribute like any other: a token interpolated into it
// must not reach the log either.
func TestRedactsMessage(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo)
	log.Info("token " + liveToken + " presented with " + jwt)
	noSecrets(t, "message", buf.String())
	if l := lines(t, &buf)[0]; l["msg"] != "token [REDACTED] presented with [REDACTED]" {
		t.Errorf("msg = %v", l["msg"])
	}
}

func TestRedactsGroupsAndWith(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo).With("bearer", jwt).WithGroup("req")
	log.Info("x", slog.Group("headers", slog.String("authorization", "Bearer "+liveToken)), "body", `{"token":"`+testToken+`"}`)
	noSecrets(t, "groups and With", buf.String())
	lines(t, &buf)
}

// Values that are neither strings nor errors reach the JSON handler as they
// are; the contract says anything that matches is redacted.
func TestRedactsOtherValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		attr slog.Attr
	}{
		{"stringer", slog.Any("v", stringer(liveToken))},
		{"string slice", slog.Any("v", []string{liveToken})},
		{"struct", slog.Any("v", struct{ Token string }{liveToken})},
		{"map", slog.Any("v", map[string]string{"authorization": "Bearer " + jwt})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			New(&buf, slog.LevelInfo).LogAttrs(t.Context(), slog.LevelInfo, "x", tc.attr)
			noSecrets(t, tc.name, buf.String())
			lines(t, &buf)
		})
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelWarn)
	log.Info("no")
	log.Warn("yes")
	log.Error("yes")
	if got := lines(t, &buf); len(got) != 2 {
		t.Errorf("want 2 lines at warn and above, got %d: %s", len(got), buf.String())
	}
}

// Whatever reaches the log is bounded: a client's megabyte (a header, a
// __typename, a query) in a message, an attribute, an error or any other
// value ends up as at most MaxValueLength bytes of it, still valid UTF-8 and
// still redacted.
func TestCapsLongValues(t *testing.T) {
	long := strings.Repeat("é", 500_000) // 1 MB
	for _, tc := range []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Error("unknown type: " + long) }},
		{"string", func(l *slog.Logger) { l.Error("x", "typename", long) }},
		{"error", func(l *slog.Logger) { l.Error("x", "error", errors.New(long)) }},
		{"stringer", func(l *slog.Logger) { l.Error("x", "v", stringer(long)) }},
		{"struct", func(l *slog.Logger) { l.Error("x", "v", struct{ A []string }{[]string{long, long}}) }},
		{"token across the cut", func(l *slog.Logger) { l.Error("x", "v", strings.Repeat("a", MaxValueLength-5)+liveToken) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(New(&buf, slog.LevelInfo))
			if buf.Len() > 3*MaxValueLength {
				t.Errorf("a %d-byte line", buf.Len())
			}
			noSecrets(t, tc.name, buf.String())
			if !utf8.Valid(buf.Bytes()) || !strings.Contains(buf.String(), "[cut: ") {
				t.Errorf("line %.300s…", buf.String())
			}
			lines(t, &buf)
		})
	}
	// Short values are left alone.
	var buf bytes.Buffer
	New(&buf, slog.LevelInfo).Info("short", "v", strings.Repeat("x", MaxValueLength))
	if l := lines(t, &buf)[0]; l["v"] != strings.Repeat("x", MaxValueLength) {
		t.Errorf("a value of MaxValueLength bytes was changed: %.100v", l["v"])
	}
}
