//! Identities at an organization's single sign-on provider linked to accounts (Sentry's
//! `AuthIdentity`): at one provider an identity belongs to one account and an account has one
//! identity, so a login through the provider finds its account by the provider's id for the
//! person and never by e-mail alone (`domain::sso::linking` decides when a link is made).

use crate::StoreError;
use crate::query::{Conn, Query};

/// A linked identity.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthIdentity {
    /// Its id.
    pub id: i64,
    /// The organization's provider.
    pub auth_provider_id: i64,
    /// The account.
    pub user_id: i64,
    /// The provider's id for the person.
    pub ident: String,
    /// What the provider said at the last login (e-mail, name, groups), JSON.
    pub data: String,
    /// When linked, epoch ms.
    pub created_at: i64,
    /// When the provider last vouched for it (the last login through it), epoch ms.
    pub last_verified: i64,
}

/// The identity `ident` at provider `auth_provider_id`, if linked.
pub async fn find(
    conn: &mut Conn<'_>,
    auth_provider_id: i64,
    ident: &str,
) -> Result<Option<AuthIdentity>, StoreError> {
    Ok(Query::new(
        "SELECT id, auth_provider_id, user_id, ident, data, created_at, last_verified \
         FROM auth_identities WHERE auth_provider_id = $1 AND ident = $2",
    )
    .bind(auth_provider_id)
    .bind(ident)
    .fetch_optional(conn)
    .await?)
}

/// The identity of `user_id` at provider `auth_provider_id`, if they linked one.
pub async fn of_user(
    conn: &mut Conn<'_>,
    auth_provider_id: i64,
    user_id: i64,
) -> Result<Option<AuthIdentity>, StoreError> {
    Ok(Query::new(
        "SELECT id, auth_provider_id, user_id, ident, data, created_at, last_verified \
         FROM auth_identities WHERE auth_provider_id = $1 AND user_id = $2",
    )
    .bind(auth_provider_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?)
}

/// Links `ident` to `user_id`; [`StoreError::AlreadyExists`] when the identity is linked to
/// someone, or the account to another identity, at this provider.
pub async fn link(
    conn: &mut Conn<'_>,
    auth_provider_id: i64,
    user_id: i64,
    ident: &str,
    data: &str,
    now_ms: i64,
) -> Result<AuthIdentity, StoreError> {
    Query::new(
        "INSERT INTO auth_identities (auth_provider_id, user_id, ident, data, created_at, \
         last_verified) VALUES ($1, $2, $3, $4, $5, $5) \
         RETURNING id, auth_provider_id, user_id, ident, data, created_at, last_verified",
    )
    .bind(auth_provider_id)
    .bind(user_id)
    .bind(ident)
    .bind(data)
    .bind(now_ms)
    .fetch_one(conn)
    .await
    .map_err(StoreError::taken("a link of this identity or account"))
}

/// Records a login through the identity: what the provider said now, and when.
pub async fn verified(
    conn: &mut Conn<'_>,
    id: i64,
    data: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    Query::new("UPDATE auth_identities SET data = $2, last_verified = $3 WHERE id = $1")
        .bind(id)
        .bind(data)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(())
}

/// Unlinks the identity of `user_id` at the provider; whether there was one.
pub async fn unlink(
    conn: &mut Conn<'_>,
    auth_provider_id: i64,
    user_id: i64,
) -> Result<bool, StoreError> {
    let deleted =
        Query::new("DELETE FROM auth_identities WHERE auth_provider_id = $1 AND user_id = $2")
            .bind(auth_provider_id)
            .bind(user_id)
            .execute(conn)
            .await?;
    Ok(deleted > 0)
}

/// An identity of a user as their account page lists it, with its organization.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkedIdentity {
    /// The link's id.
    pub id: i64,
    /// The provider's key (`oidc`, `github`, `saml2`).
    pub provider: String,
    /// The provider's row.
    pub auth_provider_id: i64,
    /// The organization.
    pub organization_id: i64,
    /// Its slug.
    pub organization_slug: String,
    /// Its name.
    pub organization_name: String,
    /// What the provider said at the last login (JSON: e-mail, name, groups).
    pub data: String,
    /// When linked, epoch ms.
    pub created_at: i64,
    /// The last login through it, epoch ms.
    pub last_verified: i64,
}

/// Every identity linked to `user_id`, by organization name.
pub async fn list_for_user(
    conn: &mut Conn<'_>,
    user_id: i64,
) -> Result<Vec<LinkedIdentity>, StoreError> {
    Ok(Query::new(
        "SELECT ai.id, ap.provider, ap.id AS auth_provider_id, o.id AS organization_id, \
         o.slug AS organization_slug, o.name AS organization_name, ai.data, ai.created_at, \
         ai.last_verified \
         FROM auth_identities ai JOIN auth_providers ap ON ap.id = ai.auth_provider_id \
         JOIN organizations o ON o.id = ap.organization_id \
         WHERE ai.user_id = $1 ORDER BY o.name, ai.id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?)
}
