// Package httpapi is patd's REST front door: the validate route backends
// call, the token management routes the CLI calls, revoke-all, health and
// readiness, and the middleware every route shares (request info and access
// log, body limits, the service secret). The route table itself is the
// server's; every rule is the pat package's.
package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/alternatefutures/patd/internal/auth"
)

// Body limits.
const (
	MaxGraphQLBody = 1 << 20
	MaxRESTBody    = 4 << 10
)

// Check is a dependency that /readyz asks.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// Healthz answers 200 while the process runs.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// NotFound answers 404 in JSON, as every answer of patd is JSON.
func NotFound(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotFound, codeNotFound, "no such route")
}

// Readyz answers 200 when every check passes, else 503, naming each check's state.
func Readyz(checks []Check) http.HandlerFunc {
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

// RequireServiceSecret lets through only requests that carry one of the
// service secrets; others get 403 INVALID_SERVICE_CREDENTIALS. The secrets are
// hashed here, once, not on every request.
func RequireServiceSecret(secrets auth.ServiceSecrets, next http.Handler) http.Handler {
	digests := secrets.Digests()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !digests.Check(r) {
			writeError(w, http.StatusForbidden, codeInvalidServiceCredentials, "missing or wrong service secret")
			return
		}
		next.ServeHTTP(w, r)
	})
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
