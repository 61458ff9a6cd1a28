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

// Context is a context carrying an Info. It is a type of its own, rather than
// context.WithValue, so that the HTTP edge can allocate it together with the
// rest of a request's state: one allocation on the validate path instead of
// three (the context, the Info boxed in an interface, and the rest).
type Context struct {
	context.Context
	info Info
}

// Init makes c carry info on top of parent. Call it once, before c is used.
func (c *Context) Init(parent context.Context, info Info) {
	c.Context, c.info = parent, info
}

// Value answers the Info's key with it, and any other key as the parent does.
func (c *Context) Value(key any) any {
	if key == (ctxKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

// FromContext returns the Info in ctx, or the zero Info outside a request
// (migrations, cleanup, import).
func FromContext(ctx context.Context) Info {
	if info, ok := ctx.Value(ctxKey{}).(*Info); ok {
		return *info
	}
	return Info{}
}
