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
	rt := httpapi.NewRoutes()
	// Every route has the request deadline but validate's (below).
	handle := func(pattern string, h http.Handler) { rt.Handle(pattern, httpapi.WithTimeout(RequestTimeout, h)) }
	user := auth.NewAuthenticator(auth.JWTConfig{Secret: cfg.JWTSecret, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience}, s.Validator).
		LimitFailures(s.authFailures, m).Middleware
	service := func(h http.Handler) http.Handler { return httpapi.RequireServiceSecret(cfg.ServiceSecrets, h) }

	s.graphQLRoutes(handle, cfg, m, user)

	// No request deadline: validate waits on nothing but its lookup, which
	// has a deadline of its own (pat.ValidatorConfig.LookupTimeout); a second
	// would cost the hottest route a timer and three allocations.
	validate := service(httpapi.Validate(s.Validator, m, s.log))
	for _, path := range httpapi.ValidatePaths {
		rt.Handle("POST "+path, validate)
	}

	tokens := &httpapi.Tokens{Service: s.Tokens, Log: s.log}
	for _, base := range []string{"/api/tokens", "/tokens"} {
		handle("POST "+base, user(http.HandlerFunc(tokens.Create)))
		handle("GET "+base, user(http.HandlerFunc(tokens.List)))
		handle("GET "+base+"/limits", user(http.HandlerFunc(tokens.Limits)))
		handle("DELETE "+base+"/{id}", user(http.HandlerFunc(tokens.Delete)))
	}
	internal := &httpapi.Internal{Service: s.Tokens, Log: s.log}
	for _, base := range []string{"/api/tokens", "/tokens"} {
		handle("POST "+base+"/internal/create", service(http.HandlerFunc(internal.Create)))
	}
	handle("POST /internal/users/{userId}/revoke-all", service(http.HandlerFunc(internal.RevokeAll)))

	cli := &httpapi.CLI{Service: s.Tokens, AppURL: cfg.AppURL, Log: s.log}
	handle("POST /auth/pat/create", user(http.HandlerFunc(cli.CreateToken)))
	handle("POST /auth/cli/start", http.HandlerFunc(cli.Start))
	handle("POST /auth/cli/approve", user(http.HandlerFunc(cli.Approve)))
	handle("POST /auth/cli/poll", http.HandlerFunc(cli.Poll))

	leaks := &httpapi.Leaks{Service: s.Tokens, GitHubKeys: s.GitHubKeys, Log: s.log}
	handle("POST /secret-scanning/github", http.HandlerFunc(leaks.GitHub))
	if cfg.Events.GitLabToken != "" { // else the routes do not exist: 404
		gitlab := &httpapi.GitLab{Service: s.Tokens, Log: s.log}
		handle("GET /v1/revocable_token_types", httpapi.RequireGitLabToken(cfg.Events.GitLabToken, http.HandlerFunc(gitlab.Types)))
		handle("POST /v1/revoke_tokens", httpapi.RequireGitLabToken(cfg.Events.GitLabToken, http.HandlerFunc(gitlab.Revoke)))
	}

	if cfg.MetricsAddr == "" { // else ServeMetrics serves it on METRICS_ADDR, and here it is 404
		handle("GET /metrics", s.metrics)
	}
	handle("GET /healthz", http.HandlerFunc(httpapi.Healthz))
	handle("GET /readyz", httpapi.Readyz(s.checks()))
	access := httpapi.AccessLog{ValidateSample: cfg.AccessLogSample}
	return s.traced(rt.Mux(), httpapi.WithRequestInfo(s.log, cfg.TrustedProxies, access, httpapi.NoSniff(rt)))
}

// graphQLRoutes serves /graphql and, in development mode, GraphiQL's scripts
// and styles (its page is GET /graphql).
func (s *Server) graphQLRoutes(handle func(string, http.Handler), cfg *config.Config, m *metrics.Metrics, user func(http.Handler) http.Handler) {
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
		handle(method+" /graphql", gql)
	}
	if cfg.Development() {
		handle("GET "+graphiql.Prefix+"{file...}", graphiql.Assets(http.HandlerFunc(httpapi.NotFound)))
	}
}
