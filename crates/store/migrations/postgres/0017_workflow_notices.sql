-- Workflow notices (an issue assigned to someone, a comment on an issue they took part in, a
-- regression of an issue they resolved) go through the deliveries outbox like alerts. What the
-- mail says is kept with the delivery as it was when it happened: who did it (`actor`, a name)
-- and its detail (the comment's text, the team an issue was assigned to). Older rows have
-- neither. Same in both engines.
ALTER TABLE deliveries ADD COLUMN actor TEXT;
ALTER TABLE deliveries ADD COLUMN detail TEXT;

-- A user's switches for notifications that no alert rule sends; no row: all on.
CREATE TABLE user_notification_options (
    user_id   BIGINT  NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    workflow  BOOLEAN NOT NULL
);
