// Package migrations embeds patd's PostgreSQL schema migrations (goose format)
// so that the binary can apply them without files on disk.
package migrations

import "embed"

// FS holds the *.sql migrations, applied in file-name order.
//
//go:embed *.sql
var FS embed.FS
