// Package graph is patd's GraphQL front door, an Apollo Federation v2
// subgraph: the schema, gqlgen's generated executor, and thin resolvers that
// translate between GraphQL and the pat service.
package graph

import "github.com/alternatefutures/patd/internal/pat"

// Resolver is the root resolver; it holds the one service every resolver calls.
type Resolver struct {
	Tokens *pat.Service
}
