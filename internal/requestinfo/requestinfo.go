// Package requestinfo carries what is known about the request being served (its
// id, the client's address and user agent) from the HTTP edge to the logs and
// the audit trail.
package requestinfo

import "context"

// Info describes one incoming request.
type Info struct {
	ID        string
	ClientIP  string
	UserAgent string
}

type ctxKey struct{}

// NewContext returns ctx carrying info.
func NewContext(ctx context.Context, info Info) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// FromContext returns the Info in ctx, or the zero Info outside a request
// (migrations, cleanup, import).
func FromContext(ctx context.Context) Info {
	info, _ := ctx.Value(ctxKey{}).(Info)
	return info
}
