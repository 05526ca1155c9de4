-- Per-user state of an issue, sqlite flavour. Keep in step with ../postgres/0008_issue_viewers.sql.
-- Timestamps are Unix epoch milliseconds (BIGINT).

-- When a user last looked at an issue (Sentry's GroupSeen): set by viewing the issue's detail or
-- by PUT {"hasSeen": true}, deleted by PUT {"hasSeen": false}.
CREATE TABLE issue_seen (
    issue_id   BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (issue_id, user_id)
);
CREATE INDEX issue_seen_user ON issue_seen (user_id, issue_id);

-- An explicit (un)subscription of a user to an issue (PUT {"isSubscribed": ...}, Sentry's
-- GroupSubscription). Without a row a user is subscribed when they take part in the issue.
CREATE TABLE issue_subscriptions (
    issue_id    BIGINT  NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_active   BOOLEAN NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (issue_id, user_id)
);
CREATE INDEX issue_subscriptions_user ON issue_subscriptions (user_id, issue_id);
