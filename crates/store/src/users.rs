//! Users and API tokens.
//!
//! Tokens are random 64-hex strings shown once; only their SHA-256 is stored, so a leaked
//! database does not leak usable tokens.

use rand::RngCore;
use sha2::{Digest, Sha256};

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

/// Every user, oldest first. For the command line: an installation has people, not millions.
pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<User>, StoreError> {
    Ok(Query::new(
        "SELECT id, email, name, password_hash, is_superuser, is_active, created_at \
         FROM users ORDER BY created_at, id",
    )
    .fetch_all(conn)
    .await?)
}

/// Replaces the user's password hash; `false` when there is no such user.
pub async fn set_password(
    conn: &mut Conn<'_>,
    user_id: i64,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let updated = Query::new("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(updated > 0)
}

/// Enables or disables the user; `false` when there is no such user. A disabled user can
/// neither log in nor use API tokens (both check `is_active`); their sessions stay in the
/// table until the caller deletes them ([`crate::sessions::delete_for_user`]).
pub async fn set_active(
    conn: &mut Conn<'_>,
    user_id: i64,
    is_active: bool,
) -> Result<bool, StoreError> {
    let updated = Query::new("UPDATE users SET is_active = $1 WHERE id = $2")
        .bind(is_active)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(updated > 0)
}

/// A newly created token: the secret is shown to the user once.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token row id.
    pub id: i64,
    /// The bearer token (64 hex characters).
    pub token: String,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates an API token for the user.
pub async fn create_token(
    conn: &mut Conn<'_>,
    user_id: i64,
    name: Option<&str>,
    now_ms: i64,
) -> Result<NewToken, StoreError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let row: crate::query::Int = Query::new(
        "INSERT INTO api_tokens (user_id, token_hash, token_last_chars, name, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id AS value",
    )
    .bind(user_id)
    .bind(hash_token(&token))
    .bind(&token[token.len() - 4..])
    .bind(name)
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(NewToken {
        id: row.value,
        token,
    })
}

/// The active user owning a valid, unexpired token.
pub async fn authenticate_token(
    conn: &mut Conn<'_>,
    token: &str,
    now_ms: i64,
) -> Result<Option<User>, StoreError> {
    Ok(Query::new(
        "SELECT u.id, u.email, u.name, u.password_hash, u.is_superuser, u.is_active, u.created_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND u.is_active AND (t.expires_at IS NULL OR t.expires_at > $2)",
    )
    .bind(hash_token(token))
    .bind(now_ms)
    .fetch_optional(conn)
    .await?)
}
