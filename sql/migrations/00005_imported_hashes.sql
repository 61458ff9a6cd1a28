-- +goose Up
-- The hashes of tokens imported from the old backend, in the order they came.
-- Tokens without patd's checksum are looked up only if their hash is here:
-- every replica keeps these in memory (a Bloom filter) and reads new ones by
-- seq, so a random string never costs a database query.
CREATE TABLE pat_imported_hashes (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  bytea  NOT NULL
);

INSERT INTO pat_imported_hashes (token_hash)
SELECT p.token_hash FROM personal_access_tokens p
WHERE EXISTS (SELECT 1 FROM pat_audit_events e WHERE e.token_id = p.id AND e.action = 'import');

-- +goose Down
DROP TABLE pat_imported_hashes;
