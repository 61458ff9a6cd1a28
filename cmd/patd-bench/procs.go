package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server the bench started: a patd or the limit.
type proc struct {
	name    string
	addr    string // host:port
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	// hwm is the peak RSS in KiB, read just before the process was stopped.
	hwm int64
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs bin with args and exactly env (plus PATH and HOME), its output in
// a file of dir, and waits until ready says it is.
func start(ctx context.Context, name, dir, bin string, args []string, env map[string]string, ready func(addr string) bool, addr string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{name: name, addr: addr, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for !ready(addr) {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited at start; its log:\n%s", name, tail(logPath, 20))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not ready after 60 s; its log:\n%s", name, tail(logPath, 20))
		}
	}
	return p, nil
}

// stop reads the peak RSS, then asks the process to stop (SIGTERM) and waits
// for it, killing it after 15 s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.hwm = peakRSS(p.cmd.Process.Pid)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// peakRSS is VmHWM of /proc/<pid>/status in KiB (0 if unreadable).
func peakRSS(pid int) int64 { return procStatus(pid)["VmHWM"] }

// procStatus is the kB figures of /proc/<pid>/status (VmHWM, VmRSS, RssFile,
// ...) by name; empty when the process is gone.
func procStatus(pid int) map[string]int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	kib := map[string]int64{}
	if err != nil {
		return kib
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if f := strings.Fields(v); len(f) == 2 && f[1] == "kB" {
			kib[k], _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	return kib
}

var probe = &http.Client{Timeout: 2 * time.Second}

// readyz is patd's readiness: /readyz answers 200.
func readyz(addr string) bool {
	resp, err := probe.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// listening is the limit's readiness: it accepts connections.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// metrics is a scrape of patd's /metrics: each sample's value by its series
// (name and labels, as written: `name{label="v"}`).
func metrics(addr string) (map[string]float64, error) {
	resp, err := probe.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	series := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				series[line[:i]] = v
			}
		}
	}
	return series, sc.Err()
}

// hitRateNote says what share of the cache lookups between two readings of
// cacheStats hit.
func hitRateNote(h0, m0, h1, m1 float64) string {
	if n := h1 - h0 + m1 - m0; n > 0 {
		return fmt.Sprintf("cache hit rate %.1f%%", 100*(h1-h0)/n)
	}
	return "no cache lookup"
}

// cacheStats is patd's cache hits and misses so far.
func cacheStats(addr string) (hits, misses float64) {
	m, _ := metrics(addr)
	return m[`patd_validation_cache_lookups_total{result="hit"}`], m[`patd_validation_cache_lookups_total{result="miss"}`]
}

// logLines counts the lines of a log file, and those of them that are
// access-log lines.
func logLines(path string) (lines, access int64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	return int64(bytes.Count(b, []byte("\n"))), int64(bytes.Count(b, []byte(`"msg":"request"`)))
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// memoryNote says where the main patd's memory is at the end of the loads:
// its resident pages by kind (the binary's mapped code and data are file
// pages) and the Go runtime's view of them, so that a peak RSS can be read.
func (b *bench) memoryNote() {
	kib := procStatus(b.main.cmd.Process.Pid)
	m, err := metrics(b.main.addr)
	if len(kib) == 0 || err != nil {
		return
	}
	mib := func(series string) float64 { return m[series] / (1 << 20) }
	b.notes = append(b.notes, fmt.Sprintf("main patd's memory at the end: RSS %.0f MiB (peak %.0f), of it %.0f MiB file pages (the binary) and %.0f MiB anonymous;"+
		" Go heap in use %.0f MiB, heap idle %.0f MiB (%.0f MiB of it returned to the OS), goroutine stacks %.0f MiB, next GC at %.0f MiB",
		float64(kib["VmRSS"])/1024, float64(kib["VmHWM"])/1024, float64(kib["RssFile"])/1024, float64(kib["RssAnon"])/1024,
		mib("go_memstats_heap_inuse_bytes"), mib("go_memstats_heap_idle_bytes"), mib("go_memstats_heap_released_bytes"),
		mib("go_memstats_stack_inuse_bytes"), mib("go_memstats_next_gc_bytes")))
}
