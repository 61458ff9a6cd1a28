package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/alternatefutures/patd/internal/logging"
	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/server"
)

// BenchmarkValidateCacheHitInfoLog is BenchmarkValidateCacheHit with the
// production logger (JSON lines at INFO, every value redacted), written to
// io.Discard: what the access log adds to a cached validation. Test replicas
// log at WARN, so the other benchmarks leave it out.
func BenchmarkValidateCacheHitInfoLog(b *testing.B) {
	cfg := pattest.Config(b)
	cfg.ValidateRate = 0
	r := pattest.Start(b, cfg)
	_, secret := createTokenB(b, r)
	r.Stop() // it made the schema and the token; a replica logging as in production serves

	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, logging.New(io.Discard, slog.LevelInfo), server.Options{})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }() // the background loops, as in production
	b.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	benchValidate(b, srv.Handler(), secret, http.StatusOK)
}
