//! Open sign-up: a mailed link (single use, within the hour, its secret stored hashed) that lets
//! the owner of an address create their account. Nothing is created until the link is used, so
//! a sign-up for someone else's address makes nothing, and the form's answer cannot tell whether
//! the address has an account.

use crate::StoreError;
use crate::link_secret;
use crate::query::{Conn, Query};

/// How long a sign-up link works.
pub const VALID_FOR_MS: i64 = 3600 * 1000;

/// A sign-up waiting for its link.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Registration {
    /// Primary key (in the link).
    pub id: i64,
    /// The address (lowercase).
    pub email: String,
    /// The name given in the form.
    pub name: String,
}

/// Records a sign-up for `email`: `(id, secret)` for the link.
pub async fn create(
    conn: &mut Conn<'_>,
    email: &str,
    name: &str,
    now_ms: i64,
) -> Result<(i64, String), StoreError> {
    let (secret, hash) = link_secret::mint();
    let row: crate::query::Int = Query::new(
        "INSERT INTO registrations (email, name, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id AS value",
    )
    .bind(email.trim().to_lowercase())
    .bind(name)
    .bind(hash)
    .bind(now_ms)
    .bind(now_ms + VALID_FOR_MS)
    .fetch_one(conn)
    .await?;
    Ok((row.value, secret))
}

/// Sign-up `id` if `secret` is its secret and it is unused and unexpired.
pub async fn find_valid(
    conn: &mut Conn<'_>,
    id: i64,
    secret: &str,
    now_ms: i64,
) -> Result<Option<Registration>, StoreError> {
    Ok(Query::new(
        "SELECT id, email, name FROM registrations WHERE id = $1 AND token_hash = $2 \
         AND used_at IS NULL AND expires_at > $3",
    )
    .bind(id)
    .bind(link_secret::hash(secret))
    .bind(now_ms)
    .fetch_optional(conn)
    .await?)
}

/// Uses up sign-up `id` and every other open sign-up of its address; whether `id` was still
/// open (false when a concurrent request used it first).
pub async fn use_up(
    conn: &mut Conn<'_>,
    registration: &Registration,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let this =
        Query::new("UPDATE registrations SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now_ms)
            .bind(registration.id)
            .execute(&mut *conn)
            .await?;
    Query::new("UPDATE registrations SET used_at = $1 WHERE email = $2 AND used_at IS NULL")
        .bind(now_ms)
        .bind(&registration.email)
        .execute(conn)
        .await?;
    Ok(this > 0)
}
