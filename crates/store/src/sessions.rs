//! Web UI sessions (the rows behind the UI's session cookie).
//!
//! Rows are keyed by the SHA-256 of the session id, never by the id itself: the cookie is the
//! only place a usable session id exists, so a copy of the database cannot be replayed as a
//! login. Expired rows are invisible to [`load`] and removed in bounded batches by
//! [`delete_expired`].

use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::query::{Conn, Query};

/// The stored key of a session id.
fn key(session_id: &str) -> String {
    hex::encode(Sha256::digest(session_id.as_bytes()))
}

/// Inserts a new session; `false` when the id is already taken (the caller picks another).
pub async fn insert(
    conn: &mut Conn<'_>,
    session_id: &str,
    data: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let inserted = Query::new(
        "INSERT INTO web_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(key(session_id))
    .bind(data)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}

/// Creates or replaces a session.
pub async fn save(
    conn: &mut Conn<'_>,
    session_id: &str,
    data: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO web_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
    )
    .bind(key(session_id))
    .bind(data)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredSession {
    /// The session's JSON object.
    pub data: String,
    /// Expiry, epoch ms.
    pub expires_at: i64,
}

/// The session with this id, unless it expired before `now_ms`.
pub async fn load(
    conn: &mut Conn<'_>,
    session_id: &str,
    now_ms: i64,
) -> Result<Option<StoredSession>, StoreError> {
    Ok(
        Query::new("SELECT data, expires_at FROM web_sessions WHERE id = $1 AND expires_at > $2")
            .bind(key(session_id))
            .bind(now_ms)
            .fetch_optional(conn)
            .await?,
    )
}

/// Deletes a session (log out).
pub async fn delete(conn: &mut Conn<'_>, session_id: &str) -> Result<(), StoreError> {
    Query::new("DELETE FROM web_sessions WHERE id = $1")
        .bind(key(session_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes up to `limit` sessions that expired before `now_ms`; returns how many.
pub async fn delete_expired(
    conn: &mut Conn<'_>,
    now_ms: i64,
    limit: i64,
) -> Result<u64, StoreError> {
    Ok(Query::new(
        "DELETE FROM web_sessions WHERE id IN \
         (SELECT id FROM web_sessions WHERE expires_at <= $1 LIMIT $2)",
    )
    .bind(now_ms)
    .bind(limit)
    .execute(conn)
    .await?)
}

/// Sessions examined per query by [`delete_for_user`].
const SCAN_PAGE: i64 = 500;

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    data: String,
}

/// Deletes every session whose data holds `user_id` under `user_key` (the web layer's session
/// key for the logged-in user), so a disabled account is logged out at once; returns how
/// many. The user id lives inside the session's JSON, which the two engines query
/// differently, so the table is read in pages by key and the JSON parsed here; unreadable data
/// belongs to no one and is left alone.
pub async fn delete_for_user(
    conn: &mut Conn<'_>,
    user_key: &str,
    user_id: i64,
) -> Result<u64, StoreError> {
    let mut after = String::new();
    let mut doomed = Vec::new();
    loop {
        let page: Vec<SessionRow> =
            Query::new("SELECT id, data FROM web_sessions WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(&after)
                .bind(SCAN_PAGE)
                .fetch_all(&mut *conn)
                .await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let full = page.len() as i64 == SCAN_PAGE;
        doomed.extend(
            page.into_iter()
                .filter(|row| session_user(&row.data, user_key) == Some(user_id))
                .map(|row| row.id),
        );
        if !full {
            break;
        }
    }
    let mut deleted = 0;
    for id in doomed {
        deleted += Query::new("DELETE FROM web_sessions WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(deleted)
}

/// The user id stored under `user_key` in a session's JSON, if any.
fn session_user(data: &str, user_key: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(data)
        .ok()?
        .get(user_key)?
        .as_i64()
}

/// The active user a session belongs to (`None` once the account is disabled or deleted).
pub async fn user(
    conn: &mut Conn<'_>,
    user_id: i64,
) -> Result<Option<crate::users::User>, StoreError> {
    Ok(Query::new(
        "SELECT id, email, name, password_hash, is_superuser, is_active, created_at \
         FROM users WHERE id = $1 AND is_active",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?)
}
