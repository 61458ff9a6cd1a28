package config

import (
	"strings"
	"testing"
)

func TestPerfDefaults(t *testing.T) {
	c := mustLoad(t, withSecrets(nil))
	if c.CacheSize != 100_000 || c.AccessLogSample != 0.01 || c.PprofAddr != "" {
		t.Errorf("CacheSize %d, AccessLogSample %v, PprofAddr %q; want 100000, 0.01, unset", c.CacheSize, c.AccessLogSample, c.PprofAddr)
	}
}

func TestPerfValues(t *testing.T) {
	c := mustLoad(t, withSecrets(map[string]string{
		"PAT_CACHE_SIZE": "5000", "ACCESS_LOG_SAMPLE": " 0.25 ", "PPROF_ADDR": "127.0.0.1:6060",
	}))
	if c.CacheSize != 5000 || c.AccessLogSample != 0.25 || c.PprofAddr != "127.0.0.1:6060" {
		t.Errorf("CacheSize %d, AccessLogSample %v, PprofAddr %q", c.CacheSize, c.AccessLogSample, c.PprofAddr)
	}
	for _, v := range []string{"0", "1"} {
		if c := mustLoad(t, withSecrets(map[string]string{"ACCESS_LOG_SAMPLE": v, "PAT_CACHE_SIZE": "0"})); c.CacheSize != 0 {
			t.Errorf("PAT_CACHE_SIZE=0 read as %d", c.CacheSize)
		}
	}
}

// The profiler shows memory and arguments: only loopback addresses may
// serve it, and an address that could mean more (every interface, a name)
// is refused at start.
func TestPprofAddrLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:6060", "127.0.0.2:0", "[::1]:6060", "[::ffff:127.0.0.1]:6060"} {
		if c := mustLoad(t, withSecrets(map[string]string{"PPROF_ADDR": ok})); c.PprofAddr != ok {
			t.Errorf("PPROF_ADDR=%s read as %q", ok, c.PprofAddr)
		}
	}
	for _, bad := range []string{"0.0.0.0:6060", "[::]:6060", ":6060", "localhost:6060", "10.0.0.1:6060",
		"192.168.1.10:6060", "203.0.113.1:6060", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", "[fe80::1%lo]:6060"} {
		_, err := Load(lookup(withSecrets(map[string]string{"PPROF_ADDR": bad})))
		if err == nil || !strings.Contains(err.Error(), "PPROF_ADDR") {
			t.Errorf("PPROF_ADDR=%s: err %v, want a refusal naming the variable", bad, err)
		}
	}
}

func TestPerfBadValues(t *testing.T) {
	for name, values := range map[string][]string{
		"ACCESS_LOG_SAMPLE": {"-0.1", "1.5", "NaN", "often", "1%"},
		"PAT_CACHE_SIZE":    {"-1", "many", "1e5"},
	} {
		for _, v := range values {
			_, err := Load(lookup(withSecrets(map[string]string{name: v})))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: err %v, want a refusal naming the variable", name, v, err)
			}
		}
	}
}
