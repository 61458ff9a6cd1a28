-- name: InsertAuditEvent :exec
INSERT INTO pat_audit_events (action, actor_id, user_id, token_id, detail, client_ip, user_agent, request_id)
VALUES (@action, @actor_id, @user_id, @token_id, @detail, @client_ip, @user_agent, @request_id);


-- name: InsertAuditEvents :exec
-- One event per token, for batch operations (cleanup, revoke-all).
INSERT INTO pat_audit_events (action, actor_id, user_id, token_id, client_ip, user_agent, request_id)
SELECT @action, @actor_id, u.user_id, u.token_id, @client_ip, @user_agent, @request_id
FROM (SELECT unnest(@user_ids::text[]) AS user_id, unnest(@token_ids::text[]) AS token_id) AS u;
