-- +goose Up
-- Leak reports: the SHA-256 of every signed report body that revoked
-- something, so that the same body sent again is refused. Rows older than a
-- day are removed by the next report that writes (a replay after that finds
-- every token already gone, which costs no write either).
CREATE TABLE leak_reports (
    digest  bytea       PRIMARY KEY,
    seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leak_reports_seen_at_idx ON leak_reports (seen_at);

-- Lifecycle events (the webhook outbox). Each event is written in the
-- transaction of the change it tells about, with one delivery row per
-- endpoint and a River job per delivery that does the sending.
--
-- seq orders the events of one token: it is taken from token_event_seqs under
-- that row's lock inside the change's transaction, so it follows commit order.
CREATE TABLE webhook_events (
    id         text        PRIMARY KEY, -- the webhook-id, stable across retries
    token_id   text        NOT NULL,
    seq        integer     NOT NULL,
    type       text        NOT NULL,
    payload    jsonb       NOT NULL,   -- the body sent: {"type","timestamp","data"}
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (token_id, seq)
);
CREATE INDEX webhook_events_created_at_idx ON webhook_events (created_at);

CREATE TABLE token_event_seqs (
    token_id text    PRIMARY KEY,
    seq      integer NOT NULL
);

-- state: pending, delivered, or dead (attempts used up: the dead letter).
CREATE TABLE webhook_deliveries (
    event_id        text        NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint        text        NOT NULL,
    token_id        text        NOT NULL,
    seq             integer     NOT NULL,
    state           text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text        NOT NULL DEFAULT '',
    delivered_at    timestamptz NULL,
    PRIMARY KEY (event_id, endpoint)
);
CREATE INDEX webhook_deliveries_pending_idx
    ON webhook_deliveries (endpoint, token_id, seq) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_state_idx ON webhook_deliveries (state);

-- One sender at a time per (endpoint, token), so that a token's events reach
-- an endpoint in order. A lease rather than a lock held across the HTTP call:
-- no pool connection waits on a slow receiver, and a crashed sender's lease
-- simply runs out.
CREATE TABLE webhook_leases (
    endpoint     text        NOT NULL,
    token_id     text        NOT NULL,
    holder       text        NOT NULL,
    leased_until timestamptz NOT NULL,
    PRIMARY KEY (endpoint, token_id)
);

-- token.expiring notices already sent (days: 7 or 1), so none is sent twice.
CREATE TABLE token_expiry_notices (
    token_id text        NOT NULL REFERENCES personal_access_tokens (id) ON DELETE CASCADE,
    days     integer     NOT NULL,
    sent_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, days)
);

-- +goose Down
DROP TABLE token_expiry_notices;
DROP TABLE webhook_leases;
DROP TABLE webhook_deliveries;
DROP TABLE token_event_seqs;
DROP TABLE webhook_events;
DROP TABLE leak_reports;
