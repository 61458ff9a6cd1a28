-- name: LeakReportSeen :one
SELECT EXISTS (SELECT 1 FROM leak_reports WHERE digest = @digest);

-- name: RecordLeakReport :execrows
-- 0 rows: another request recorded the same body first (a replay).
INSERT INTO leak_reports (digest, seen_at) VALUES (@digest, @now::timestamptz)
ON CONFLICT DO NOTHING;

-- name: ForgetLeakReports :exec
DELETE FROM leak_reports WHERE seen_at < @before::timestamptz;

-- name: StoredTokenHashes :many
-- Which of these hashes are stored tokens: a read, so that a report of
-- nothing patd knows costs no write.
SELECT token_hash FROM personal_access_tokens WHERE token_hash = ANY(@hashes::bytea[]);

-- name: DeleteTokensByHash :many
-- Locks the rows in id order before deleting them, as every statement that
-- locks several tokens does (see TouchTokens).
WITH doomed AS (
    SELECT p.id FROM personal_access_tokens AS p WHERE p.token_hash = ANY(@hashes::bytea[]) ORDER BY p.id FOR UPDATE
)
DELETE FROM personal_access_tokens AS t USING doomed WHERE t.id = doomed.id
RETURNING t.*;
