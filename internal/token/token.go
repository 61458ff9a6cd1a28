// Package token holds the rules of a personal access token: its format and
// checksum, how it is hashed for storage and masked for display, and which names
// and expiry times are acceptable. It does no I/O.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// PrefixLive and PrefixTest start every token minted in the live and test
	// environments.
	PrefixLive = "af_live_"
	PrefixTest = "af_test_"

	randomLen   = 30
	checksumLen = 6
	// Length is the length of every token patd mints.
	Length = len(PrefixLive) + randomLen + checksumLen

	// maskLen is how much of a checksummed token maskedToken shows: the
	// prefix and four random characters, too little to guess the rest from.
	maskLen = 12

	// MaxNameLength is the longest name a token may have, in characters.
	MaxNameLength = 100
	// MaxLifetimeYears is how far ahead an expiry may be, in calendar years.
	MaxLifetimeYears = 10
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Kind tells how a presented token must be checked.
type Kind int

const (
	// Malformed tokens can never be valid and must not be looked up.
	Malformed Kind = iota
	// Checksummed tokens were minted by patd and passed their checksum.
	Checksummed
	// Legacy tokens came from the old backend; only a lookup can tell.
	Legacy
)

// MaxPresentedLength bounds what is worth hashing and looking up: nothing the
// old backend stored was longer.
const MaxPresentedLength = 512

// Classify tells whether s can be a token and how to check it. It does no I/O,
// so a malformed token costs nothing beyond this call.
func Classify(s string) Kind {
	if s == "" || len(s) > MaxPresentedLength {
		return Malformed
	}
	if len(s) == Length && strings.HasPrefix(s, "af_") {
		if !hasKnownPrefix(s) || !isBase62(s[len(PrefixLive):]) {
			return Malformed
		}
		if sum := checksum(s[:Length-checksumLen]); s[Length-checksumLen:] != string(sum[:]) {
			return Malformed
		}
		return Checksummed
	}
	for i := 0; i < len(s); i++ {
		// Tokens travel in headers and JSON; control characters and spaces were
		// never part of one.
		if s[i] <= ' ' || s[i] == 0x7f {
			return Malformed
		}
	}
	return Legacy
}

func hasKnownPrefix(s string) bool {
	return strings.HasPrefix(s, PrefixLive) || strings.HasPrefix(s, PrefixTest)
}

// New mints a token with the given prefix (PrefixLive or PrefixTest).
func New(prefix string) (string, error) {
	if prefix != PrefixLive && prefix != PrefixTest {
		return "", errors.New("token: unknown prefix")
	}
	random, err := Random(randomLen)
	if err != nil {
		return "", err
	}
	return WithChecksum(prefix + random), nil
}

// WithChecksum appends the checksum to body, a prefix and 30 base62
// characters: what New does with random ones.
func WithChecksum(body string) string {
	sum := checksum(body)
	return body + string(sum[:])
}

// Random returns n base62 characters from crypto/rand: for tokens, and for
// other secrets and ids that must be unguessable and safe in a URL path.
func Random(n int) (string, error) {
	out := make([]byte, 0, n)
	// Rejection sampling keeps every base62 character equally likely.
	buf := make([]byte, 64)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, c := range buf {
			if len(out) == n {
				break
			}
			if c < 248 { // 248 = 4*62
				out = append(out, base62[c%62])
			}
		}
	}
	return string(out), nil
}

var crcTable = crc32.MakeTable(crc32.IEEE)

// checksum is CRC32 (IEEE) of s in base62, left-padded with '0' to six
// characters. It works on the string in place: validation calls it for every
// token presented, and converting to []byte would allocate.
func checksum(s string) [checksumLen]byte {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crcTable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	v := ^crc
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return out
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// Hash is what patd stores instead of a token: SHA-256 of the whole token.
// It runs on every validation (and on every service secret presented): a
// string up to 128 bytes (every token patd mints, most legacy ones, the
// service secrets) is hashed from a copy on the stack, where []byte(tok) of
// more than 32 bytes would be a heap allocation.
func Hash(tok string) [sha256.Size]byte {
	var buf [128]byte
	if len(tok) <= len(buf) {
		return sha256.Sum256(append(buf[:0], tok...))
	}
	return sha256.Sum256([]byte(tok))
}

// Start is the part of a token kept for display: the first twelve characters
// of a checksummed token (the prefix and four of its 36 random characters).
// Any other token, whose length and alphabet nobody vouches for, keeps at
// most a third of itself (and never more than twelve characters), so that
// what is shown leaves most of it to guess; a token of four characters or
// fewer keeps nothing. The cut never splits a UTF-8 sequence.
func Start(tok string) string {
	n := maskLen
	if Classify(tok) != Checksummed {
		n = min(maskLen, len(tok)/3)
		if len(tok) <= 4 {
			n = 0
		}
	}
	for n > 0 && n < len(tok) && !utf8.RuneStart(tok[n]) {
		n--
	}
	return tok[:n]
}

// Mask renders a stored token start for display, e.g. "af_live_AbCd…".
func Mask(start string) string {
	return start + "…"
}

// Reasons a name or an expiry is refused; callers report them as
// BAD_USER_INPUT reasons.
var (
	ErrInvalidName       = errors.New("INVALID_TOKEN_NAME")
	ErrInvalidExpiration = errors.New("INVALID_EXPIRATION")
)

// NameSymbols are the characters besides letters, digits and spaces that a
// name may hold: enough for the names the backend generates, such as
// "auto: Postgres (my-app-1)", and none that is significant in HTML, a shell
// string or JSON (< > " ' ` & \\).
const NameSymbols = "-_.:()/@#+,"

// NormalizeName trims name and checks it: 1 to 100 characters, each a letter,
// a digit, a space or one of NameSymbols. Letters and digits are Unicode
// ones, so "Café CI" is a fine name; control and format characters never are.
func NormalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLength {
		return "", ErrInvalidName
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && !strings.ContainsRune(NameSymbols, r) {
			return "", ErrInvalidName
		}
	}
	return name, nil
}

// CheckExpiry accepts no expiry, or one after now and at most ten calendar
// years ahead.
func CheckExpiry(expiresAt *time.Time, now time.Time) error {
	if expiresAt == nil {
		return nil
	}
	if !expiresAt.After(now) || expiresAt.After(now.AddDate(MaxLifetimeYears, 0, 0)) {
		return ErrInvalidExpiration
	}
	return nil
}
