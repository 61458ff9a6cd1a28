package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/server"
)

// startPprof serves the profiler on PPROF_ADDR when it is set, until the
// returned stop is called.
func startPprof(ctx context.Context, cfg *config.Config, log *slog.Logger) (stop func(), err error) {
	if cfg.PprofAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.PprofAddr)
	if err != nil {
		return nil, fmt.Errorf("PPROF_ADDR: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	log.Info("pprof listening", "addr", ln.Addr().String())
	go func() {
		defer close(done)
		// Like metrics, profiling is no reason to stop serving.
		if err := server.ServePprof(ctx, ln); err != nil {
			log.Error("pprof listener failed", "error", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}
