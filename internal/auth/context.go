package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/alternatefutures/patd/internal/requestinfo"
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
//
// A client address that failed too often (LimitFailures) has its tokens
// refused unchecked until its window ends: their outcome is a
// *TooManyFailuresError.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authenticateFrom(r.Context(), requestinfo.FromContext(r.Context()).ClientIP, r.Header.Get("Authorization"))
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p, err)))
	})
}

func (a *Authenticator) authenticateFrom(ctx context.Context, clientIP, header string) (Principal, error) {
	if a.failures == nil || header == "" {
		return a.Authenticate(ctx, header)
	}
	now := time.Now()
	// Over the limit, tokens are refused unchecked: a guessed token with a
	// valid checksum would cost a lookup. A JWT costs no I/O to check, so
	// users signed in behind the same address keep working.
	if wait, over := a.failures.Exhausted(clientIP, now); over && !looksLikeJWT(bearer(header)) {
		a.metrics.AuthFailure("refused")
		return Principal{}, &TooManyFailuresError{RetryAfter: wait}
	}
	p, err := a.Authenticate(ctx, header)
	if errors.Is(err, ErrInvalidCredentials) {
		a.metrics.AuthFailure("invalid")
		a.failures.Allow(clientIP, now)
	}
	return p, err
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
