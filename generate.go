// Package patd is the module root of the personal access token service; the
// program is cmd/patd. This file only holds the code generation steps, run by
// `go generate .` (or `make generate`).
package patd

//go:generate go tool sqlc generate
//go:generate go tool gqlgen generate
