-- name: NextTokenEventSeqs :many
-- Reserves as many event numbers for each token as it is given (distinct, sorted so that
-- concurrent transactions lock rows in one order) and returns the last one
-- reserved. The row lock lasts until the transaction ends, so numbers follow
-- the order in which the changes commit.
INSERT INTO token_event_seqs (token_id, seq)
SELECT u.token_id, u.n FROM (SELECT unnest(@token_ids::text[]) AS token_id, unnest(@counts::int4[]) AS n) AS u
ON CONFLICT (token_id) DO UPDATE SET seq = token_event_seqs.seq + EXCLUDED.seq
RETURNING token_id, seq;

-- name: ForgetTokenEventSeqs :exec
-- A revoked token has no more events.
DELETE FROM token_event_seqs WHERE token_id = ANY(@token_ids::text[]);

-- name: InsertWebhookEvents :exec
INSERT INTO webhook_events (id, token_id, seq, type, payload, created_at)
SELECT u.id, u.token_id, u.seq, u.type, u.payload, @created_at::timestamptz
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@token_ids::text[]) AS token_id, unnest(@seqs::int4[]) AS seq,
             unnest(@types::text[]) AS type, unnest(@payloads::jsonb[]) AS payload) AS u;

-- name: InsertWebhookDeliveries :exec
INSERT INTO webhook_deliveries (event_id, endpoint, token_id, seq, next_attempt_at)
SELECT e.id, ep.endpoint, e.token_id, e.seq, e.created_at
FROM webhook_events e CROSS JOIN unnest(@endpoints::text[]) AS ep (endpoint)
WHERE e.id = ANY(@event_ids::text[]);

-- name: GetWebhookDelivery :one
SELECT * FROM webhook_deliveries WHERE event_id = @event_id AND endpoint = @endpoint;

-- name: AcquireWebhookLease :execrows
-- Takes or renews the lease on (endpoint, token): 1 row when this holder has it.
INSERT INTO webhook_leases (endpoint, token_id, holder, leased_until)
VALUES (@endpoint, @token_id, @holder, @leased_until::timestamptz)
ON CONFLICT (endpoint, token_id) DO UPDATE
SET holder = EXCLUDED.holder, leased_until = EXCLUDED.leased_until
WHERE webhook_leases.holder = EXCLUDED.holder OR webhook_leases.leased_until < @now::timestamptz;

-- name: ReleaseWebhookLease :exec
DELETE FROM webhook_leases WHERE endpoint = @endpoint AND token_id = @token_id AND holder = @holder;

-- name: PendingWebhookDeliveries :many
-- A token's undelivered events for one endpoint, in change order.
SELECT d.event_id, d.seq, d.attempts, d.next_attempt_at, e.type, e.payload, e.created_at
FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
WHERE d.endpoint = @endpoint AND d.token_id = @token_id AND d.state = 'pending'
ORDER BY d.seq
LIMIT @max_rows;

-- name: MarkWebhookDelivered :exec
UPDATE webhook_deliveries
SET state = 'delivered', attempts = attempts + 1, delivered_at = @now::timestamptz, last_error = ''
WHERE event_id = @event_id AND endpoint = @endpoint AND state = 'pending';

-- name: MarkWebhookFailed :exec
-- A failed attempt: tried again at @next_attempt_at, or, with @dead, given up.
UPDATE webhook_deliveries
SET attempts = attempts + 1, last_error = @last_error, next_attempt_at = @next_attempt_at::timestamptz,
    state = CASE WHEN @dead::boolean THEN 'dead' ELSE 'pending' END
WHERE event_id = @event_id AND endpoint = @endpoint AND state = 'pending';

-- name: CountWebhookDeliveries :many
SELECT state, count(*) AS n FROM webhook_deliveries GROUP BY state;

-- name: PruneWebhookEvents :execrows
-- Events every endpoint is done with (delivered or dead), older than @before.
DELETE FROM webhook_events e
WHERE e.created_at < @before::timestamptz
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending');

-- name: ClaimExpiryNotices :many
-- Tokens that have crossed the mark @days days before their expiry (they
-- expire in (@after, @until]) and were not told yet, claimed in one step (the
-- notice row is the marker). A mark the token was created past (it lived
-- less than @lead_seconds) is skipped; a token rotated out (in its grace
-- period) is not expiring in the sense its owner cares about. The token rows
-- are locked so that a revocation racing this gets the next event number.
WITH due AS (
    SELECT t.id
    FROM personal_access_tokens t
    WHERE t.expires_at > @after::timestamptz
      AND t.expires_at <= @until::timestamptz
      AND extract(epoch FROM t.expires_at - t.created_at) > @lead_seconds::float8
      AND NOT EXISTS (SELECT 1 FROM token_expiry_notices n WHERE n.token_id = t.id AND n.days = @days)
      AND NOT EXISTS (SELECT 1 FROM pat_audit_events a WHERE a.token_id = t.id AND a.action = 'rotate')
    ORDER BY t.expires_at
    LIMIT @batch_size
    FOR UPDATE OF t SKIP LOCKED
), claimed AS (
    INSERT INTO token_expiry_notices (token_id, days, sent_at)
    SELECT due.id, @days, @sent_at::timestamptz FROM due
    ON CONFLICT DO NOTHING
    RETURNING token_id
)
SELECT t.* FROM claimed c JOIN personal_access_tokens t ON t.id = c.token_id;
