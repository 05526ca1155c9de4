-- What the list of a user's sessions shows, and last logins; sqlite flavour. Keep in step with
-- ../postgres/0012_session_list.sql. Timestamps are Unix epoch milliseconds (BIGINT).

-- The session's user, when it was made and last used, and the browser that made it. user_id is
-- written from the session's data on every save, so a user's sessions are found (listed,
-- ended) through the index instead of by reading every row's JSON.
ALTER TABLE web_sessions ADD COLUMN user_id BIGINT;
ALTER TABLE web_sessions ADD COLUMN created_at BIGINT;
ALTER TABLE web_sessions ADD COLUMN last_seen_at BIGINT;
ALTER TABLE web_sessions ADD COLUMN client_addr TEXT;
ALTER TABLE web_sessions ADD COLUMN user_agent TEXT;
UPDATE web_sessions SET user_id = json_extract(data, '$.uid')
    WHERE json_valid(data) AND json_type(data, '$.uid') = 'integer';
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- Set at each password login.
ALTER TABLE users ADD COLUMN last_login_at BIGINT;

-- Open sign-up: an address waiting for its owner to follow the mailed link, which creates the
-- account. The link's secret is stored as its SHA-256 only; a link is used once and expires.
CREATE TABLE registrations (
    id          INTEGER PRIMARY KEY,
    email       TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    token_hash  TEXT   NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX registrations_email ON registrations (email);
