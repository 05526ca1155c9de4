-- Errhound schema, SQLite flavour. Keep in step with ../postgres/0001_initial.sql:
-- same tables, columns, nullability and indexes (checked by the parity test).
-- Timestamps are Unix epoch milliseconds (BIGINT) in both engines.

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    email          TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    password_hash  TEXT,
    is_superuser   BOOLEAN NOT NULL DEFAULT FALSE,
    is_active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     BIGINT  NOT NULL
);

CREATE TABLE organization_members (
    id               INTEGER PRIMARY KEY,
    organization_id  BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role             TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX organization_members_user ON organization_members (user_id);

CREATE TABLE api_tokens (
    id               INTEGER PRIMARY KEY,
    user_id          BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash       TEXT   NOT NULL UNIQUE,
    token_last_chars TEXT   NOT NULL,
    name             TEXT,
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT,
    expires_at       BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE projects (
    id               INTEGER PRIMARY KEY,
    organization_id  BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug             TEXT   NOT NULL,
    name             TEXT   NOT NULL,
    platform         TEXT,
    grouping_config  TEXT   NOT NULL,
    next_short_id    BIGINT NOT NULL DEFAULT 1,
    events_processed BIGINT NOT NULL DEFAULT 0,
    first_event_at   BIGINT,
    created_at       BIGINT NOT NULL,
    UNIQUE (organization_id, slug)
);

CREATE TABLE project_keys (
    id                 INTEGER PRIMARY KEY,
    project_id         BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    public_key         TEXT    NOT NULL UNIQUE,
    secret_key         TEXT    NOT NULL,
    label              TEXT    NOT NULL,
    is_active          BOOLEAN NOT NULL DEFAULT TRUE,
    rate_limit_count   BIGINT,
    rate_limit_window  BIGINT,
    created_at         BIGINT  NOT NULL
);
CREATE INDEX project_keys_project ON project_keys (project_id);

-- An issue (Sentry's "group"). Counters are written once per worker batch, never per event.
CREATE TABLE issues (
    id             INTEGER PRIMARY KEY,
    project_id     BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    short_id       BIGINT NOT NULL,
    status         TEXT   NOT NULL,
    substatus      TEXT,
    level          TEXT   NOT NULL,
    event_type     TEXT   NOT NULL,
    title          TEXT   NOT NULL,
    culprit        TEXT   NOT NULL,
    metadata       TEXT   NOT NULL,
    platform       TEXT,
    logger         TEXT,
    first_seen     BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL,
    times_seen     BIGINT NOT NULL,
    user_count     BIGINT NOT NULL,
    first_release  TEXT,
    last_release   TEXT,
    resolved_at    BIGINT,
    UNIQUE (project_id, short_id)
);
CREATE INDEX issues_project_last_seen ON issues (project_id, last_seen, id);
CREATE INDEX issues_project_status_last_seen ON issues (project_id, status, last_seen, id);

-- Grouping hashes: an event joins the issue of any of its known hashes.
CREATE TABLE group_hashes (
    id          INTEGER PRIMARY KEY,
    project_id  BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    hash        TEXT   NOT NULL,
    issue_id    BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    UNIQUE (project_id, hash)
);
CREATE INDEX group_hashes_issue ON group_hashes (issue_id);

-- Event index rows: small, so listing stays fast; the payload lives in event_payloads.
-- event_id is the 16 raw bytes of the UUID (half the size of its hex text, in the table and in
-- the unique index every insert touches).
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    project_id  BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    issue_id    BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    event_id    BLOB   NOT NULL,
    timestamp   BIGINT NOT NULL,
    received    BIGINT NOT NULL,
    UNIQUE (project_id, event_id)
);
CREATE INDEX events_issue_timestamp ON events (issue_id, timestamp, id);

-- zstd-compressed normalized event JSON, keyed by events.id.
CREATE TABLE event_payloads (
    event_id  INTEGER PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    data      BLOB   NOT NULL
);

-- Tag values seen per issue, counted per worker batch.
CREATE TABLE issue_tag_values (
    issue_id    BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    key         TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    times_seen  BIGINT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (issue_id, key, value)
) WITHOUT ROWID;
CREATE INDEX issue_tag_values_lookup ON issue_tag_values (key, value, issue_id);

-- Events per issue per hour (Unix hour = epoch ms / 3_600_000), for stats and sparklines.
CREATE TABLE issue_hourly_counts (
    issue_id  BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    hour      BIGINT NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (issue_id, hour)
) WITHOUT ROWID;

-- Transactional outbox: work that follows a committed batch (alerts, notifications).
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT   NOT NULL,
    payload     TEXT   NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    run_at      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX jobs_run_at ON jobs (run_at, id);
