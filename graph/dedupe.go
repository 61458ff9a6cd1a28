package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/alternatefutures/patd/internal/pat"
)

// A router that resolves `personalAccessTokens` for a list of users sends
// one `_entities` request with a representation per occurrence, so the same
// user id often comes many times (every token of a page names its user).
// Each representation resolves User.personalAccessTokens on its own, and
// gqlgen runs them concurrently: without this memo the page would be read
// once per representation. A query reads a consistent enough snapshot for
// this to be safe; mutations never reach User.personalAccessTokens, and the
// memo is only set up for queries anyway.

type pageKey struct {
	userID string
	first  int
	after  string
}

// pageCall is one page read, shared by every resolver that asks for it.
type pageCall struct {
	done chan struct{}
	page pat.Page
	err  error
}

// pageMemo holds the pages one operation has read.
type pageMemo struct {
	mu    sync.Mutex
	calls map[pageKey]*pageCall
}

type pageMemoKey struct{}

// memoizePages gives each query operation its own pageMemo.
func memoizePages(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == ast.Query {
		ctx = context.WithValue(ctx, pageMemoKey{}, &pageMemo{calls: map[pageKey]*pageCall{}})
	}
	return next(ctx)
}

// pageOnce returns what read returns for key, calling it at most once per
// operation: concurrent callers with the same key wait for the first one.
// Outside a memoized operation it simply calls read.
func pageOnce(ctx context.Context, key pageKey, read func() (pat.Page, error)) (pat.Page, error) {
	m, _ := ctx.Value(pageMemoKey{}).(*pageMemo)
	if m == nil {
		return read()
	}
	m.mu.Lock()
	c, ok := m.calls[key]
	if !ok {
		c = &pageCall{done: make(chan struct{})}
		m.calls[key] = c
	}
	m.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			return c.page, c.err
		case <-ctx.Done():
			return pat.Page{}, ctx.Err()
		}
	}
	func() {
		// Waiters must be released even if read panics (gqlgen recovers
		// the panic for this caller only).
		defer close(c.done)
		c.err = errPanic
		c.page, c.err = read()
	}()
	return c.page, c.err
}
