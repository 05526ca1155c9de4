-- Answers of identity providers that no login attempt asked for (SAML IdP-initiated logins),
-- remembered until they would expire anyway so each is accepted once. id is the SHA-256 (hex)
-- of the organization id and the answer's own id; expires_at is epoch ms.
CREATE TABLE sso_answers (
    id          TEXT   PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sso_answers_expires ON sso_answers (expires_at);
