-- Invitations to join an organization, sqlite flavour. Keep in step with ../postgres/0010_invitations.sql.
-- Timestamps are Unix epoch milliseconds (BIGINT).

-- An invitation for an e-mail address, with the role and teams the new member gets. The link's
-- secret is stored as its SHA-256 only; an invitation is used once (accepted_at) and expires.
CREATE TABLE invitations (
    id                INTEGER PRIMARY KEY,
    organization_id   BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email             TEXT   NOT NULL,
    role              TEXT   NOT NULL,
    team_ids          TEXT   NOT NULL,
    token_hash        TEXT   NOT NULL UNIQUE,
    inviter_user_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    accepted_at       BIGINT
);
CREATE INDEX invitations_organization ON invitations (organization_id, email);
