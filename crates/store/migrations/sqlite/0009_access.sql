-- Access control, sqlite flavour. Keep in step with ../postgres/0009_access.sql.
-- Timestamps are Unix epoch milliseconds (BIGINT).

-- Open membership (Sentry's "allow members to see all projects"): every member sees every
-- project. TRUE keeps what members of existing organizations see; new organizations choose.
ALTER TABLE organizations ADD COLUMN open_membership BOOLEAN NOT NULL DEFAULT TRUE;

-- Teams own projects; a member without global access sees the projects of their teams.
CREATE TABLE project_teams (
    project_id  BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    team_id     BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project_id, team_id)
);
CREATE INDEX project_teams_team ON project_teams (team_id, project_id);

-- A personal token's scopes, space-separated Sentry names. Tokens made before scopes existed
-- could do everything their owner could, and keep that.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
UPDATE api_tokens SET scopes = 'org:read org:write org:admin org:ci project:read project:write project:admin project:releases team:read team:write team:admin member:read member:write member:admin event:read event:write event:admin alerts:read alerts:write';

-- Organization tokens (sentry-cli's `sntrys_` tokens for CI): scoped to one organization, not
-- to a user. Only the SHA-256 of the token is stored.
CREATE TABLE org_tokens (
    id                INTEGER PRIMARY KEY,
    organization_id   BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    token_hash        TEXT   NOT NULL UNIQUE,
    token_last_chars  TEXT   NOT NULL,
    name              TEXT   NOT NULL,
    scopes            TEXT   NOT NULL,
    created_by        BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at        BIGINT NOT NULL,
    last_used_at      BIGINT
);
CREATE INDEX org_tokens_organization ON org_tokens (organization_id);

-- Who changed what in an organization (members, roles, teams, projects, keys, tokens,
-- settings), when and from which address; Sentry's event names in `action`. Rows outlive the
-- users and tokens they name, so actors are kept as a label too.
CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY,
    organization_id  BIGINT REFERENCES organizations (id) ON DELETE CASCADE,
    actor_user_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_label      TEXT   NOT NULL,
    ip_address       TEXT,
    action           TEXT   NOT NULL,
    target_id        BIGINT,
    data             TEXT   NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX audit_log_organization ON audit_log (organization_id, id);
