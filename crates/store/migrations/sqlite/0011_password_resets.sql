-- Password resets by mailed link, sqlite flavour. Keep in step with ../postgres/0011_password_resets.sql.
-- Timestamps are Unix epoch milliseconds (BIGINT).

-- A reset link's secret is stored as its SHA-256 only; a link is used once and expires.
CREATE TABLE password_resets (
    id          INTEGER PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT   NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX password_resets_user ON password_resets (user_id);
