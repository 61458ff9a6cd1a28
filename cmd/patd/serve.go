package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/server"
	"github.com/alternatefutures/patd/internal/telemetry"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := newFlags("serve", "Apply pending migrations, then serve HTTP on $PORT until SIGTERM.", stderr).Parse(args); err != nil {
		return err
	}
	cfg, log, err := loadConfig()
	if err != nil {
		return err
	}
	// go-redis logs through a process-wide logger of its own; send it to ours
	// so that its lines are JSON (and redacted) like every other.
	redis.SetLogger(redisLogger{log})
	opts, flushTraces, err := tracing(ctx, log)
	if err != nil {
		return err
	}
	defer flushTraces()
	srv, err := server.New(ctx, cfg, log, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		return err
	}
	defer ln.Close()
	stopMetrics, err := startSide(ctx, log, "metrics", "METRICS_ADDR", cfg.MetricsAddr, srv.ServeMetrics)
	if err != nil {
		return err
	}
	defer stopMetrics()
	stopPprof, err := startSide(ctx, log, "pprof", "PPROF_ADDR", cfg.PprofAddr, server.ServePprof)
	if err != nil {
		return err
	}
	defer stopPprof()
	if cfg.Development() {
		if err := printDevelopmentHelp(stdout, cfg); err != nil {
			return err
		}
	}
	log.Info("patd listening", "addr", ln.Addr().String(), "env", cfg.Env, "version", version)
	return srv.Serve(ctx, ln)
}

// tracing sets up OpenTelemetry as the OTEL_* variables say. It returns the
// replica's options and what exports the last spans: serve defers it, so it
// runs after the drain, with the last requests' spans.
func tracing(ctx context.Context, log *slog.Logger) (server.Options, func(), error) {
	tp, err := telemetry.FromEnv(ctx, os.LookupEnv, version)
	if err != nil || tp == nil {
		return server.Options{}, func() {}, err
	}
	telemetry.LogErrors(log)
	log.Info("OpenTelemetry: exporting traces over OTLP")
	return server.Options{TracerProvider: tp}, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			log.Warn("OpenTelemetry: the last spans were not exported", "error", err)
		}
	}, nil
}

// printDevelopmentHelp prints, in development mode only, the secrets that were
// generated and a dev JWT with ready-to-paste requests.
func printDevelopmentHelp(w io.Writer, cfg *config.Config) error {
	jwt, err := auth.SignSession(auth.JWTConfig{Secret: cfg.JWTSecret, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience},
		"dev-user", 24*time.Hour)
	if err != nil {
		return err
	}
	base := fmt.Sprintf("http://localhost:%d", cfg.Port)
	fmt.Fprintln(w, "patd development mode: never use these values in production.")
	for _, name := range cfg.Generated {
		switch name {
		case "JWT_SECRET":
			fmt.Fprintf(w, "  generated JWT_SECRET=%s\n", cfg.JWTSecret)
		case "AUTH_SERVICE_SECRET":
			fmt.Fprintf(w, "  generated AUTH_SERVICE_SECRET=%s\n", cfg.ServiceSecrets[0])
		}
	}
	fmt.Fprintf(w, `
Dev JWT for user "dev-user" (valid 24 h):
  export JWT='%[2]s'
  export SERVICE_SECRET='%[3]s'

Create a token:
  curl -s %[1]s/graphql -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
    -d '{"query":"mutation { createPersonalAccessToken(name: \"my laptop\") { id token maskedToken } }"}'
List your tokens:
  curl -s %[1]s/graphql -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
    -d '{"query":"{ personalAccessTokens { totalCount data { id name maskedToken createdAt } } }"}'
Validate a token as a backend would (paste the token from the create answer):
  curl -s %[1]s/validate -H "Authorization: Bearer $SERVICE_SECRET" -H 'Content-Type: application/json' \
    -d '{"token":"af_live_..."}'

CLI login by pairing (what "af login" does), step by step:
  1. the CLI starts a session; keep its id and poll secret:
     curl -s -X POST %[1]s/auth/cli/start -H 'Content-Type: application/json' -d '{"name":"CLI Login"}'
     export SID='<verificationSessionId>' POLL='<pollSecret>'
  2. the CLI polls: 202 {"status":"pending"} until someone approves:
     curl -s %[1]s/auth/cli/poll -H 'Content-Type: application/json' -d "{\"verificationSessionId\":\"$SID\",\"pollSecret\":\"$POLL\"}"
  3. the user approves in the web app (here: with the dev JWT):
     curl -s %[1]s/auth/cli/approve -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' -d "{\"verificationSessionId\":\"$SID\"}"
  4. the next poll (step 2 again) answers {"success":true,"token":"af_..."} once; after that, 404.

GraphiQL: %[1]s/graphql

`, base, jwt, cfg.ServiceSecrets[0])
	return nil
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
