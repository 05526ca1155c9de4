//! Per-project settings, stored as `key -> JSON text` rows (`project_options`).

use crate::StoreError;
use crate::query::{Conn, Query};

/// One stored option.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectOption {
    /// The option key (e.g. `grouping.fingerprinting_rules`).
    pub key: String,
    /// Its value, JSON text.
    pub value: String,
}

/// Every option of a project.
pub async fn list(conn: &mut Conn<'_>, project_id: i64) -> Result<Vec<ProjectOption>, StoreError> {
    Ok(
        Query::new("SELECT key, value FROM project_options WHERE project_id = $1 ORDER BY key")
            .bind(project_id)
            .fetch_all(conn)
            .await?,
    )
}

/// Sets an option.
pub async fn set(
    conn: &mut Conn<'_>,
    project_id: i64,
    key: &str,
    value: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO project_options (project_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (project_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(project_id)
    .bind(key)
    .bind(value)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes an option (the setting returns to its default).
pub async fn remove(conn: &mut Conn<'_>, project_id: i64, key: &str) -> Result<(), StoreError> {
    Query::new("DELETE FROM project_options WHERE project_id = $1 AND key = $2")
        .bind(project_id)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}
