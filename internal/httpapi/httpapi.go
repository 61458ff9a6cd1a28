// Package httpapi is patd's HTTP surface: it routes every request to the
// GraphQL endpoint, the validate route, the REST compatibility routes and the
// operational endpoints, with request ids, access logs and body limits.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/pat"
)

// Body limits.
const (
	maxGraphQLBody = 1 << 20
	maxRESTBody    = 4 << 10
)

// Check is a dependency that /readyz asks.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// Config holds what the HTTP surface is built from.
type Config struct {
	Tokens         *pat.Service
	Auth           *auth.Authenticator
	ServiceSecrets auth.ServiceSecrets
	GraphQL        http.Handler
	Checks         []Check
	TrustedProxies []netip.Prefix
	Metrics        *metrics.Metrics // may be nil
	// MetricsHandler serves GET /metrics.
	MetricsHandler http.Handler
	Log            *slog.Logger
}

// New returns the handler for every route patd serves.
func New(cfg Config) http.Handler {
	mux := http.NewServeMux()
	user := cfg.Auth.Middleware

	gql := limitBody(maxGraphQLBody, user(cfg.GraphQL))
	mux.Handle("POST /graphql", gql)
	mux.Handle("GET /graphql", gql)
	mux.Handle("OPTIONS /graphql", gql)

	validate := &validateHandler{tokens: cfg.Tokens, secrets: cfg.ServiceSecrets, metrics: cfg.Metrics, log: cfg.Log}
	for _, path := range []string{"/validate", "/api/tokens/validate", "/tokens/validate"} {
		mux.Handle("POST "+path, validate)
	}

	th := &tokenHandlers{tokens: cfg.Tokens, log: cfg.Log}
	for _, base := range []string{"/api/tokens", "/tokens"} {
		mux.Handle("POST "+base, limitBody(maxRESTBody, user(th.withCaller(th.create))))
		mux.Handle("GET "+base, user(th.withCaller(th.list)))
		mux.Handle("GET "+base+"/limits", user(th.withCaller(th.limits)))
		mux.Handle("DELETE "+base+"/{id}", user(th.withCaller(th.delete)))
	}

	mux.Handle("POST /internal/users/{userId}/revoke-all", &revokeAllHandler{tokens: cfg.Tokens, secrets: cfg.ServiceSecrets, log: cfg.Log})

	if cfg.MetricsHandler != nil {
		mux.Handle("GET /metrics", cfg.MetricsHandler)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", readyz(cfg.Checks))

	return withRequestInfo(cfg.Log, cfg.TrustedProxies, mux)
}

func readyz(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, body := http.StatusOK, map[string]string{}
		for _, c := range checks {
			if err := c.Ping(ctx); err != nil {
				status, body[c.Name] = http.StatusServiceUnavailable, "unavailable"
			} else {
				body[c.Name] = "ok"
			}
		}
		writeJSON(w, status, body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}

// revokeAllHandler deletes every token of a user whose account is going; only
// backends holding the service secret may call it.
type revokeAllHandler struct {
	tokens  *pat.Service
	secrets auth.ServiceSecrets
	log     *slog.Logger
}

func (h *revokeAllHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.secrets.Check(r) {
		writeError(w, http.StatusForbidden, "INVALID_SERVICE_CREDENTIALS", "missing or wrong service secret")
		return
	}
	userID := r.PathValue("userId")
	if userID == "" {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "missing user id")
		return
	}
	n, err := h.tokens.RevokeAll(r.Context(), userID)
	if err != nil {
		writeServiceError(w, r, h.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "deleted": n})
}
