//! Managing a project's DSN keys: enable, disable and rotate (creating and listing them lives in
//! [`crate::projects`]).
//!
//! Ingest caches keys in memory; after any change here the caller must invalidate the cached
//! entry of the old public key so the change applies to the next envelope.

use rand::RngCore;

use crate::StoreError;
use crate::projects::ProjectKey;
use crate::query::{Conn, Query};

const KEY_COLUMNS: &str = "id, project_id, public_key, secret_key, label, is_active, created_at";

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The key `key_id` of the project.
pub async fn get(
    conn: &mut Conn<'_>,
    project_id: i64,
    key_id: i64,
) -> Result<Option<ProjectKey>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(KEY_COLUMNS)
        .push(" FROM project_keys WHERE project_id = ")
        .push_bind(project_id)
        .push(" AND id = ")
        .push_bind(key_id);
    Ok(query.fetch_optional(conn).await?)
}

/// Enables or disables a key (a disabled key's envelopes are refused with 403).
pub async fn set_active(
    conn: &mut Conn<'_>,
    project_id: i64,
    key_id: i64,
    active: bool,
) -> Result<(), StoreError> {
    Query::new("UPDATE project_keys SET is_active = $1 WHERE project_id = $2 AND id = $3")
        .bind(active)
        .bind(project_id)
        .bind(key_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives a key new random public and secret keys: the old DSN stops working at once, the key
/// keeps its label and state. Returns the updated key.
pub async fn rotate(
    conn: &mut Conn<'_>,
    project_id: i64,
    key_id: i64,
) -> Result<Option<ProjectKey>, StoreError> {
    let mut query = Query::builder();
    query
        .push("UPDATE project_keys SET public_key = ")
        .push_bind(random_hex())
        .push(", secret_key = ")
        .push_bind(random_hex())
        .push(" WHERE project_id = ")
        .push_bind(project_id)
        .push(" AND id = ")
        .push_bind(key_id)
        .push(" RETURNING ")
        .push(KEY_COLUMNS);
    Ok(query.fetch_optional(conn).await?)
}
