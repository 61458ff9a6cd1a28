-- name: LockUserTokens :exec
-- Serialises changes to one user's tokens for the rest of the transaction, so that
-- the max-active check and the insert that follows it cannot race. @namespace
-- keeps user ids apart from the keys of every other advisory lock (pat/locks.go).
SELECT pg_advisory_xact_lock(@namespace::int4, hashtext(@user_id::text));

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
-- The total is CountTokens, asked only when the page does not tell it.
SELECT * FROM personal_access_tokens
WHERE user_id = @user_id
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(after_created_at)::timestamptz, sqlc.narg(after_id)::text))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;

-- name: DeleteToken :one
DELETE FROM personal_access_tokens WHERE id = @id AND user_id = @user_id RETURNING *;

-- name: DeleteUserTokens :many
-- Every token of a user, or with @organization_id only those of that
-- organization. Locks the rows in id order before deleting them, the one order
-- of every statement that locks several tokens (see TouchTokens).
WITH doomed AS (
    SELECT p.id FROM personal_access_tokens AS p
    WHERE p.user_id = @user_id
      AND (sqlc.narg(organization_id)::text IS NULL OR p.organization_id = sqlc.narg(organization_id)::text)
    ORDER BY p.id
    FOR UPDATE
)
DELETE FROM personal_access_tokens AS t USING doomed WHERE t.id = doomed.id
RETURNING t.*;

-- name: SetTokenExpiry :exec
UPDATE personal_access_tokens SET expires_at = @expires_at, updated_at = @now::timestamptz
WHERE id = @id AND user_id = @user_id;

-- name: DeleteExpiredTokens :many
-- One batch of expired tokens; the caller repeats until a batch comes back short.
-- SKIP LOCKED never waits; the rows are still taken in id order, like everywhere.
DELETE FROM personal_access_tokens
WHERE id IN (
    SELECT id FROM personal_access_tokens
    WHERE expires_at <= @now::timestamptz
    ORDER BY id
    LIMIT @batch_size
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: TouchTokens :exec
-- Records last use for a batch of tokens in one statement; never moves a time backwards.
-- Every statement that locks several tokens locks them in id order, so that two
-- of them (flushes of several replicas, a revoke-all) never wait on each other
-- in a cycle: left to the planner, an UPDATE ... FROM locks in the order of
-- the array, a DELETE in the order of its index or of the heap.
WITH u AS (
    SELECT unnest(@ids::text[]) AS id, unnest(@used_at::timestamptz[]) AS used_at
), locked AS (
    SELECT t.id, u.used_at
    FROM personal_access_tokens AS t JOIN u ON t.id = u.id
    WHERE t.last_used_at IS NULL OR t.last_used_at < u.used_at
    ORDER BY t.id
    FOR UPDATE OF t
)
UPDATE personal_access_tokens AS t
SET last_used_at = locked.used_at
FROM locked
WHERE t.id = locked.id AND (t.last_used_at IS NULL OR t.last_used_at < locked.used_at);

-- name: ImportToken :batchmany
-- Sent in batches (one round trip for many rows). Idempotent: a token already
-- present (same id or same hash) is left as it is, and one removed since (its
-- hash in the tombstones, or, for removals older than the tombstones, its id
-- with one of @removal_actions in the audit trail) is not brought back. An
-- inserted token's hash is recorded as imported. Returns the id when the row
-- was inserted, nothing when it was skipped.
WITH inserted AS (
    INSERT INTO personal_access_tokens (id, user_id, name, token_hash, token_start, expires_at, last_used_at, created_at, updated_at)
    SELECT @id, @user_id, @name, @token_hash, @token_start, @expires_at, @last_used_at, @created_at, @updated_at
    WHERE NOT EXISTS (SELECT 1 FROM pat_token_tombstones WHERE token_hash = @token_hash)
      AND NOT EXISTS (
        SELECT 1 FROM pat_audit_events
        WHERE token_id = @id AND action = ANY(@removal_actions::text[])
      )
    ON CONFLICT DO NOTHING
    RETURNING id, token_hash
), recorded AS (
    INSERT INTO pat_imported_hashes (token_hash) SELECT token_hash FROM inserted
)
SELECT id FROM inserted;

-- name: ImportedHashesSince :many
-- Imported token hashes after @after_seq, oldest first, a page at a time.
SELECT seq, token_hash FROM pat_imported_hashes WHERE seq > @after_seq ORDER BY seq LIMIT @max_rows;

-- name: TryCleanupLock :one
-- Held for a whole cleanup run, so that one replica at a time does it.
SELECT pg_try_advisory_lock(@namespace::int4, 0);

-- name: CleanupUnlock :exec
SELECT pg_advisory_unlock(@namespace::int4, 0);

-- name: NotifyRevoked :exec
-- Tells every replica listening on @channel, when the transaction commits, to
-- forget the cached validations of these token hashes (hex, comma-separated).
SELECT pg_notify(@channel::text, @hashes::text);
