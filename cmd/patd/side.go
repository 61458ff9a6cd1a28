package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
)

// startSide serves a side listener (name: metrics, pprof) on addr, the value
// of variable, until the returned stop is called. A side listener that fails
// is logged, not fatal: losing metrics or profiles is no reason to refuse
// validations. An empty addr serves nothing.
func startSide(ctx context.Context, log *slog.Logger, name, variable, addr string, serve func(context.Context, net.Listener) error) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", variable, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	log.Info(name+" listening", "addr", ln.Addr().String())
	go func() {
		defer close(done)
		if err := serve(ctx, ln); err != nil {
			log.Error(name+" listener failed", "error", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}
