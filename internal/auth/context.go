package auth

import (
	"context"
	"errors"
	"net/http"
)

type ctxKey struct{}

type result struct {
	p   Principal
	err error
}

// FromContext returns the caller that Middleware authenticated, or the error
// that authentication ended in (ErrNoCredentials when there were none).
func FromContext(ctx context.Context) (Principal, error) {
	r, ok := ctx.Value(ctxKey{}).(result)
	if !ok {
		return Principal{}, ErrNoCredentials
	}
	return r.p, r.err
}

// NewContext returns ctx carrying the outcome of authenticating its request.
func NewContext(ctx context.Context, p Principal, err error) context.Context {
	return context.WithValue(ctx, ctxKey{}, result{p, err})
}

// Middleware authenticates each request's Authorization header and records the
// outcome for FromContext. It refuses nothing itself: some operations (the
// federation schema, entity lookups) need no caller, so refusing is left to
// whatever the request asks for.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"))
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p, err)))
	})
}

// OptionalFromContext is FromContext for operations open to anonymous
// callers: a request with no credentials at all gets the zero Principal and
// no error; refused credentials are still an error.
func OptionalFromContext(ctx context.Context) (Principal, error) {
	p, err := FromContext(ctx)
	if errors.Is(err, ErrNoCredentials) {
		return Principal{}, nil
	}
	return p, err
}
