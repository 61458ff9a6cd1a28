-- +goose Up
CREATE TABLE personal_access_tokens (
    id           text        PRIMARY KEY,
    user_id      text        NOT NULL,
    name         text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE,
    token_start  text        NOT NULL,
    expires_at   timestamptz NULL,
    last_used_at timestamptz NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX personal_access_tokens_user_created_idx
    ON personal_access_tokens (user_id, created_at DESC, id DESC);
CREATE INDEX personal_access_tokens_expires_at_idx
    ON personal_access_tokens (expires_at);

CREATE TABLE pat_audit_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action      text        NOT NULL,
    actor_id    text        NOT NULL,
    user_id     text        NOT NULL,
    token_id    text        NULL,
    detail      jsonb       NOT NULL DEFAULT '{}',
    client_ip   text        NOT NULL DEFAULT '',
    user_agent  text        NOT NULL DEFAULT '',
    request_id  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX pat_audit_events_user_created_idx
    ON pat_audit_events (user_id, created_at DESC);

-- +goose Down
DROP TABLE pat_audit_events;
DROP TABLE personal_access_tokens;
