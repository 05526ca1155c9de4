-- Web UI sessions, PostgreSQL flavour. Keep in step with ../sqlite/0005_sessions.sql.
-- id is the SHA-256 (hex) of the session id in the cookie, so a copy of the database does not
-- hold usable session cookies. data is the session's JSON object; expires_at is epoch ms.
CREATE TABLE web_sessions (
    id          TEXT   PRIMARY KEY,
    data        TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
