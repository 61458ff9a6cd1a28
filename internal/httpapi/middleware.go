package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/alternatefutures/patd/internal/requestinfo"
)

// WithRequestInfo gives each request an id (the X-Request-Id a trusted proxy
// sends, when sane: anyone else could forge audit rows' ids), works out the
// client's address, logs one line when the request is done, and echoes the id
// in X-Request-Id.
func WithRequestInfo(log *slog.Logger, trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ip, viaProxy := clientIP(r, trusted)
		given := ""
		if viaProxy {
			given = r.Header.Get("X-Request-Id")
		}
		info := requestinfo.Info{
			ID:        requestID(given),
			ClientIP:  ip,
			UserAgent: truncate(r.UserAgent(), 256),
		}
		w.Header().Set("X-Request-Id", info.ID)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		// The mux records the matched pattern on the request it is given.
		r = r.WithContext(requestinfo.NewContext(r.Context(), info))
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", info.ID),
			slog.String("method", r.Method),
			slog.String("route", r.Pattern),
			slog.Int("status", rec.status),
			slog.Duration("latency", time.Since(start)),
			slog.String("client_ip", info.ClientIP),
		)
	})
}

func requestID(given string) string {
	if given != "" && len(given) <= 128 && isPrintableASCII(given) {
		return given
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
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
			return a.Unmap().String(), true
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

// readBody appends the body of r to buf and returns it. Over limit bytes it
// answers 413, and 400 when the body cannot be read; ok is false then.
func readBody(w http.ResponseWriter, r *http.Request, limit int, buf []byte) (body []byte, ok bool) {
	b := bytes.NewBuffer(buf)
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
