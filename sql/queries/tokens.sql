-- name: LockUserTokens :exec
-- Serialises changes to one user's tokens for the rest of the transaction, so that
-- the max-active check and the insert that follows it cannot race.
SELECT pg_advisory_xact_lock(hashtextextended('pat:' || @user_id::text, 0));

-- name: CountActiveTokens :one
SELECT count(*) FROM personal_access_tokens
WHERE user_id = @user_id AND (expires_at IS NULL OR expires_at > @now::timestamptz);

-- name: CountTokens :one
SELECT count(*) FROM personal_access_tokens WHERE user_id = @user_id;

-- name: InsertToken :one
INSERT INTO personal_access_tokens (id, user_id, organization_id, name, token_hash, token_start, expires_at, created_at, updated_at)
VALUES (@id, @user_id, @organization_id, @name, @token_hash, @token_start, @expires_at, @created_at, @created_at)
RETURNING *;

-- name: GetToken :one
SELECT * FROM personal_access_tokens WHERE id = @id AND user_id = @user_id;

-- name: GetTokensByIDs :many
SELECT * FROM personal_access_tokens WHERE id = ANY(@ids::text[]) AND user_id = @user_id;

-- name: GetTokenByHash :one
SELECT id, user_id, organization_id, name, expires_at, created_at FROM personal_access_tokens WHERE token_hash = @token_hash;

-- name: ListTokens :many
-- Newest first; the cursor is the (created_at, id) of the last row already seen.
SELECT * FROM personal_access_tokens
WHERE user_id = @user_id
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(after_created_at)::timestamptz, sqlc.narg(after_id)::text))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;

-- name: DeleteToken :one
DELETE FROM personal_access_tokens WHERE id = @id AND user_id = @user_id RETURNING *;

-- name: DeleteUserTokens :many
-- Every token of a user, or with @organization_id only those of that organization.
DELETE FROM personal_access_tokens
WHERE user_id = @user_id
  AND (sqlc.narg(organization_id)::text IS NULL OR organization_id = sqlc.narg(organization_id)::text)
RETURNING *;

-- name: SetTokenExpiry :exec
UPDATE personal_access_tokens SET expires_at = @expires_at, updated_at = @now::timestamptz
WHERE id = @id AND user_id = @user_id;

-- name: DeleteExpiredTokens :many
-- One batch of expired tokens; the caller repeats until a batch comes back short.
DELETE FROM personal_access_tokens
WHERE id IN (
    SELECT id FROM personal_access_tokens
    WHERE expires_at <= @now::timestamptz
    ORDER BY expires_at
    LIMIT @batch_size
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: TouchTokens :exec
-- Records last use for a batch of tokens in one statement; never moves a time backwards.
UPDATE personal_access_tokens AS t
SET last_used_at = u.used_at
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@used_at::timestamptz[]) AS used_at) AS u
WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.used_at);

-- name: ImportToken :execrows
-- Idempotent: a token already imported (same id or same hash) is left as it
-- is, and one removed since (an audit event with one of @removal_actions) is
-- not brought back.
INSERT INTO personal_access_tokens (id, user_id, name, token_hash, token_start, expires_at, last_used_at, created_at, updated_at)
SELECT @id, @user_id, @name, @token_hash, @token_start, @expires_at, @last_used_at, @created_at, @updated_at
WHERE NOT EXISTS (
    SELECT 1 FROM pat_audit_events
    WHERE token_id = @id AND action = ANY(@removal_actions::text[])
)
ON CONFLICT DO NOTHING;

-- name: TryCleanupLock :one
-- Held for a whole cleanup run, so that one replica at a time does it.
SELECT pg_try_advisory_lock(hashtextextended('pat:cleanup', 0));

-- name: CleanupUnlock :exec
SELECT pg_advisory_unlock(hashtextextended('pat:cleanup', 0));

-- name: NotifyRevoked :exec
-- Tells every replica listening on @channel, when the transaction commits, to
-- forget the cached validations of these token hashes (hex, comma-separated).
SELECT pg_notify(@channel::text, @hashes::text);
