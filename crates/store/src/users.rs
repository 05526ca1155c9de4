//! User accounts (their API tokens are in [`crate::tokens`]).

use crate::StoreError;
use crate::query::{Conn, Query};

/// A user account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// Login e-mail, unique (stored lowercase).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Argon2 PHC string; `None` for accounts that cannot log in with a password.
    pub password_hash: Option<String>,
    /// Sees and manages every organization.
    pub is_superuser: bool,
    /// Disabled accounts cannot log in or use tokens.
    pub is_active: bool,
    /// Creation time, epoch ms.
    pub created_at: i64,
}

/// How a person is named to others: their display name, or their address when they gave none.
pub fn display_name<'a>(name: &'a str, email: &'a str) -> &'a str {
    if name.trim().is_empty() { email } else { name }
}

impl User {
    /// See [`display_name`].
    pub fn display_name(&self) -> &str {
        display_name(&self.name, &self.email)
    }
}

/// Creates a user.
pub async fn create(
    conn: &mut Conn<'_>,
    email: &str,
    name: &str,
    password_hash: Option<&str>,
    is_superuser: bool,
    now_ms: i64,
) -> Result<User, StoreError> {
    Query::new(
        "INSERT INTO users (email, name, password_hash, is_superuser, is_active, created_at) \
         VALUES ($1, $2, $3, $4, TRUE, $5) \
         RETURNING id, email, name, password_hash, is_superuser, is_active, created_at",
    )
    .bind(email.trim().to_lowercase())
    .bind(name)
    .bind(password_hash)
    .bind(is_superuser)
    .bind(now_ms)
    .fetch_one(conn)
    .await
    .map_err(StoreError::taken("user"))
}

/// The user with this e-mail (case-insensitive).
pub async fn find_by_email(conn: &mut Conn<'_>, email: &str) -> Result<Option<User>, StoreError> {
    Ok(Query::new(
        "SELECT id, email, name, password_hash, is_superuser, is_active, created_at \
         FROM users WHERE email = $1",
    )
    .bind(email.trim().to_lowercase())
    .fetch_optional(conn)
    .await?)
}

/// Every user, oldest first. For the command line: an installation has people, not millions.
pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<User>, StoreError> {
    Ok(Query::new(
        "SELECT id, email, name, password_hash, is_superuser, is_active, created_at \
         FROM users ORDER BY created_at, id",
    )
    .fetch_all(conn)
    .await?)
}

/// Replaces the user's password hash and ends every session of the account
/// ([`crate::sessions::delete_for_user`]): `None` when there is no such user, else how many
/// sessions ended.
pub async fn set_password(
    conn: &mut Conn<'_>,
    user_id: i64,
    password_hash: &str,
) -> Result<Option<u64>, StoreError> {
    let updated = Query::new("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    if updated == 0 {
        return Ok(None);
    }
    Ok(Some(crate::sessions::delete_for_user(conn, user_id).await?))
}

/// Enables or disables the user: `None` when there is no such user, else how many sessions
/// ended. A disabled user can neither log in nor use API tokens (both check `is_active`), and
/// disabling ends their web sessions at once ([`crate::sessions::delete_for_user`]).
pub async fn set_active(
    conn: &mut Conn<'_>,
    user_id: i64,
    is_active: bool,
) -> Result<Option<u64>, StoreError> {
    let updated = Query::new("UPDATE users SET is_active = $1 WHERE id = $2")
        .bind(is_active)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    if updated == 0 {
        return Ok(None);
    }
    if is_active {
        return Ok(Some(0));
    }
    Ok(Some(crate::sessions::delete_for_user(conn, user_id).await?))
}

/// Records a password login at `now_ms` (the admin page's "last login").
pub async fn record_login(
    conn: &mut Conn<'_>,
    user_id: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    Query::new("UPDATE users SET last_login_at = $1 WHERE id = $2")
        .bind(now_ms)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The user with this id.
pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<Option<User>, StoreError> {
    Ok(Query::new(
        "SELECT id, email, name, password_hash, is_superuser, is_active, created_at \
         FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}
