package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
)

// Parsed and validated queries are kept, so that the few queries the web app,
// the CLI and the SDK send are parsed and validated once, not on every
// request. Only short ones are kept: a client cannot fill the cache with
// large documents (a query may have 5,000 tokens), and every query patd's
// clients send is far shorter. Per-request checks (shape, complexity,
// introspection) run on every request whether the document was cached or not.
const (
	queryCacheSize = 256
	maxCachedQuery = 4 << 10 // bytes of query text
)

type queryCache struct{ lru *lru.LRU[*ast.QueryDocument] }

func newQueryCache() queryCache {
	return queryCache{lru: lru.New[*ast.QueryDocument](queryCacheSize)}
}

func (c queryCache) Get(ctx context.Context, query string) (*ast.QueryDocument, bool) {
	if len(query) > maxCachedQuery {
		return nil, false
	}
	return c.lru.Get(ctx, query)
}

func (c queryCache) Add(ctx context.Context, query string, doc *ast.QueryDocument) {
	if len(query) <= maxCachedQuery {
		c.lru.Add(ctx, query, doc)
	}
}
