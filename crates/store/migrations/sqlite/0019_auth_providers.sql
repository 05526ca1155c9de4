-- Organizations' single sign-on providers, SQLite flavour. Keep in step with ../postgres/0019_auth_providers.sql.
-- One per organization. config is the provider's settings as a JSON object, secrets sealed with
-- the server key; allowed_domains a JSON array of lowercase e-mail domains; default_role the role
-- of members the provider brings in. Timestamps are epoch ms.
CREATE TABLE auth_providers (
    id               INTEGER PRIMARY KEY,
    organization_id  BIGINT  NOT NULL UNIQUE REFERENCES organizations (id) ON DELETE CASCADE,
    provider         TEXT    NOT NULL,
    config           TEXT    NOT NULL,
    default_role     TEXT    NOT NULL,
    require_sso      BOOLEAN NOT NULL DEFAULT FALSE,
    allowed_domains  TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
