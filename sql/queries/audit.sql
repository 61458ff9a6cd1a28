-- name: InsertAuditEvent :exec
INSERT INTO pat_audit_events (action, actor_id, user_id, token_id, detail, client_ip, user_agent, request_id)
VALUES (@action, @actor_id, @user_id, @token_id, @detail, @client_ip, @user_agent, @request_id);


-- name: InsertAuditEvents :exec
-- One event per token, for batch operations (cleanup, revoke-all, leaks), in
-- one statement; @details gives each its own detail, or is NULL for none (the
-- set-returning functions run in step, a shorter array padded with NULLs).
INSERT INTO pat_audit_events (action, actor_id, user_id, token_id, detail, client_ip, user_agent, request_id)
SELECT @action, @actor_id, u.user_id, u.token_id, coalesce(u.detail, '{}'), @client_ip, @user_agent, @request_id
FROM (SELECT unnest(@user_ids::text[]) AS user_id, unnest(@token_ids::text[]) AS token_id,
             unnest(@details::jsonb[]) AS detail) AS u;


-- name: ListUserEvents :many
-- A user's security log, newest first, limited to @actions (the ones the
-- schema can name); the cursor is the (created_at, id) of the last event
-- already seen; the total is CountUserEvents, asked only when the page does
-- not tell it. The token's name comes from the event itself (create
-- and rotate record it), else from the token while it exists, else from an
-- earlier event of the token that recorded it, else from the rotation that
-- minted the token; '' when none did (COALESCE stops at the first that is
-- not null, so the later lookups run only for tokens long gone).
SELECT e.id, e.action, e.actor_id, e.token_id, e.client_ip, e.user_agent, e.created_at,
       COALESCE(
           e.detail->>'name',
           t.name,
           (SELECT c.detail->>'name' FROM pat_audit_events AS c
            WHERE c.token_id = e.token_id AND c.user_id = e.user_id AND c.detail->>'name' IS NOT NULL
            ORDER BY c.id LIMIT 1),
           (SELECT r.detail->>'name' FROM pat_audit_events AS r
            WHERE r.user_id = e.user_id AND r.action = 'rotate' AND r.detail->>'newTokenId' = e.token_id
            ORDER BY r.id LIMIT 1),
           ''
       )::text AS token_name
FROM pat_audit_events AS e
LEFT JOIN personal_access_tokens AS t ON t.id = e.token_id AND t.user_id = e.user_id
WHERE e.user_id = @user_id
  AND e.action = ANY(@actions::text[])
  AND e.token_id IS NOT NULL
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR (e.created_at, e.id) < (sqlc.narg(after_created_at)::timestamptz, sqlc.narg(after_id)::bigint))
ORDER BY e.created_at DESC, e.id DESC
LIMIT @max_rows;

-- name: CountUserEvents :one
SELECT count(*) FROM pat_audit_events
WHERE user_id = @user_id AND action = ANY(@actions::text[]) AND token_id IS NOT NULL;
