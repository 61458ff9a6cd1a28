-- +goose Up
-- A token may belong to an organization (null: a personal token).
ALTER TABLE personal_access_tokens ADD COLUMN organization_id text NULL;

-- CLI pairing: a CLI starts a session, the user approves it in the web app,
-- and the CLI's next poll mints the token. Nothing secret is stored: the poll
-- secret only as its SHA-256, and no token at all (it is minted at the poll).
CREATE TABLE cli_login_sessions (
    id                text        PRIMARY KEY,
    poll_secret_hash  bytea       NOT NULL,
    name              text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    -- Set by the approval: who approved, and what the token is to be.
    approved_by       text        NULL,
    approved_at       timestamptz NULL,
    token_name        text        NULL,
    token_expires_at  timestamptz NULL,
    organization_id   text        NULL
);

CREATE INDEX cli_login_sessions_expires_at_idx ON cli_login_sessions (expires_at);

-- +goose Down
DROP TABLE cli_login_sessions;
ALTER TABLE personal_access_tokens DROP COLUMN organization_id;
