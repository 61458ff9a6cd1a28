package httpapi

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// AccessLog says which requests get a line in the access log.
//
// The validate route is the one backends call on every request they serve: a
// line for each of its answers would cost more than the answer (the JSON
// handler and the redaction of every value) and say nothing that
// patd_validations_total does not count already. So its ordinary answers
// (200 valid; 401 not found, expired or malformed; 429 rate limited) are
// logged at ValidateSample. What an operator must see is logged always: any
// 5xx (at ERROR) and a caller's mistakes (400, 403, 413: a backend with a
// wrong secret or a broken client). Every other route logs every request, as
// it always did.
type AccessLog struct {
	// ValidateSample is the share (0 to 1) of ordinary validate answers
	// logged; 0 logs none of them.
	ValidateSample float64
	// threshold is ValidateSample scaled to the range of a uint64 draw.
	threshold uint64
	always    bool
}

func (a AccessLog) normalize() AccessLog {
	switch s := a.ValidateSample; {
	case s >= 1:
		a.always = true
	case s > 0:
		a.threshold = uint64(s * math.MaxUint64)
	}
	return a
}

// level says whether the request that matched pattern and was answered with
// status gets a line, and at which level.
func (a AccessLog) level(pattern string, status int) (slog.Level, bool) {
	switch {
	case status >= 500:
		return slog.LevelError, true
	case !isValidateRoute(pattern):
		return slog.LevelInfo, true
	case status == 200 || status == 401 || status == 429:
		// math/rand/v2's top-level functions draw from a per-thread
		// generator: no lock, no allocation.
		return slog.LevelInfo, a.always || (a.threshold > 0 && mrand.Uint64() < a.threshold)
	default:
		return slog.LevelInfo, true
	}
}

// ValidatePaths are the paths the validate route is served on (POST), the
// contract's and the old backend's.
var ValidatePaths = [...]string{"/validate", "/api/tokens/validate", "/tokens/validate"}

// isValidateRoute reports whether pattern is the validate route's.
func isValidateRoute(pattern string) bool {
	path, ok := strings.CutPrefix(pattern, "POST ")
	return ok && slices.Contains(ValidatePaths[:], path)
}

// requestIDs makes the ids of requests that come without a trusted one.
var requestIDs = newIDSource()

// idSource makes request ids without drawing from crypto/rand per request: a
// random prefix drawn once per process (64 bits: two replicas share one with
// a chance of 2^-64) followed by a counter, 24 hex characters in all until
// the counter passes 2^32. Ids need to be unique, not secret: they only tie
// log lines and audit rows together.
type idSource struct {
	prefix [16]byte // hex
	n      atomic.Uint64
}

func newIDSource() *idSource {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	s := &idSource{}
	hex.Encode(s.prefix[:], b[:])
	return s
}

func (s *idSource) next() string {
	n := s.n.Add(1)
	var buf [32]byte
	b := append(buf[:0], s.prefix[:]...)
	if n < 1<<32 {
		// Fixed width while it lasts, so that ids sort in the order they
		// were made.
		var nb [4]byte
		binary.BigEndian.PutUint32(nb[:], uint32(n))
		b = hex.AppendEncode(b, nb[:])
	} else {
		b = strconv.AppendUint(b, n, 16)
	}
	return string(b)
}
