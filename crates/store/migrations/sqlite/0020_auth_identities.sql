-- Identities at an organization's SSO provider linked to accounts (Sentry's AuthIdentity),
-- SQLite flavour. Keep in step with ../postgres/0020_auth_identities.sql.
-- ident is the provider's stable id for the person (OIDC sub, GitHub user id, SAML NameID); one
-- account per identity and one identity per account at a provider. data is what the provider
-- said at the last login (e-mail, name, groups) as JSON. Timestamps are epoch ms.
CREATE TABLE auth_identities (
    id                INTEGER PRIMARY KEY,
    auth_provider_id  BIGINT NOT NULL REFERENCES auth_providers (id) ON DELETE CASCADE,
    user_id           BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ident             TEXT   NOT NULL,
    data              TEXT   NOT NULL,
    created_at        BIGINT NOT NULL,
    last_verified     BIGINT NOT NULL,
    UNIQUE (auth_provider_id, ident),
    UNIQUE (auth_provider_id, user_id)
);
CREATE INDEX auth_identities_user ON auth_identities (user_id);
