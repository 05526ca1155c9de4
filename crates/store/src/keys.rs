//! A project's DSN keys: create, read, change (label, enabled, rate limit), rotate and delete
//! (listing them, and the lookup ingest does, live in [`crate::projects`]).
//!
//! Ingest caches keys in memory; after any change here the caller must invalidate the cached
//! entry of the old public key so the change applies to the next envelope.

use errhound_domain::rate_limit::KeyRateLimit;
use rand::RngCore;

use crate::StoreError;
use crate::projects::ProjectKey;
use crate::query::{Conn, Query};

/// The columns every key query reads, in [`KeyRow`]'s order.
pub(crate) const KEY_COLUMNS: &str = "id, project_id, public_key, secret_key, label, is_active, \
    rate_limit_count, rate_limit_window, created_at";

/// A `project_keys` row as stored; [`ProjectKey`] is what it means.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct KeyRow {
    id: i64,
    project_id: i64,
    public_key: String,
    secret_key: String,
    label: String,
    is_active: bool,
    rate_limit_count: Option<i64>,
    rate_limit_window: Option<i64>,
    created_at: i64,
}

impl TryFrom<KeyRow> for ProjectKey {
    type Error = StoreError;

    /// Both rate limit columns set and valid is a limit, both NULL none; anything else was not
    /// written by this code and is [`StoreError::InvalidValue`] rather than a guess.
    fn try_from(row: KeyRow) -> Result<ProjectKey, StoreError> {
        let rate_limit = match (row.rate_limit_count, row.rate_limit_window) {
            (None, None) => None,
            (Some(count), Some(window)) => {
                Some(KeyRateLimit::new(count, window).map_err(|error| {
                    StoreError::InvalidValue(format!("key {}: rate limit: {error}", row.id))
                })?)
            }
            (count, window) => {
                return Err(StoreError::InvalidValue(format!(
                    "key {}: rate limit count {count:?} with window {window:?}",
                    row.id
                )));
            }
        };
        Ok(ProjectKey {
            id: row.id,
            project_id: row.project_id,
            public_key: row.public_key,
            secret_key: row.secret_key,
            label: row.label,
            is_active: row.is_active,
            rate_limit,
            created_at: row.created_at,
        })
    }
}

/// The two rate limit columns' values.
fn columns(limit: Option<KeyRateLimit>) -> (Option<i64>, Option<i64>) {
    match limit {
        Some(limit) => (
            Some(i64::from(limit.count())),
            Some(i64::from(limit.window_secs())),
        ),
        None => (None, None),
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

async fn fetch_key(query: Query, conn: &mut Conn<'_>) -> Result<Option<ProjectKey>, StoreError> {
    let row: Option<KeyRow> = query.fetch_optional(conn).await?;
    row.map(ProjectKey::try_from).transpose()
}

/// Creates an enabled key with fresh random public and secret keys.
pub async fn create(
    conn: &mut Conn<'_>,
    project_id: i64,
    label: &str,
    rate_limit: Option<KeyRateLimit>,
    now_ms: i64,
) -> Result<ProjectKey, StoreError> {
    let (count, window) = columns(rate_limit);
    let mut query = Query::builder();
    query
        .push(
            "INSERT INTO project_keys (project_id, public_key, secret_key, label, is_active, \
             rate_limit_count, rate_limit_window, created_at) VALUES (",
        )
        .push_bind(project_id)
        .push(", ")
        .push_bind(random_hex())
        .push(", ")
        .push_bind(random_hex())
        .push(", ")
        .push_bind(label)
        .push(", TRUE, ")
        .push_bind(count)
        .push(", ")
        .push_bind(window)
        .push(", ")
        .push_bind(now_ms)
        .push(") RETURNING ")
        .push(KEY_COLUMNS);
    fetch_key(query, conn)
        .await?
        .ok_or_else(|| StoreError::InvalidValue("INSERT returned no key".into()))
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
    fetch_key(query, conn).await
}

/// The project's key with this public key (the API names keys by it, as Sentry does). A key
/// of another project is `None`.
pub async fn get_by_public_key(
    conn: &mut Conn<'_>,
    project_id: i64,
    public_key: &str,
) -> Result<Option<ProjectKey>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(KEY_COLUMNS)
        .push(" FROM project_keys WHERE project_id = ")
        .push_bind(project_id)
        .push(" AND public_key = ")
        .push_bind(public_key);
    fetch_key(query, conn).await
}

/// What [`update`] changes; `None` keeps a field.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyChanges<'a> {
    /// A new label.
    pub label: Option<&'a str>,
    /// Enable or disable (a disabled key's envelopes are refused with 403).
    pub active: Option<bool>,
    /// A new rate limit, `Some(None)` to remove it.
    pub rate_limit: Option<Option<KeyRateLimit>>,
}

/// Changes a key in one statement; returns it as changed, or `None` if the project has no
/// such key.
pub async fn update(
    conn: &mut Conn<'_>,
    project_id: i64,
    key_id: i64,
    changes: &KeyChanges<'_>,
) -> Result<Option<ProjectKey>, StoreError> {
    let (count, window) = columns(changes.rate_limit.flatten());
    let mut query = Query::builder();
    query
        .push("UPDATE project_keys SET label = COALESCE(")
        .push_bind(changes.label)
        .push(", label), is_active = CASE WHEN ")
        .push_bind(changes.active.is_some())
        .push(" THEN ")
        .push_bind(changes.active.unwrap_or(true))
        .push(" ELSE is_active END, rate_limit_count = CASE WHEN ")
        .push_bind(changes.rate_limit.is_some())
        .push(" THEN ")
        .push_bind(count)
        .push(" ELSE rate_limit_count END, rate_limit_window = CASE WHEN ")
        .push_bind(changes.rate_limit.is_some())
        .push(" THEN ")
        .push_bind(window)
        .push(" ELSE rate_limit_window END WHERE project_id = ")
        .push_bind(project_id)
        .push(" AND id = ")
        .push_bind(key_id)
        .push(" RETURNING ")
        .push(KEY_COLUMNS);
    fetch_key(query, conn).await
}

/// Gives a key new random public and secret keys: the old DSN stops working at once, the key
/// keeps its label, state and rate limit. Returns the updated key.
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
    fetch_key(query, conn).await
}

/// Deletes a key: its DSN is refused from then on. Returns whether the project had it.
pub async fn delete(conn: &mut Conn<'_>, project_id: i64, key_id: i64) -> Result<bool, StoreError> {
    let deleted = Query::new("DELETE FROM project_keys WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(key_id)
        .execute(conn)
        .await?;
    Ok(deleted > 0)
}
