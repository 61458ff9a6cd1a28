package token

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// scanPattern is the secret-scanning pattern of the contract, anchored.
var scanPattern = regexp.MustCompile(`^af_(live|test)_[0-9A-Za-z]{36}$`)

const testAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// refChecksum computes the checksum independently of the package: CRC32 (IEEE)
// of body in base62 (0-9A-Za-z), left-padded with '0' to six characters.
func refChecksum(body string) string {
	v := crc32.ChecksumIEEE([]byte(body))
	var digits []byte
	for v > 0 {
		digits = append([]byte{testAlphabet[v%62]}, digits...)
		v /= 62
	}
	s := string(digits)
	if len(s) < 6 {
		s = strings.Repeat("0", 6-len(s)) + s
	}
	return s
}

// refToken builds a well-formed token from prefix and a 30-character base62 body.
func refToken(prefix, random string) string {
	body := prefix + random
	return body + refChecksum(body)
}

func mustNew(t testing.TB, prefix string) string {
	t.Helper()
	tok, err := New(prefix)
	if err != nil {
		t.Fatalf("New(%q): %v", prefix, err)
	}
	return tok
}

func TestRefChecksumKnownValues(t *testing.T) {
	// Sanity checks of the reference implementation itself.
	tests := []struct {
		crc  uint32
		want string
	}{
		{0, "000000"},
		{61, "00000z"},
		{62, "000010"},
		{0xFFFFFFFF, "4gfFC3"},
	}
	for _, tt := range tests {
		v := tt.crc
		var digits []byte
		for v > 0 {
			digits = append([]byte{testAlphabet[v%62]}, digits...)
			v /= 62
		}
		got := strings.Repeat("0", 6-len(digits)) + string(digits)
		if got != tt.want {
			t.Errorf("base62(%d) = %q, want %q", tt.crc, got, tt.want)
		}
	}
	// crc32("") is 0.
	if got := refChecksum(""); got != "000000" {
		t.Errorf("refChecksum(\"\") = %q, want 000000", got)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
	}{
		{"live", PrefixLive},
		{"test", PrefixTest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for i := 0; i < 200; i++ {
				tok := mustNew(t, tt.prefix)
				if len(tok) != 44 || Length != 44 {
					t.Fatalf("len(%q) = %d, Length = %d; want 44", tok, len(tok), Length)
				}
				if !strings.HasPrefix(tok, tt.prefix) {
					t.Fatalf("%q lacks prefix %q", tok, tt.prefix)
				}
				if !scanPattern.MatchString(tok) {
					t.Fatalf("%q does not match %s", tok, scanPattern)
				}
				if got, want := tok[38:], refChecksum(tok[:38]); got != want {
					t.Fatalf("checksum of %q = %q, want %q", tok, got, want)
				}
				if k := Classify(tok); k != Checksummed {
					t.Fatalf("Classify(New()) = %v, want Checksummed", k)
				}
				if seen[tok] {
					t.Fatalf("New returned %q twice", tok)
				}
				seen[tok] = true
			}
		})
	}
}

func TestNewUnknownPrefix(t *testing.T) {
	for _, p := range []string{"", "af_prod_", "af_live", "AF_LIVE_", "af_", "live"} {
		if tok, err := New(p); err == nil {
			t.Errorf("New(%q) = %q, nil; want an error", p, tok)
		}
	}
}

func TestNewRandomPartIsSpread(t *testing.T) {
	// Every base62 character shows up in the random part: 30*400 draws of 62
	// equally likely characters miss one with negligible probability.
	counts := map[byte]int{}
	for i := 0; i < 400; i++ {
		tok := mustNew(t, PrefixLive)
		for j := 8; j < 38; j++ {
			counts[tok[j]]++
		}
	}
	for i := 0; i < len(testAlphabet); i++ {
		if counts[testAlphabet[i]] == 0 {
			t.Errorf("character %q never appeared in 12000 random characters", testAlphabet[i])
		}
	}
}

func TestChecksumMatchesReference(t *testing.T) {
	bodies := []string{
		"",
		"af_live_",
		"af_live_000000000000000000000000000000",
		"af_test_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
		"af_live_AbCdEfGhIjKlMnOpQrStUvWxYz0123",
	}
	for i := 0; i < 50; i++ {
		bodies = append(bodies, mustNew(t, PrefixTest)[:38])
	}
	for _, b := range bodies {
		if got, want := checksum(b), refChecksum(b); string(got[:]) != want {
			t.Errorf("checksum(%q) = %q, want %q", b, got, want)
		}
	}
}

func TestClassifyFlippedCharacter(t *testing.T) {
	toks := []string{
		mustNew(t, PrefixLive),
		mustNew(t, PrefixTest),
		refToken(PrefixLive, strings.Repeat("0", 30)),
		refToken(PrefixTest, "AbCdEfGhIjKlMnOpQrStUvWxYz0123"),
	}
	replacements := testAlphabet + "-_.~+/= !\x00\x7f\xff"
	for _, tok := range toks {
		if Classify(tok) != Checksummed {
			t.Fatalf("Classify(%q) != Checksummed", tok)
		}
		// Random part and checksum part: positions 8..43.
		for i := len(PrefixLive); i < Length; i++ {
			for j := 0; j < len(replacements); j++ {
				c := replacements[j]
				if c == tok[i] {
					continue
				}
				flipped := tok[:i] + string([]byte{c}) + tok[i+1:]
				if k := Classify(flipped); k != Malformed {
					t.Fatalf("Classify(%q) (position %d changed to %q) = %v, want Malformed", flipped, i, c, k)
				}
			}
		}
		// The environment part of the prefix: "af_live_" and "af_test_".
		for i := 3; i < len(PrefixLive); i++ {
			for j := 0; j < len(replacements); j++ {
				c := replacements[j]
				if c == tok[i] {
					continue
				}
				flipped := tok[:i] + string([]byte{c}) + tok[i+1:]
				if k := Classify(flipped); k != Malformed {
					t.Fatalf("Classify(%q) (prefix position %d changed to %q) = %v, want Malformed", flipped, i, c, k)
				}
			}
		}
	}
}

func TestClassifySwappedPrefix(t *testing.T) {
	// The checksum covers the prefix: a live token relabelled test is refused.
	tok := mustNew(t, PrefixLive)
	swapped := PrefixTest + tok[len(PrefixLive):]
	if k := Classify(swapped); k != Malformed {
		t.Errorf("Classify(%q) = %v, want Malformed", swapped, k)
	}
}

func TestClassify(t *testing.T) {
	valid := refToken(PrefixLive, "AbCdEfGhIjKlMnOpQrStUvWxYz0123")
	validBody := valid[len(PrefixLive):]
	legacy32 := PrefixLive + "0123456789abcdefghijABCDEFGHIJkl"
	tests := []struct {
		name string
		in   string
		want Kind
	}{
		{"checksummed live", valid, Checksummed},
		{"checksummed test", refToken(PrefixTest, strings.Repeat("Z", 30)), Checksummed},
		{"legacy af_live_ + 32 base62", legacy32, Legacy},
		{"legacy af_test_ + 32 base62", PrefixTest + "0123456789abcdefghijABCDEFGHIJkl", Legacy},
		{"legacy arbitrary", "some-old-token", Legacy},
		{"legacy with punctuation", "pat_1234.abcd/efgh+ij==", Legacy},
		{"legacy one char", "x", Legacy},
		{"legacy 43 chars af_", valid[:43], Legacy},
		{"legacy 45 chars af_", valid + "x", Legacy},
		{"legacy non-ASCII", "tökén-ünïcode", Legacy},
		{"legacy 512 bytes", strings.Repeat("a", 512), Legacy},
		{"legacy 44 chars without af_", "xx_live_" + validBody, Legacy},
		{"empty", "", Malformed},
		{"513 bytes", strings.Repeat("a", 513), Malformed},
		{"very long", strings.Repeat("af_live_", 1000), Malformed},
		{"space inside", "abc def", Malformed},
		{"leading space", " " + legacy32, Malformed},
		{"trailing space", legacy32 + " ", Malformed},
		{"trailing newline", legacy32 + "\n", Malformed},
		{"tab", "abc\tdef", Malformed},
		{"CR", "abc\rdef", Malformed},
		{"NUL", "abc\x00def", Malformed},
		{"DEL", "abc\x7fdef", Malformed},
		{"only space", " ", Malformed},
		{"unknown prefix af_prod_", "af_prod_" + validBody, Malformed},
		{"unknown prefix af_LIVE_", "af_LIVE_" + validBody, Malformed},
		{"unknown prefix af_livex", "af_livex" + validBody, Malformed},
		{"bad checksum", valid[:38] + "000000", Malformed},
		{"non-base62 in random part", valid[:10] + "-" + valid[11:], Malformed},
		{"non-base62 in checksum", valid[:43] + "_", Malformed},
		{"44 chars with space", valid[:20] + " " + valid[21:], Malformed},
		{"44 chars with non-ASCII", valid[:36] + "é" + valid[38:], Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.in); got != tt.want {
				t.Errorf("Classify(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestClassifyControlCharacters(t *testing.T) {
	for c := 0; c <= 0x20; c++ {
		s := "legacy" + string(rune(c)) + "token"
		if k := Classify(s); k != Malformed {
			t.Errorf("Classify(%q) = %v, want Malformed", s, k)
		}
	}
	if k := Classify("legacy\x7ftoken"); k != Malformed {
		t.Errorf("Classify with DEL = %v, want Malformed", k)
	}
}

func TestHash(t *testing.T) {
	tests := []struct {
		in      string
		wantHex string
	}{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		h := Hash(tt.in)
		if got := hex.EncodeToString(h[:]); got != tt.wantHex {
			t.Errorf("Hash(%q) = %s, want %s", tt.in, got, tt.wantHex)
		}
	}
	tok := mustNew(t, PrefixLive)
	if Hash(tok) != sha256.Sum256([]byte(tok)) {
		t.Errorf("Hash(%q) is not SHA-256 of the token", tok)
	}
	if Hash(tok) == Hash(tok[:43]) {
		t.Errorf("Hash ignores the last character")
	}
}

func TestStartAndMask(t *testing.T) {
	for _, prefix := range []string{PrefixLive, PrefixTest} {
		tok := mustNew(t, prefix)
		start := Start(tok)
		if start != tok[:12] {
			t.Errorf("Start(%q) = %q, want %q", tok, start, tok[:12])
		}
		if !strings.HasPrefix(start, prefix) || len(start) != len(prefix)+4 {
			t.Errorf("Start(%q) = %q: want the prefix and four random characters", tok, start)
		}
		if got, want := Mask(start), tok[:12]+"…"; got != want {
			t.Errorf("Mask(Start(%q)) = %q, want %q", tok, got, want)
		}
	}
	if got := Mask("af_live_AbCd"); got != "af_live_AbCd…" {
		t.Errorf("Mask = %q", got)
	}
}

func TestStartNeverRevealsWholeToken(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", ""},
		{"a", ""},
		{"abcd", ""},
		{"abcde", "a"},
		{"abcdef", "ab"},
		{"abcdefghijkl", "abcd"},
		{"abcdefghijklm", "abcd"},
		{"0123456789abcdef", "01234"},
		{"af_live_01234567", "af_li"},
		{"af_live_0123456789abcdefghijABCDEFGHIJkl", "af_live_0123"},
	}
	for _, tt := range tests {
		if got := Start(tt.in); got != tt.want {
			t.Errorf("Start(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Anything but the checksummed form shows at most a third of itself,
	// never more than twelve characters.
	for n := 1; n <= 60; n++ {
		s := strings.Repeat("x", n)
		if got := Start(s); 3*len(got) > n || len(got) > 12 {
			t.Errorf("Start of a %d-character token = %q: shows too much", n, got)
		}
	}
	// Nor does a 44-character af_ string whose checksum does not match.
	tok := mustNew(t, PrefixLive)
	bad := tok[:Length-1] + string(tok[Length-1]^1)
	if got := Start(bad); 3*len(got) > len(bad) {
		t.Errorf("Start(%q) = %q, want at most a third", bad, got)
	}
}

// Legacy tokens may be any string the old backend held. The start is stored in
// a PostgreSQL text column and shown as a GraphQL String, so it must stay valid
// UTF-8 when the token is.
func TestStartKeepsUTF8Valid(t *testing.T) {
	for _, tok := range []string{
		"ééééééééééééééé", // 30 bytes, 15 runes
		"abcdefghijké-legacy-token",
		"aéb",
		"ab日本語",
		"日本語日本語",
	} {
		if got := Start(tok); !utf8.ValidString(got) {
			t.Errorf("Start(%q) = %q: not valid UTF-8", tok, got)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"simple", "CI token", "CI token", false},
		{"trimmed", "   CI token \t\n", "CI token", false},
		{"one char", "a", "a", false},
		{"one digit", "7", "7", false},
		{"allowed punctuation", "deploy-bot_v1.2", "deploy-bot_v1.2", false},
		{"unicode letters", "Café CI", "Café CI", false},
		{"cjk", "日本語トークン", "日本語トークン", false},
		{"cyrillic", "Токен", "Токен", false},
		{"unicode digits", "build ٣", "build ٣", false},
		{"inner spaces kept", "a  b", "a  b", false},
		{"100 ascii", strings.Repeat("a", 100), strings.Repeat("a", 100), false},
		{"100 two-byte runes", strings.Repeat("é", 100), strings.Repeat("é", 100), false},
		{"100 after trim", "  " + strings.Repeat("b", 100) + "  ", strings.Repeat("b", 100), false},
		{"only dots", "...", "...", false},
		{"empty", "", "", true},
		{"only spaces", "    ", "", true},
		{"only whitespace", " \t\n\r ", "", true},
		{"101 ascii", strings.Repeat("a", 101), "", true},
		{"101 two-byte runes", strings.Repeat("é", 101), "", true},
		{"slash", "a/b", "a/b", false},
		{"backend's generated name", "auto: Postgres (my-app-1)", "auto: Postgres (my-app-1)", false},
		{"every symbol", "a-b_c.d:e(f)g/h@i#j+k,l", "a-b_c.d:e(f)g/h@i#j+k,l", false},
		{"ampersand", "a&b", "", true},
		{"backquote", "a`b", "", true},
		{"greater than", "a>b", "", true},
		{"semicolon", "a;b", "", true},
		{"backslash", `a\b`, "", true},
		{"angle bracket", "<script>", "", true},
		{"less than", "a<b", "", true},
		{"quote", `a"b`, "", true},
		{"apostrophe", "o'brien", "", true},
		{"emoji", "rocket 🚀", "", true},
		{"emoji only", "🚀", "", true},
		{"newline inside", "a\nb", "", true},
		{"tab inside", "a\tb", "", true},
		{"NUL", "a\x00b", "", true},
		{"DEL", "a\x7fb", "", true},
		{"zero-width joiner", "a\u200db", "", true},
		{"right-to-left override", "a\u202eb", "", true},
		{"non-breaking space inside", "a\u00a0b", "", true},
		{"invalid UTF-8", "a\xffb", "", true},
		{"at sign", "me@example", "me@example", false},
		{"colon", "a:b", "a:b", false},
		{"percent", "100%", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeName(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("NormalizeName(%q) = %q, nil; want ErrInvalidName", tt.in, got)
				}
				if err != ErrInvalidName {
					t.Fatalf("NormalizeName(%q) error = %v, want ErrInvalidName", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeName(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("NormalizeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if ErrInvalidName.Error() != "INVALID_TOKEN_NAME" || ErrInvalidExpiration.Error() != "INVALID_EXPIRATION" {
		t.Errorf("reason strings changed: %q, %q", ErrInvalidName, ErrInvalidExpiration)
	}
}

func TestCheckExpiry(t *testing.T) {
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	at := func(t time.Time) *time.Time { return &t }
	tests := []struct {
		name    string
		exp     *time.Time
		wantErr bool
	}{
		{"none", nil, false},
		{"one nanosecond ahead", at(now.Add(time.Nanosecond)), false},
		{"one hour ahead", at(now.Add(time.Hour)), false},
		{"one year ahead", at(now.AddDate(1, 0, 0)), false},
		{"3650 days ahead", at(now.Add(3650 * 24 * time.Hour)), false},
		{"ten years ahead", at(now.AddDate(10, 0, 0)), false},
		{"ten years ahead, other zone", at(now.AddDate(10, 0, 0).In(time.FixedZone("X", 5*3600))), false},
		{"ten years and a day ahead", at(now.AddDate(10, 0, 1)), true},
		{"twenty years ahead", at(now.AddDate(20, 0, 0)), true},
		{"now", at(now), true},
		{"one nanosecond ago", at(now.Add(-time.Nanosecond)), true},
		{"yesterday", at(now.AddDate(0, 0, -1)), true},
		{"zero time", at(time.Time{}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckExpiry(tt.exp, now)
			if tt.wantErr && err != ErrInvalidExpiration {
				t.Errorf("CheckExpiry(%v) = %v, want ErrInvalidExpiration", tt.exp, err)
			}
			if !tt.wantErr && err != nil {
				t.Errorf("CheckExpiry(%v) = %v, want nil", tt.exp, err)
			}
		})
	}
}

// TestCheckExpiryTenYearsFromAnyDay: "at most 10 years ahead" holds whatever
// the number of leap days in the next ten years.
func TestCheckExpiryTenYearsFromAnyDay(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC),
		time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2030, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		exp := now.AddDate(10, 0, 0)
		if err := CheckExpiry(&exp, now); err != nil {
			t.Errorf("now %s, expiresAt %s (10 years ahead): %v", now.Format(time.RFC3339), exp.Format(time.RFC3339), err)
		}
		exp = now.AddDate(10, 0, 1)
		if err := CheckExpiry(&exp, now); err == nil {
			t.Errorf("now %s, expiresAt %s (10 years and a day ahead): accepted", now.Format(time.RFC3339), exp.Format(time.RFC3339))
		}
	}
}

func FuzzClassify(f *testing.F) {
	seeds := []string{
		"",
		" ",
		"x",
		"af_",
		"af_live_",
		"af_test_",
		refToken(PrefixLive, "AbCdEfGhIjKlMnOpQrStUvWxYz0123"),
		refToken(PrefixTest, strings.Repeat("0", 30)),
		refToken(PrefixLive, "AbCdEfGhIjKlMnOpQrStUvWxYz0123")[:38] + "000000",
		"af_prod_AbCdEfGhIjKlMnOpQrStUvWxYz0123000000",
		"af_live_0123456789abcdefghijABCDEFGHIJkl",
		"af_live_AbCdEfGhIjKlMnOpQrStUvWxYz0123-_-_-_",
		"some-old-token",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
		"abc def",
		"abc\x00def",
		"tökén",
		strings.Repeat("a", 512),
		strings.Repeat("a", 513),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Classify(s)
		switch k {
		case Checksummed:
			if len(s) != 44 {
				t.Fatalf("Checksummed %q has length %d", s, len(s))
			}
			if !strings.HasPrefix(s, PrefixLive) && !strings.HasPrefix(s, PrefixTest) {
				t.Fatalf("Checksummed %q has an unknown prefix", s)
			}
			if !scanPattern.MatchString(s) {
				t.Fatalf("Checksummed %q does not match %s", s, scanPattern)
			}
			if got, want := s[38:], refChecksum(s[:38]); got != want {
				t.Fatalf("Checksummed %q: checksum %q, want %q", s, got, want)
			}
		case Legacy:
			if s == "" || len(s) > MaxPresentedLength {
				t.Fatalf("Legacy %q has length %d", s, len(s))
			}
			for i := 0; i < len(s); i++ {
				if s[i] <= ' ' || s[i] == 0x7f {
					t.Fatalf("Legacy %q contains byte %#x", s, s[i])
				}
			}
			if len(s) == 44 && strings.HasPrefix(s, "af_") {
				t.Fatalf("Legacy %q: a 44-character af_ string must be checksummed or malformed", s)
			}
		case Malformed:
			if scanPattern.MatchString(s) && s[38:] == refChecksum(s[:38]) {
				t.Fatalf("Malformed %q is a well-formed token", s)
			}
		default:
			t.Fatalf("Classify(%q) = %v: unknown kind", s, k)
		}

		// A token built from the input as New builds one is Checksummed.
		var random strings.Builder
		for i := 0; i < 30; i++ {
			var c byte
			if len(s) > 0 {
				c = s[i%len(s)] + byte(i)
			}
			random.WriteByte(testAlphabet[int(c)%62])
		}
		prefix := PrefixLive
		if len(s)%2 == 1 {
			prefix = PrefixTest
		}
		built := refToken(prefix, random.String())
		if Classify(built) != Checksummed {
			t.Fatalf("Classify(%q) != Checksummed", built)
		}
		tok, err := New(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if Classify(tok) != Checksummed {
			t.Fatalf("Classify(New) = %v for %q", Classify(tok), tok)
		}
	})
}

func nameRuneAllowed(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || strings.ContainsRune("-_.:()/@#+,", r)
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{
		"",
		" ",
		"CI token",
		"  padded  ",
		"Café CI",
		"日本語",
		"deploy-bot_v1.2",
		"a/b",
		"<script>alert(1)</script>",
		"rocket 🚀",
		"a\nb",
		"a\tb",
		"\u00a0name\u00a0",
		"\u2003name\u3000",
		"e\u0301",
		"a\u200db",
		"\xff\xfe",
		strings.Repeat("a", 100),
		strings.Repeat("a", 101),
		strings.Repeat("é", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeName(in)
		if err != nil {
			if err != ErrInvalidName {
				t.Fatalf("NormalizeName(%q) error %v, want ErrInvalidName", in, err)
			}
			if out != "" {
				t.Fatalf("NormalizeName(%q) = %q with an error", in, out)
			}
			return
		}
		if out != strings.TrimSpace(out) {
			t.Fatalf("NormalizeName(%q) = %q: not trimmed", in, out)
		}
		if !strings.Contains(in, out) {
			t.Fatalf("NormalizeName(%q) = %q: not a part of the input", in, out)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("NormalizeName(%q) = %q: invalid UTF-8", in, out)
		}
		if n := utf8.RuneCountInString(out); n < 1 || n > MaxNameLength {
			t.Fatalf("NormalizeName(%q) = %q: %d characters", in, out, n)
		}
		for _, r := range out {
			if !nameRuneAllowed(r) {
				t.Fatalf("NormalizeName(%q) = %q: contains %U", in, out, r)
			}
		}
		again, err := NormalizeName(out)
		if err != nil || again != out {
			t.Fatalf("NormalizeName(%q) = %q, %v; want it unchanged", out, again, err)
		}
	})
}
