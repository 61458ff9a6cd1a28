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
// service secrets; others get 403 INVALID_SERVICE_CREDENTIALS.
func RequireServiceSecret(secrets auth.ServiceSecrets, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !secrets.Check(r) {
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

// WithJSONErrors serves mux, answering for unknown routes and methods with
// JSON bodies (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED with Allow) instead of
// the mux's plain text: every answer patd gives is JSON.
func WithJSONErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// No route: let the mux decide between 404, 405 and a redirect,
		// and replace only its plain-text errors.
		rec := &errorRecorder{header: http.Header{}}
		mux.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			writeError(w, http.StatusNotFound, codeNotFound, "no such route")
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "method not allowed on this route")
		default:
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body)
		}
	})
}

// errorRecorder keeps what the mux answers for a request it has no route for.
type errorRecorder struct {
	header http.Header
	status int
	body   []byte
}

func (e *errorRecorder) Header() http.Header { return e.header }
func (e *errorRecorder) WriteHeader(status int) {
	if e.status == 0 {
		e.status = status
	}
}
func (e *errorRecorder) Write(b []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	e.body = append(e.body, b...)
	return len(b), nil
}
