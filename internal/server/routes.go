package server

import (
	"net/http"

	"github.com/alternatefutures/patd/graph"
	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/graphiql"
	"github.com/alternatefutures/patd/internal/httpapi"
	"github.com/alternatefutures/patd/internal/metrics"
)

// routes is patd's route table: every route it serves, with the middleware
// each needs.
func (s *Server) routes(cfg *config.Config, m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	user := auth.NewAuthenticator(auth.JWTConfig{Secret: cfg.JWTSecret, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience}, s.Validator).
		LimitFailures(s.authFailures, m).Middleware
	service := func(h http.Handler) http.Handler { return httpapi.RequireServiceSecret(cfg.ServiceSecrets, h) }

	s.graphQLRoutes(mux, cfg, m, user)

	validate := service(httpapi.Validate(s.Validator, m, s.log))
	for _, path := range []string{"/validate", "/api/tokens/validate", "/tokens/validate"} {
		mux.Handle("POST "+path, validate)
	}

	tokens := &httpapi.Tokens{Service: s.Tokens, Log: s.log}
	for _, base := range []string{"/api/tokens", "/tokens"} {
		mux.Handle("POST "+base, user(http.HandlerFunc(tokens.Create)))
		mux.Handle("GET "+base, user(http.HandlerFunc(tokens.List)))
		mux.Handle("GET "+base+"/limits", user(http.HandlerFunc(tokens.Limits)))
		mux.Handle("DELETE "+base+"/{id}", user(http.HandlerFunc(tokens.Delete)))
	}
	internal := &httpapi.Internal{Service: s.Tokens, Log: s.log}
	for _, base := range []string{"/api/tokens", "/tokens"} {
		mux.Handle("POST "+base+"/internal/create", service(http.HandlerFunc(internal.Create)))
	}
	mux.Handle("POST /internal/users/{userId}/revoke-all", service(http.HandlerFunc(internal.RevokeAll)))

	cli := &httpapi.CLI{Service: s.Tokens, AppURL: cfg.AppURL, Log: s.log}
	mux.Handle("POST /auth/pat/create", user(http.HandlerFunc(cli.CreateToken)))
	mux.HandleFunc("POST /auth/cli/start", cli.Start)
	mux.Handle("POST /auth/cli/approve", user(http.HandlerFunc(cli.Approve)))
	mux.HandleFunc("POST /auth/cli/poll", cli.Poll)

	leaks := &httpapi.Leaks{Service: s.Tokens, GitHubKeys: s.GitHubKeys, Log: s.log}
	mux.HandleFunc("POST /secret-scanning/github", leaks.GitHub)
	if cfg.Events.GitLabToken != "" { // else the routes do not exist: 404
		gitlab := &httpapi.GitLab{Service: s.Tokens, Log: s.log}
		mux.Handle("GET /v1/revocable_token_types", httpapi.RequireGitLabToken(cfg.Events.GitLabToken, http.HandlerFunc(gitlab.Types)))
		mux.Handle("POST /v1/revoke_tokens", httpapi.RequireGitLabToken(cfg.Events.GitLabToken, http.HandlerFunc(gitlab.Revoke)))
	}

	if cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", s.metrics)
	} else {
		// Served by ServeMetrics on METRICS_ADDR: the public port has no
		// /metrics to show.
		mux.HandleFunc("/metrics", httpapi.NotFound)
	}
	mux.HandleFunc("GET /healthz", httpapi.Healthz)
	mux.HandleFunc("GET /readyz", httpapi.Readyz(s.checks()))
	access := httpapi.AccessLog{ValidateSample: cfg.AccessLogSample}
	return s.traced(mux, httpapi.WithRequestInfo(s.log, cfg.TrustedProxies, access, httpapi.WithTimeout(RequestTimeout, httpapi.NoSniff(httpapi.WithJSONErrors(mux)))))
}

// graphQLRoutes serves /graphql and, in development mode, GraphiQL's scripts
// and styles (its page is GET /graphql).
func (s *Server) graphQLRoutes(mux *http.ServeMux, cfg *config.Config, m *metrics.Metrics, user func(http.Handler) http.Handler) {
	gql := httpapi.LimitBody(httpapi.MaxGraphQLBody, user(graph.NewHandler(s.Tokens, graph.Options{
		MaxDepth:       cfg.MaxDepth,
		MaxComplexity:  cfg.MaxComplexity,
		MaxBody:        httpapi.MaxGraphQLBody,
		Development:    cfg.Development(),
		Metrics:        m,
		Log:            s.log,
		TracerProvider: s.tracer, // nil unless tracing is configured
	})))
	for _, method := range []string{"POST", "GET", "OPTIONS"} {
		mux.Handle(method+" /graphql", gql)
	}
	if cfg.Development() {
		mux.Handle("GET "+graphiql.Prefix+"{file...}", graphiql.Assets())
	}
}
