-- Alert rules, plugin settings and the notification outbox, sqlite flavour. Keep in step with ../postgres/0014_alerts.sql.
-- Timestamps are Unix epoch milliseconds (BIGINT).

-- A project's alert rules. `data` is the rule in Sentry's JSON (conditions, filters, actions,
-- matches, frequency, environment); `needs_counts` says whether it has a frequency condition,
-- so the ingest path records "seen" jobs only for projects that need them.
CREATE TABLE alert_rules (
    id             INTEGER PRIMARY KEY,
    project_id     BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    data           TEXT    NOT NULL,
    needs_counts   BOOLEAN NOT NULL DEFAULT FALSE,
    created_by     BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    last_fired_at  BIGINT,
    times_fired    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX alert_rules_project ON alert_rules (project_id, id);

-- When a rule last fired for an issue: the once-per-interval limit, claimed with one
-- conditional upsert so that two workers never both fire.
CREATE TABLE alert_rule_fires (
    rule_id        BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    issue_id       BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    last_fired_at  BIGINT NOT NULL,
    PRIMARY KEY (rule_id, issue_id)
);

-- The notification outbox: one row per action of a fired rule (or workflow notice). Rows
-- waiting for the same target form a digest (`digest_key`); a send claims them under one
-- `batch` id, kept across retries, which is the idempotency key plugins receive.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT   NOT NULL UNIQUE,
    project_id       BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rule_id          BIGINT REFERENCES alert_rules (id) ON DELETE SET NULL,
    issue_id         BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    event_id         TEXT   NOT NULL,
    reason           TEXT   NOT NULL,
    target           TEXT   NOT NULL,
    digest_key       TEXT   NOT NULL,
    state            TEXT   NOT NULL,
    batch            TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    due_at           BIGINT NOT NULL,
    lease_until      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT
);
CREATE INDEX deliveries_due ON deliveries (state, due_at, id);
CREATE INDEX deliveries_digest ON deliveries (digest_key, state, id);
CREATE INDEX deliveries_batch ON deliveries (batch) WHERE batch IS NOT NULL;
CREATE INDEX deliveries_issue ON deliveries (issue_id, id);
CREATE INDEX deliveries_rule ON deliveries (rule_id, id);

-- Every attempt of every delivery, with its outcome (shown on the issue and the rule).
CREATE TABLE delivery_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    plugin_id    TEXT   NOT NULL,
    outcome      TEXT   NOT NULL,
    detail       TEXT   NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

-- A plugin's settings in a project; secret values are sealed with the server key.
CREATE TABLE project_plugins (
    project_id  BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    plugin_id   TEXT    NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    settings    TEXT    NOT NULL DEFAULT '{}',
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (project_id, plugin_id)
);

-- A user's own switch and settings for a plugin (e.g. their chat handle).
CREATE TABLE user_plugins (
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plugin_id   TEXT    NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    settings    TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (user_id, plugin_id)
);

-- Projects a user turned alerts off for.
CREATE TABLE user_project_alerts (
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id  BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    enabled     BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, project_id)
);

-- Tickets in issue trackers linked to an issue.
CREATE TABLE issue_tickets (
    issue_id    BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    plugin_id   TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    url         TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (issue_id, plugin_id, key)
);

-- Jobs recorded before anything consumed them would fire stale alerts for old issues.
DELETE FROM jobs;
