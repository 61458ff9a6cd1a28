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

-- name: InsertDetailedAuditEvents :exec
-- One event per token, each with its own detail, in one statement.
INSERT INTO pat_audit_events (action, actor_id, user_id, token_id, detail, client_ip, user_agent, request_id)
SELECT @action, @actor_id, u.user_id, u.token_id, u.detail, @client_ip, @user_agent, @request_id
FROM (SELECT unnest(@user_ids::text[]) AS user_id, unnest(@token_ids::text[]) AS token_id,
             unnest(@details::jsonb[]) AS detail) AS u;
