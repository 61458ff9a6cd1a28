package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profiled runs f while the main patd records a CPU profile of seconds
// seconds into the profile directory as name.cpu.pprof; without -profile it
// only runs f.
func (b *bench) profiled(ctx context.Context, name string, seconds int, f func() error) error {
	if b.pprofAddr == "" {
		return f()
	}
	done := make(chan error, 1)
	go func() {
		done <- b.fetchProfile(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds), name+".cpu.pprof")
	}()
	err := f()
	if perr := <-done; perr != nil {
		b.logf("profile %s: %v", name, perr)
	}
	return err
}

// heapProfile saves the main patd's heap profile as name.heap.pprof.
func (b *bench) heapProfile(ctx context.Context, name string) {
	if b.pprofAddr == "" {
		return
	}
	if err := b.fetchProfile(ctx, "/debug/pprof/heap", name+".heap.pprof"); err != nil {
		b.logf("profile %s: %v", name, err)
	}
}

func (b *bench) fetchProfile(ctx context.Context, path, file string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.pprofAddr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	f, err := os.Create(filepath.Join(b.opt.profile, file))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
