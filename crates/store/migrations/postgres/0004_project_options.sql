-- Per-project settings as key -> JSON text: grouping rules, grouping config transitions, data
-- scrubbing. Read by the ingest worker (cached for a few seconds) and the project API.
CREATE TABLE project_options (
    project_id  BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key         TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (project_id, key)
);
