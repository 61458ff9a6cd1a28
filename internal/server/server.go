// Package server builds a running patd from its configuration: it opens the
// stores, applies migrations, wires the service to its front doors, and serves
// HTTP until told to stop.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/database"
	"github.com/alternatefutures/patd/internal/httpapi"
	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/orgs"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/secretscan"
	"github.com/alternatefutures/patd/internal/telemetry"
	"github.com/alternatefutures/patd/internal/webhooks"
)

// RequestTimeout is the deadline of every request but validate's (see routes).
const RequestTimeout = 10 * time.Second

// ShutdownTimeout is how long in-flight requests get to finish on SIGTERM.
const ShutdownTimeout = 10 * time.Second

// Server is one patd replica.
type Server struct {
	Tokens      *pat.Service
	Validator   *pat.Validator
	Maintenance *pat.Maintenance
	// GitHubKeys verifies secret scanning reports; Webhooks is nil without
	// WEBHOOK_URLS.
	GitHubKeys *secretscan.GitHubKeys
	Webhooks   *webhooks.Webhooks
	handler    http.Handler
	// metrics serves /metrics: on its own listener (ServeMetrics) when
	// METRICS_ADDR is set, else among the other routes.
	metrics   http.Handler
	pool      *pgxpool.Pool
	redis     redis.UniversalClient // nil without REDIS_URL
	rate      *limit.Rate           // validations per token
	cliPolls  *limit.Rate
	cliStarts *limit.Rate
	// authFailures counts failed bearer authentications per client address.
	authFailures *limit.Rate
	tracer       trace.TracerProvider // nil: not traced
	log          *slog.Logger
}

// Options are the parts of a replica that are not configuration.
type Options struct {
	// QueryTracer, when set, sees every PostgreSQL query.
	QueryTracer pgx.QueryTracer
	// TracerProvider, when set, gets OpenTelemetry spans for each request
	// (HTTP, GraphQL operation, SQL, Redis); nil: nothing is instrumented.
	TracerProvider trace.TracerProvider
}

// New opens the stores named in cfg, applies pending migrations and builds the
// HTTP handler. Close releases what it opened.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts Options) (_ *Server, err error) {
	if err := migrate(ctx, cfg.DatabaseURL, log); err != nil {
		return nil, err
	}
	pool, err := database.Open(ctx, cfg.DatabaseURL, queryTracer(opts), database.StatementTimeout(cfg.StatementTimeout))
	if err != nil {
		return nil, err
	}
	s := &Server{pool: pool, log: log, tracer: opts.TracerProvider, Maintenance: pat.NewMaintenance(pool, log)}
	defer func() {
		if err != nil {
			s.Close() // what was opened so far: the pool, Redis
		}
	}()
	quota, err := s.openLimits(cfg)
	if err == nil && s.redis != nil && s.tracer != nil {
		err = telemetry.InstrumentRedis(s.redis, s.tracer)
	}
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	metrics.RegisterPool(reg, pool)

	s.Validator = pat.NewValidator(pool, pat.ValidatorConfig{
		CacheTTL:  cfg.CacheTTL,
		CacheSize: cfg.CacheSize,
	}, pat.ValidatorDeps{Rate: s.rate, Metrics: m, Log: log})
	metrics.RegisterCacheEntries(reg, s.Validator.CachedAnswers)
	members, err := orgs.New(cfg.AuthServiceURL, 0, 0)
	if err != nil {
		return nil, err
	}
	outbox, err := s.openWebhooks(ctx, cfg, reg)
	if err != nil {
		return nil, err
	}
	s.GitHubKeys = secretscan.NewGitHubKeys(cfg.Events.GitHubKeysURL, cfg.Events.GitHubKeysRefetch)
	s.cliPolls = limit.NewRate(pat.DefaultCLIPollsPerMinute, time.Minute, s.redis, cfg.RedisKeyPrefix+"clipoll:")
	s.cliStarts = limit.NewRate(pat.DefaultCLIStartsPerMinute, time.Minute, s.redis, cfg.RedisKeyPrefix+"clistart:")
	s.authFailures = limit.NewRate(cfg.AuthFailureLimit, time.Minute, s.redis, cfg.RedisKeyPrefix+"authfail:")
	s.Tokens = pat.New(pool, pat.Config{
		TokenPrefix: cfg.TokenPrefix,
		MaxActive:   cfg.MaxActive,
	}, pat.Deps{
		Quota:       quota,
		Memberships: members,
		CLIStarts:   s.cliStarts,
		CLIPolls:    s.cliPolls,
		Validator:   s.Validator,
		Metrics:     m,
		Log:         log,
		Outbox:      outbox,
	})
	s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	s.handler = s.routes(cfg, m)
	return s, nil
}

// migrate applies pending migrations over a pool of its own, without the
// serving pool's statement timeout: a migration may take long.
func migrate(ctx context.Context, url string, log *slog.Logger) error {
	pool, err := database.Open(ctx, url, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	return database.Migrate(ctx, pool, log)
}

// openWebhooks prepares the lifecycle webhooks when WEBHOOK_URLS names
// endpoints: River's tables, the outbox the service and the cleanup write
// to, and the senders (started by Serve). Without endpoints there is no
// outbox: changes write no events.
func (s *Server) openWebhooks(ctx context.Context, cfg *config.Config, reg prometheus.Registerer) (pat.Outbox, error) {
	if len(cfg.Events.WebhookURLs) == 0 {
		return nil, nil
	}
	if err := database.MigrateRiver(ctx, s.pool, s.log); err != nil {
		return nil, err
	}
	w, err := webhooks.New(s.pool, webhooks.Config{
		URLs:          cfg.Events.WebhookURLs,
		Key:           cfg.Events.WebhookKey,
		RetrySchedule: cfg.Events.WebhookRetrySchedule,
		PeriodicEvery: cfg.Events.WebhookPeriodicEvery,
	}, webhooks.Deps{Expiring: s.Maintenance.NotifyExpiring, Registerer: reg, Log: s.log})
	if err != nil {
		return nil, err
	}
	s.Webhooks = w
	s.Maintenance.SetOutbox(w)
	return w, nil
}

// openLimits connects to Redis when cfg names one and returns the creation
// quota; it sets s.redis and s.rate.
func (s *Server) openLimits(cfg *config.Config) (limit.Quota, error) {
	var quota limit.Quota
	if cfg.RedisURL == "" {
		s.log.Warn("REDIS_URL is not set: limits are kept in this process, correct for one replica only")
		quota = limit.NewMemoryQuota(cfg.CreateLimit, cfg.CreateWindow)
	} else {
		rdb, err := limit.NewRedisClient(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		s.redis = rdb
		quota = limit.NewRedisQuota(rdb, cfg.RedisKeyPrefix, cfg.CreateLimit, cfg.CreateWindow)
	}
	s.rate = limit.NewRate(cfg.ValidateRate, cfg.ValidateWindow, s.redis, cfg.RedisKeyPrefix)
	return quota, nil
}

// checks are what /readyz asks: the stores, and whether this replica hears
// revocations.
func (s *Server) checks() []httpapi.Check {
	checks := []httpapi.Check{{Name: "postgres", Ping: s.pool.Ping}}
	if s.redis != nil {
		checks = append(checks, httpapi.Check{Name: "redis", Ping: func(ctx context.Context) error { return limit.Ping(ctx, s.redis) }})
	}
	return append(checks, httpapi.Check{Name: "revocations", Ping: func(context.Context) error {
		if !s.Validator.Listening() {
			return errors.New("not listening")
		}
		return nil
	}})
}

// Handler serves every route of the replica.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// ServeMetrics serves /metrics alone on ln (METRICS_ADDR, typically an
// address only the scraper reaches) until ctx is done. Anything else there
// is 404.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics)
	mux.HandleFunc("/", httpapi.NotFound)
	return serveUntilDone(ctx, s.httpServer(httpapi.NoSniff(mux)), ln)
}

// Serve serves HTTP on ln until ctx is done, then stops accepting, gives
// in-flight requests up to ShutdownTimeout to finish, and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := s.httpServer(s.handler)
	// Background work outlives ctx until the last request has been answered:
	// requests still draining need revocations and the rate limiter.
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	go s.Maintenance.RunCleanup(bg, time.Hour)
	go s.Validator.RunLastUsedFlusher(bg)
	go s.Validator.ListenRevocations(bg)
	go s.Validator.RunCacheRotation(bg)
	go s.Validator.RunImportedRefresher(bg)
	if s.Webhooks != nil {
		// River stops when told to (below), not when bg is cancelled: a
		// cancelled Start context would cut deliveries off at once.
		if err := s.Webhooks.Start(context.WithoutCancel(bg)); err != nil {
			return err
		}
	}
	for name, r := range map[string]*limit.Rate{"validation": s.rate, "CLI login poll": s.cliPolls, "CLI login start": s.cliStarts, "failed authentication": s.authFailures} {
		go r.RunSync(bg, func(err error) {
			s.log.Warn(name+" rate: Redis unreachable; limiting per replica until it is back", "error", err)
		})
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// Requests still running after the drain are cut off; shutting down
		// is still what was asked for.
		s.log.Warn("requests still running after the drain period were cut off", "error", err)
		_ = hs.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if s.Webhooks != nil {
		// Deliveries under way get a moment to finish; one cut off is sent
		// again by the next replica to run (same webhook-id).
		s.Webhooks.Stop(context.WithoutCancel(ctx), 5*time.Second)
	}
	stopBackground()
	// Every request has finished: write the last lastUsedAt values.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer fcancel()
	if err := s.Validator.FlushLastUsed(fctx); err != nil {
		s.log.Error("final lastUsedAt flush failed", "error", err)
	}
	return nil
}

// Close releases the stores.
func (s *Server) Close() {
	s.pool.Close()
	if s.redis != nil {
		_ = s.redis.Close()
	}
}
