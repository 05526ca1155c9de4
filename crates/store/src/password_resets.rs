//! Password resets: a single-use link with a secret (stored hashed) that expires within the
//! hour. Making a new link leaves older ones valid until they expire or one is used; using one
//! uses them all up, so a link mailed earlier cannot undo a reset.

use crate::StoreError;
use crate::link_secret;
use crate::query::{Conn, Query};

/// How long a reset link works.
pub const VALID_FOR_MS: i64 = 3600 * 1000;

/// Makes a reset link for the user: `(id, secret)`.
pub async fn create(
    conn: &mut Conn<'_>,
    user_id: i64,
    now_ms: i64,
) -> Result<(i64, String), StoreError> {
    let (secret, hash) = link_secret::mint();
    let row: crate::query::Int = Query::new(
        "INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4) RETURNING id AS value",
    )
    .bind(user_id)
    .bind(hash)
    .bind(now_ms)
    .bind(now_ms + VALID_FOR_MS)
    .fetch_one(conn)
    .await?;
    Ok((row.value, secret))
}

/// The user of reset link `id` if `secret` is its secret and it is unused and unexpired.
pub async fn find_valid(
    conn: &mut Conn<'_>,
    id: i64,
    secret: &str,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let row: Option<crate::query::Int> = Query::new(
        "SELECT user_id AS value FROM password_resets WHERE id = $1 AND token_hash = $2 \
         AND used_at IS NULL AND expires_at > $3",
    )
    .bind(id)
    .bind(link_secret::hash(secret))
    .bind(now_ms)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.value))
}

/// Uses up link `id` and every other open link of its user; whether `id` was still open (false
/// when a concurrent request used it first).
pub async fn use_up(
    conn: &mut Conn<'_>,
    id: i64,
    user_id: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let this =
        Query::new("UPDATE password_resets SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute(conn)
            .await?;
    Query::new("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now_ms)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(this > 0)
}
