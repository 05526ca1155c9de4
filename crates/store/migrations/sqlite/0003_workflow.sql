-- The issue workflow, SQLite flavour. Keep in step with ../postgres/0003_workflow.sql: same
-- tables, columns, nullability and indexes (checked by the parity test).
-- Timestamps are Unix epoch milliseconds (BIGINT).

-- Teams of an organization, and their members (users who are members of the organization).
CREATE TABLE teams (
    id               INTEGER PRIMARY KEY,
    organization_id  BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug             TEXT   NOT NULL,
    name             TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    UNIQUE (organization_id, slug)
);

CREATE TABLE team_members (
    team_id     BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id, team_id);

-- Releases seen in a project's events, maintained once per worker batch. Releases are ordered
-- by (first_seen, id): that order decides whether a resolution covers an event's release.
CREATE TABLE releases (
    id           INTEGER PRIMARY KEY,
    project_id   BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    version      TEXT   NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    new_issues   BIGINT NOT NULL,
    event_count  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (project_id, version)
);
CREATE INDEX releases_project_first_seen ON releases (project_id, first_seen, id);

-- Environments seen in a project's events (the `environment` tag), maintained once per batch.
CREATE TABLE environments (
    id           INTEGER PRIMARY KEY,
    project_id   BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    new_issues   BIGINT NOT NULL,
    event_count  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

-- Who an issue is assigned to: a user or a team of the issue's organization (exactly one).
CREATE TABLE issue_assignees (
    issue_id     INTEGER PRIMARY KEY REFERENCES issues (id) ON DELETE CASCADE,
    user_id      BIGINT REFERENCES users (id) ON DELETE CASCADE,
    team_id      BIGINT REFERENCES teams (id) ON DELETE CASCADE,
    assigned_by  BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at   BIGINT NOT NULL,
    CHECK ((user_id IS NULL) <> (team_id IS NULL))
);
CREATE INDEX issue_assignees_user ON issue_assignees (user_id);
CREATE INDEX issue_assignees_team ON issue_assignees (team_id);

-- Ignore conditions of an ignored issue (Sentry's GroupSnooze); no row means ignored forever.
-- times_seen_at / user_count_at are the issue's counters when it was ignored.
CREATE TABLE issue_snoozes (
    issue_id             INTEGER PRIMARY KEY REFERENCES issues (id) ON DELETE CASCADE,
    until_ms             BIGINT,
    count                BIGINT,
    window_minutes       BIGINT,
    user_count           BIGINT,
    user_window_minutes  BIGINT,
    times_seen_at        BIGINT NOT NULL,
    user_count_at        BIGINT NOT NULL,
    actor_id             BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX issue_snoozes_until ON issue_snoozes (until_ms);

-- How a resolved issue was resolved in a release (Sentry's GroupResolution): `in_release` (fixed
-- in release_id: events of older releases do not regress) or `in_next_release` (release_id is
-- the release current at resolve time: its events and older ones do not regress).
CREATE TABLE issue_resolutions (
    issue_id    INTEGER PRIMARY KEY REFERENCES issues (id) ON DELETE CASCADE,
    kind        TEXT   NOT NULL,
    release_id  BIGINT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    actor_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX issue_resolutions_release ON issue_resolutions (release_id);

-- The timeline of an issue: state changes, assignments, merges and comments (`note`).
-- data is a JSON object (Sentry's Activity.data); user_id is NULL for the system.
CREATE TABLE activity (
    id          INTEGER PRIMARY KEY,
    issue_id    BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    type        TEXT   NOT NULL,
    user_id     BIGINT REFERENCES users (id) ON DELETE SET NULL,
    data        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT
);
CREATE INDEX activity_issue ON activity (issue_id, id);
CREATE INDEX activity_issue_type ON activity (issue_id, type);

-- Issues a user bookmarked.
CREATE TABLE issue_bookmarks (
    issue_id    BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (issue_id, user_id)
);
CREATE INDEX issue_bookmarks_user ON issue_bookmarks (user_id, issue_id);

-- Issues merged into another one: their old ids and short ids lead to the surviving issue.
CREATE TABLE issue_redirects (
    previous_issue_id  INTEGER PRIMARY KEY,
    project_id         BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    previous_short_id  BIGINT NOT NULL,
    issue_id           BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    created_at         BIGINT NOT NULL
);
CREATE INDEX issue_redirects_issue ON issue_redirects (issue_id);
CREATE INDEX issue_redirects_short_id ON issue_redirects (project_id, previous_short_id);
