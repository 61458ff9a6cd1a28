-- +goose Up
-- The hash of every token ever removed (deleted, rotated out, revoked,
-- cleaned up, reported leaked, or deleted by hand), so that re-running an
-- import never brings one back, under its id or any other. A trigger, rather
-- than each code path, so that no way of removing a row can forget it.
CREATE TABLE pat_token_tombstones (
    token_hash  bytea       PRIMARY KEY,
    removed_at  timestamptz NOT NULL DEFAULT now()
);

-- Tokens removed before this migration are known by id from the audit trail;
-- their hashes are gone with their rows, so those ids stay guarded by the
-- import query's id check.

-- +goose StatementBegin
CREATE FUNCTION pat_remember_removed_token() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pat_token_tombstones (token_hash) VALUES (OLD.token_hash)
    ON CONFLICT (token_hash) DO NOTHING;
    RETURN OLD;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER pat_remember_removed_token
    AFTER DELETE ON personal_access_tokens
    FOR EACH ROW EXECUTE FUNCTION pat_remember_removed_token();

-- +goose Down
DROP TRIGGER pat_remember_removed_token ON personal_access_tokens;
DROP FUNCTION pat_remember_removed_token();
DROP TABLE pat_token_tombstones;
