// Package patd is the module root of the personal access token service; the
// program is cmd/patd. This file only holds the code generation steps, run by
// `go generate .` (or `make generate`): sqlc, gqlgen, and the copy of
// GraphiQL's pinned npm build that development mode serves.
package patd

//go:generate go tool sqlc generate
//go:generate go tool gqlgen generate
//go:generate node internal/graphiql/vendor.mjs
