-- Single sign-on attempts between their steps, SQLite flavour. Keep in step with ../postgres/0018_sso_attempts.sql.
-- id is the SHA-256 (hex) of the attempt's single-use state value (in the identity provider's
-- redirect), binding the SHA-256 of the browser cookie that started it: a copy of the database
-- can continue no attempt. data is domain::sso::Attempt as JSON; expires_at is epoch ms.
CREATE TABLE sso_attempts (
    id               TEXT   PRIMARY KEY,
    organization_id  BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    binding          TEXT   NOT NULL,
    data             TEXT   NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX sso_attempts_expires ON sso_attempts (expires_at);
