-- +goose Up
-- Import asks whether a token was ever removed, so that re-running an import
-- does not bring back what users deleted.
CREATE INDEX pat_audit_events_token_idx ON pat_audit_events (token_id);

-- +goose Down
DROP INDEX pat_audit_events_token_idx;
