-- Tickets in issue trackers linked to issues, sqlite flavour. Keep in step with ../postgres/0016_issue_tickets.sql.
-- Timestamps are Unix epoch milliseconds (BIGINT).

-- One ticket per plugin per issue, as Sentry's legacy plugins keep it: linking another ticket
-- through the same plugin replaces the link. The table of 0014 allowed several and nothing
-- ever wrote it, so it is replaced rather than migrated.
DROP TABLE issue_tickets;
CREATE TABLE issue_tickets (
    issue_id    BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    plugin_id   TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    url         TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (issue_id, plugin_id)
);
