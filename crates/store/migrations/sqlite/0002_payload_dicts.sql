-- zstd dictionaries for event payloads, one or more per project (see store::payload).
CREATE TABLE payload_dicts (
    id          INTEGER PRIMARY KEY,
    project_id  BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    data        BLOB   NOT NULL,
    created_at  BIGINT NOT NULL
);
