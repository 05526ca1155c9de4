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
    .map_err(|e| {
        let e = StoreError::from(e);
        if e.is_unique_violation() {
            StoreError::AlreadyExists("user")
        } else {
            e
        }
    })
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
