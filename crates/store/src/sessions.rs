//! Web UI sessions (the rows behind the UI's session cookie).
//!
//! Rows are keyed by the SHA-256 of the session id, never by the id itself: the cookie is the
//! only place a usable session id exists, so a copy of the database cannot be replayed as a
//! login. Expired rows are invisible to [`load`] and removed in bounded batches by
//! [`crate::expired::delete`]. Beside the data a row records its user (indexed, so a user's sessions
//! are listed and ended without reading other rows), the login's client address and user agent,
//! and when it was created and last used ([`touch`], at most once a minute).

use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::query::{Conn, Query};

/// The stored key of a session id.
fn key(session_id: &str) -> String {
    hex::encode(Sha256::digest(session_id.as_bytes()))
}

/// What a session's row records beside its data: whose it is and the browser that made it
/// (read from the session's data by the web layer, which owns the data's keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionMeta {
    /// The logged-in user, if any.
    pub user_id: Option<i64>,
    /// The client address at login.
    pub client_addr: Option<String>,
    /// The `User-Agent` at login.
    pub user_agent: Option<String>,
}

/// How long a session's last use may lag before [`touch`] records it again: bounds the
/// writes that page views cause to one per minute per session.
pub const SEEN_GRANULARITY_MS: i64 = 60_000;

/// Inserts a new session; `false` when the id is already taken (the caller picks another).
pub async fn insert(
    conn: &mut Conn<'_>,
    session_id: &str,
    data: &str,
    meta: &SessionMeta,
    expires_at: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let inserted = Query::new(
        "INSERT INTO web_sessions (id, data, expires_at, user_id, client_addr, user_agent, \
         created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(key(session_id))
    .bind(data)
    .bind(expires_at)
    .bind(meta.user_id)
    .bind(meta.client_addr.as_deref())
    .bind(meta.user_agent.as_deref())
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}

/// Creates or replaces a session (a save is a use: it counts as last seen).
pub async fn save(
    conn: &mut Conn<'_>,
    session_id: &str,
    data: &str,
    meta: &SessionMeta,
    expires_at: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO web_sessions (id, data, expires_at, user_id, client_addr, user_agent, \
         created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, \
         user_id = excluded.user_id, client_addr = excluded.client_addr, \
         user_agent = excluded.user_agent, last_seen_at = excluded.last_seen_at",
    )
    .bind(key(session_id))
    .bind(data)
    .bind(expires_at)
    .bind(meta.user_id)
    .bind(meta.client_addr.as_deref())
    .bind(meta.user_agent.as_deref())
    .bind(now_ms)
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
    /// Last use as recorded (at most [`SEEN_GRANULARITY_MS`] behind), epoch ms.
    pub last_seen_at: Option<i64>,
}

/// The session with this id, unless it expired before `now_ms`.
pub async fn load(
    conn: &mut Conn<'_>,
    session_id: &str,
    now_ms: i64,
) -> Result<Option<StoredSession>, StoreError> {
    Ok(Query::new(
        "SELECT data, expires_at, last_seen_at FROM web_sessions \
         WHERE id = $1 AND expires_at > $2",
    )
    .bind(key(session_id))
    .bind(now_ms)
    .fetch_optional(conn)
    .await?)
}

/// Whether a session last seen at `last_seen_at` should have its use recorded at `now_ms`.
pub fn needs_touch(last_seen_at: Option<i64>, now_ms: i64) -> bool {
    last_seen_at.is_none_or(|seen| now_ms - seen >= SEEN_GRANULARITY_MS)
}

/// Records that a session was used at `now_ms` (only moving forward).
pub async fn touch(conn: &mut Conn<'_>, session_id: &str, now_ms: i64) -> Result<(), StoreError> {
    Query::new(
        "UPDATE web_sessions SET last_seen_at = $2 \
         WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2)",
    )
    .bind(key(session_id))
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a session (log out).
pub async fn delete(conn: &mut Conn<'_>, session_id: &str) -> Result<(), StoreError> {
    Query::new("DELETE FROM web_sessions WHERE id = $1")
        .bind(key(session_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every session of `user_id`; returns how many. This is the one place a user's sessions
/// end because their credentials or privileges changed: [`crate::users::set_password`],
/// [`crate::users::set_active`] (disabling), [`crate::members::set_role`] and
/// [`crate::members::remove`] call it in their transaction, and "log out everywhere" directly.
/// The web layer gives the browser that made the change a new session id.
pub async fn delete_for_user(conn: &mut Conn<'_>, user_id: i64) -> Result<u64, StoreError> {
    Ok(Query::new("DELETE FROM web_sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?)
}

/// One of a user's sessions, as their session list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionInfo {
    /// The stored key (SHA-256 of the id): names the session for revoking, and is useless as a
    /// cookie.
    pub handle: String,
    /// Login time, epoch ms (`None` for sessions older than the column).
    pub created_at: Option<i64>,
    /// Last use, epoch ms, at most [`SEEN_GRANULARITY_MS`] behind.
    pub last_seen_at: Option<i64>,
    /// Client address at login.
    pub client_addr: Option<String>,
    /// `User-Agent` at login.
    pub user_agent: Option<String>,
}

/// Sessions listed per user at most (a bound, not a page: nobody has that many browsers).
pub const LIST_LIMIT: i64 = 200;

/// The unexpired sessions of `user_id`, most recently used first.
pub async fn list_for_user(
    conn: &mut Conn<'_>,
    user_id: i64,
    now_ms: i64,
) -> Result<Vec<SessionInfo>, StoreError> {
    Ok(Query::new(
        "SELECT id AS handle, created_at, last_seen_at, client_addr, user_agent \
         FROM web_sessions WHERE user_id = $1 AND expires_at > $2 \
         ORDER BY COALESCE(last_seen_at, 0) DESC, id LIMIT $3",
    )
    .bind(user_id)
    .bind(now_ms)
    .bind(LIST_LIMIT)
    .fetch_all(conn)
    .await?)
}

/// The handle (as [`SessionInfo::handle`]) of the session with this id.
pub fn handle(session_id: &str) -> String {
    key(session_id)
}

/// Ends session `handle` if it belongs to `user_id`; whether it did (another user's session,
/// or one already ended, is `false`).
pub async fn revoke(conn: &mut Conn<'_>, user_id: i64, handle: &str) -> Result<bool, StoreError> {
    Ok(
        Query::new("DELETE FROM web_sessions WHERE id = $1 AND user_id = $2")
            .bind(handle)
            .bind(user_id)
            .execute(conn)
            .await?
            > 0,
    )
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
