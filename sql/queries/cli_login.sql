-- name: InsertCLISession :exec
INSERT INTO cli_login_sessions (id, poll_secret_hash, name, created_at, expires_at)
VALUES (@id, @poll_secret_hash, @name, @created_at, @expires_at);

-- name: GetCLISession :one
SELECT * FROM cli_login_sessions WHERE id = @id;

-- name: LockCLISession :one
-- The session, locked until the transaction ends, so that of two polls racing
-- for one approved session exactly one mints the token.
SELECT * FROM cli_login_sessions WHERE id = @id FOR UPDATE;

-- name: ApproveCLISession :execrows
-- Approves a session nobody has approved yet.
UPDATE cli_login_sessions
SET approved_by = @approved_by, approved_at = @approved_at, token_name = @token_name,
    token_expires_at = @token_expires_at, organization_id = @organization_id
WHERE id = @id AND approved_by IS NULL;

-- name: DeleteCLISession :exec
DELETE FROM cli_login_sessions WHERE id = @id;

-- name: DeleteExpiredCLISessions :execrows
DELETE FROM cli_login_sessions WHERE expires_at <= @now::timestamptz;
