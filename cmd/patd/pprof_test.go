package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/alternatefutures/patd/internal/pattest"
)

// PPROF_ADDR serves the profiler on a loopback listener of its own, never on
// the public port; an address beyond loopback stops patd at start.
func TestServePprofAddr(t *testing.T) {
	cleanEnv(t, pattest.Database(t))
	port, pprofPort := strconv.Itoa(pattest.FreePort(t)), strconv.Itoa(pattest.FreePort(t))
	t.Setenv("PORT", port)
	t.Setenv("PATD_ENV", "development")
	t.Setenv("BIND_ADDR", "127.0.0.1")
	t.Setenv("PPROF_ADDR", "127.0.0.1:"+pprofPort)
	public := "http://127.0.0.1:" + port
	startServe(t, public)

	status, _, body := get(t, "http://127.0.0.1:"+pprofPort+"/debug/pprof/heap?debug=1")
	if status != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Errorf("PPROF_ADDR heap profile: %d %.200s", status, body)
	}
	if status, _, body = get(t, "http://127.0.0.1:"+pprofPort+"/debug/pprof/"); status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("PPROF_ADDR index: %d %.200s", status, body)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap"} {
		if status, _, _ := get(t, public+path); status != http.StatusNotFound {
			t.Errorf("the public port answers %s with %d", path, status)
		}
	}
}

func TestServeRefusesPprofBeyondLoopback(t *testing.T) {
	cleanEnv(t, pattest.Database(t))
	t.Setenv("PATD_ENV", "development")
	t.Setenv("PPROF_ADDR", "0.0.0.0:6060")
	_, _, err := runPatd(t, "serve")
	if err == nil || !strings.Contains(err.Error(), "PPROF_ADDR") {
		t.Fatalf("serve with PPROF_ADDR=0.0.0.0:6060: %v", err)
	}
}
