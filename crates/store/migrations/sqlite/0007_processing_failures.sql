-- Events acknowledged to the SDK that processing could not store: a panic in the processing
-- code, a payload it cannot read, or a row the database refuses. Each is kept with the payload
-- (as received; the normalized event for a database refusal), so nothing acknowledged is lost
-- silently. One row per (project, event id): a replay after a crash records nothing twice.
CREATE TABLE processing_failures (
    id           INTEGER PRIMARY KEY,
    project_id   BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    event_id     TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    detail       TEXT   NOT NULL,
    payload      BLOB   NOT NULL,
    received_at  BIGINT NOT NULL,
    failed_at    BIGINT NOT NULL,
    UNIQUE (project_id, event_id)
);
CREATE INDEX processing_failures_project_failed ON processing_failures (project_id, failed_at, id);
