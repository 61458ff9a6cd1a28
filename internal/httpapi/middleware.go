package httpapi

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alternatefutures/patd/internal/requestinfo"
)

// WithRequestInfo gives each request an id (the X-Request-Id a trusted proxy
// sends, when sane: anyone else could forge audit rows' ids), works out the
// client's address, logs one line when the request is done (as access says),
// and echoes the id in X-Request-Id.
func WithRequestInfo(log *slog.Logger, trusted []netip.Prefix, access AccessLog, next http.Handler) http.Handler {
	access = access.normalize()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ip, viaProxy := clientIP(r, trusted)
		given := ""
		if viaProxy {
			given = r.Header.Get("X-Request-Id")
		}
		// One allocation for what the request needs until it is answered.
		st := &requestState{rec: statusRecorder{ResponseWriter: w, status: http.StatusOK}}
		// Each value ends up in an audit row: storable keeps a client from
		// making its own writes fail with bytes PostgreSQL refuses (requestID
		// returns printable ASCII of at most maxRequestIDLen already).
		info := requestinfo.Info{
			ID:        requestID(given),
			ClientIP:  storable(ip, maxClientIPLen),
			UserAgent: storable(r.UserAgent(), maxUserAgentLen),
		}
		st.id[0] = info.ID
		w.Header()["X-Request-Id"] = st.id[:]
		st.ctx.Init(r.Context(), info)
		// The mux records the matched pattern on the request it is given.
		r = r.WithContext(&st.ctx)
		next.ServeHTTP(&st.rec, r)
		level, ok := access.level(r.Pattern, st.rec.status)
		if !ok {
			return
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", info.ID),
			slog.String("method", r.Method),
			slog.String("route", r.Pattern),
			slog.Int("status", st.rec.status),
			slog.Duration("latency", time.Since(start)),
			slog.String("client_ip", info.ClientIP),
		)
	})
}

// requestState is what WithRequestInfo allocates per request, in one piece.
type requestState struct {
	rec statusRecorder
	ctx requestinfo.Context
	id  [1]string // the X-Request-Id header's value
}

// Longest values of the request info, in bytes.
const (
	maxRequestIDLen = 128
	maxClientIPLen  = 64 // an IPv6 address is at most 45 characters
	maxUserAgentLen = 256
)

// requestID is the id a trusted proxy gave, when sane, else a new one.
func requestID(given string) string {
	if given != "" && len(given) <= maxRequestIDLen && isPrintableASCII(given) {
		return given
	}
	return requestIDs.next()
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// storable makes a header-derived value fit for a text column: valid UTF-8
// (PostgreSQL refuses anything else, failing the whole write) and at most n
// bytes, cut on a character boundary. Bytes that are not UTF-8 become U+FFFD,
// so the audit trail still shows that something was there. (The HTTP server
// already refuses NUL and other control bytes in header values.)
func storable(s string, n int) string {
	s = cutUTF8(s, n)
	if !utf8.ValidString(s) {
		// Each replacement may be longer than the byte it replaces: cut again.
		s = cutUTF8(strings.ToValidUTF8(s, "\uFFFD"), n)
	}
	return s
}

// cutUTF8 returns s cut to at most n bytes, on the start of a character when s
// is valid UTF-8.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// A character is at most utf8.UTFMax bytes: go back no further, as s
	// may not be UTF-8 at all.
	for back := 1; back < utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]); back++ {
		n--
	}
	return s[:n]
}

// clientIP is the socket's address, or, when that is a trusted proxy, the
// right-most X-Forwarded-For address that is not itself a trusted proxy. It
// also reports whether the socket's peer is a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) (ip string, viaProxy bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(addr, trusted) {
		return host, false
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !isTrusted(a, trusted) {
			// A zone ("fe80::1%eth0") names an interface of the sender's
			// machine, meaningless here, and is any text the client likes.
			return a.Unmap().WithZone("").String(), true
		}
	}
	return host, true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// nosniff is shared by every answer: assigning it allocates nothing, unlike
// Header().Set. Nothing may modify it.
var nosniff = []string{"nosniff"}

// NoSniff tells browsers to take every answer for the type it says it is
// (JSON), never to guess one from its content: an answer that echoes a
// client's input could otherwise be read as HTML or script.
func NoSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Content-Type-Options"] = nosniff
		next.ServeHTTP(w, r)
	})
}

// LimitBody answers 413 to a request whose body is over limit bytes, and
// otherwise hands next the body read into memory.
func LimitBody(limit int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, limit, nil)
		if !ok {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// readBody reads the body of r into buf, from its start, and returns it.
// Over limit bytes it answers 413, and 400 when the body cannot be read; ok
// is false then. A body of a stated length within the limit (what every
// client sends) is read straight into buf, with no allocation when buf is
// large enough.
func readBody(w http.ResponseWriter, r *http.Request, limit int, buf []byte) (body []byte, ok bool) {
	if n := r.ContentLength; n > 0 && n <= int64(limit) {
		buf = slices.Grow(buf[:0], int(n))[:n]
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "could not read the request body")
			return buf[:0], false
		}
		return buf, true
	}
	b := bytes.NewBuffer(buf[:0])
	_, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, int64(limit)))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, codePayloadTooLarge, "request body is larger than "+byteSize(limit))
		return b.Bytes(), false
	case err != nil:
		writeError(w, http.StatusBadRequest, codeBadRequest, "could not read the request body")
		return b.Bytes(), false
	}
	return b.Bytes(), true
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}
