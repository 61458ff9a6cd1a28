package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/token"
)

// benchToken is the i-th token of the bench's table: a real checksummed token
// whose random part is "bench" and i in 25 digits. seed computes the same
// string in SQL, so the table's hashes match what the load sends.
func benchToken(i int) string {
	return token.WithChecksum(fmt.Sprintf("%sbench%025d", token.PrefixLive, i))
}

// benchUsers is how many users own the table's rows (row n belongs to user
// n mod benchUsers): with a million rows each has 100, a list page.
const benchUsers = 10_000

// benchUser is the id of the i-th user; seed spells it in SQL.
func benchUser(i int) string { return "bench-user-" + strconv.Itoa(i) }

// seed inserts rows [0, n) of the bench's table in one statement: the
// checksums (CRC32, which PostgreSQL lacks) come from here, the rest is
// generate-like SQL, with the token hash computed by PostgreSQL's sha256().
func seed(ctx context.Context, db *pgx.Conn, n int) error {
	sums := make([]string, 0, n)
	for i := range n {
		t := benchToken(i)
		sums = append(sums, t[len(t)-6:])
	}
	_, err := db.Exec(ctx, `
INSERT INTO personal_access_tokens (id, user_id, name, token_hash, token_start, created_at, updated_at)
SELECT md5('bench' || x.n)::uuid::text,
       'bench-user-' || (x.n % $2),
       'bench ' || x.n,
       sha256(convert_to($3 || lpad(x.n::text, 25, '0') || s.sum, 'UTF8')),
       $4,
       now() - x.n * interval '1 second',
       now()
FROM unnest($1::text[]) WITH ORDINALITY AS s(sum, k)
CROSS JOIN LATERAL (SELECT s.k - 1 AS n) AS x`, sums, benchUsers, token.PrefixLive+"bench", token.Start(benchToken(0)))
	return err
}

// malformedToken has patd's shape but a checksum that does not match.
func malformedToken() string {
	b := []byte(benchToken(0))
	b[20] ^= 1 // a digit stays base62: only the checksum tells
	return string(b)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendLegacy appends a random string of the old backend's shape
// (af_live_ and 32 base62 characters, no checksum) that was never imported.
func appendLegacy(rng *rand.Rand, dst []byte) []byte {
	dst = append(dst, token.PrefixLive...)
	for range 32 {
		dst = append(dst, base62[rng.IntN(len(base62))])
	}
	return dst
}
