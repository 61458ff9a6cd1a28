package httpapi

import (
	"context"
	"net/http"
	"time"
)

// WithTimeout gives every request a deadline of d: whatever a request waits
// for (a pool connection, a lock, the auth service) it gives up then, and the
// database's statement timeout bounds what PostgreSQL itself does.
func WithTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isValidateRequest(r) {
			// Validate waits on nothing but its lookup, which has a
			// deadline of its own (pat.ValidatorConfig.LookupTimeout);
			// a second one would cost the hot path a timer and three
			// allocations.
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
