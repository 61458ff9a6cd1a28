package httpapi

import (
	"context"
	"net/http"
	"time"
)

// WithTimeout gives each request a deadline of d: whatever it waits for (a
// pool connection, a lock, the auth service) it gives up then, and the
// database's statement timeout bounds what PostgreSQL itself does. Which
// routes get it is the route table's choice.
func WithTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
