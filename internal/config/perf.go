package config

import (
	"strconv"
	"strings"
)

// Defaults of the hot path's settings.
const (
	// DefaultCacheSize is PAT_CACHE_SIZE's default: 100,000 answers hold
	// about 24 MiB of live heap, and up to about 45 MiB while new tokens keep
	// replacing them (the maps' slots of both generations and the garbage).
	DefaultCacheSize = 100_000
	// DefaultAccessLogSample is ACCESS_LOG_SAMPLE's default.
	DefaultAccessLogSample = 0.01
)

// perf reads what the hot path and its profiling need: PAT_CACHE_SIZE,
// ACCESS_LOG_SAMPLE and PPROF_ADDR.
func (r *reader) perf(c *Config) {
	c.CacheSize = r.int("PAT_CACHE_SIZE", DefaultCacheSize, 0)

	s := strings.TrimSpace(r.str("ACCESS_LOG_SAMPLE", strconv.FormatFloat(DefaultAccessLogSample, 'g', -1, 64)))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f <= 1) { // NaN fails both
		r.fail("ACCESS_LOG_SAMPLE: want a share between 0 and 1 such as 0.01, got %q", s)
	}
	c.AccessLogSample = f

	if s := strings.TrimSpace(r.str("PPROF_ADDR", "")); s != "" {
		if !isLoopbackListenAddr(s) {
			r.fail("PPROF_ADDR: want a loopback address and port such as 127.0.0.1:6060 or [::1]:6060, got %q"+
				" (profiles show memory and arguments: never serve them beyond this machine)", s)
		}
		c.PprofAddr = s
	}
}

// isLoopbackListenAddr reports whether s is "ip:port" with a loopback IP and
// a numeric port. An empty host (":6060") listens on every interface, and a
// name could resolve to one: both are refused.
func isLoopbackListenAddr(s string) bool {
	a, ok := listenAddr(s)
	return ok && a.Unmap().IsLoopback()
}
