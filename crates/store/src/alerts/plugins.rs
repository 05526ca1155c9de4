//! Plugin settings: per project (enabled, and the values of its declared settings, secret ones
//! sealed by the caller before they get here) and per user (their switch and own settings), and
//! the projects a user muted, and whether a user receives workflow notices.

use crate::StoreError;
use crate::query::{Conn, Query};

/// A plugin's state in a project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectPlugin {
    /// The plugin id.
    pub plugin_id: String,
    /// Whether it is on.
    pub enabled: bool,
    /// Its settings as a JSON object (secret values sealed).
    pub settings: String,
}

/// The plugins the project has settings or a switch for.
pub async fn project_plugins(
    conn: &mut Conn<'_>,
    project_id: i64,
) -> Result<Vec<ProjectPlugin>, StoreError> {
    Ok(Query::new(
        "SELECT plugin_id, enabled, settings FROM project_plugins WHERE project_id = $1 \
         ORDER BY plugin_id",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await?)
}

/// One plugin's state in the project (`None`: never touched, so off).
pub async fn project_plugin(
    conn: &mut Conn<'_>,
    project_id: i64,
    plugin_id: &str,
) -> Result<Option<ProjectPlugin>, StoreError> {
    Ok(Query::new(
        "SELECT plugin_id, enabled, settings FROM project_plugins WHERE project_id = $1 \
         AND plugin_id = $2",
    )
    .bind(project_id)
    .bind(plugin_id)
    .fetch_optional(conn)
    .await?)
}

/// Turns the plugin on or off in the project.
pub async fn set_enabled(
    conn: &mut Conn<'_>,
    project_id: i64,
    plugin_id: &str,
    enabled: bool,
    now_ms: i64,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO project_plugins (project_id, plugin_id, enabled, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, plugin_id) \
         DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
    )
    .bind(project_id)
    .bind(plugin_id)
    .bind(enabled)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the plugin's settings in the project (a JSON object, secrets sealed).
pub async fn set_settings(
    conn: &mut Conn<'_>,
    project_id: i64,
    plugin_id: &str,
    settings: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO project_plugins (project_id, plugin_id, settings, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, plugin_id) \
         DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
    )
    .bind(project_id)
    .bind(plugin_id)
    .bind(settings)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// A user's switch and settings for a plugin.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserPlugin {
    /// The user.
    pub user_id: i64,
    /// The plugin id.
    pub plugin_id: String,
    /// Whether they receive its notifications.
    pub enabled: bool,
    /// Their settings as a JSON object.
    pub settings: String,
}

/// The users' rows for a plugin (users without one have it on, with no settings).
pub async fn user_plugins(
    conn: &mut Conn<'_>,
    plugin_id: &str,
    user_ids: &[i64],
) -> Result<Vec<UserPlugin>, StoreError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = Query::builder();
    query
        .push("SELECT user_id, plugin_id, enabled, settings FROM user_plugins WHERE plugin_id = ")
        .push_bind(plugin_id)
        .push(" AND user_id IN (")
        .push_bind_list(user_ids.iter().copied())
        .push(") ORDER BY user_id");
    Ok(query.fetch_all(conn).await?)
}

/// A user's rows for every plugin.
pub async fn plugins_of_user(
    conn: &mut Conn<'_>,
    user_id: i64,
) -> Result<Vec<UserPlugin>, StoreError> {
    Ok(Query::new(
        "SELECT user_id, plugin_id, enabled, settings FROM user_plugins WHERE user_id = $1 \
         ORDER BY plugin_id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?)
}

/// Saves a user's switch and settings for a plugin.
pub async fn set_user_plugin(
    conn: &mut Conn<'_>,
    user_id: i64,
    plugin_id: &str,
    enabled: bool,
    settings: &str,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO user_plugins (user_id, plugin_id, enabled, settings) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, plugin_id) DO UPDATE SET enabled = excluded.enabled, \
         settings = excluded.settings",
    )
    .bind(user_id)
    .bind(plugin_id)
    .bind(enabled)
    .bind(settings)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Muted {
    project_id: i64,
}

/// The projects the user turned alerts off for.
pub async fn muted_projects(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<Muted> = Query::new(
        "SELECT project_id FROM user_project_alerts WHERE user_id = $1 AND NOT enabled \
         ORDER BY project_id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.project_id).collect())
}

/// Turns the user's alerts for the project on or off.
pub async fn set_project_alerts(
    conn: &mut Conn<'_>,
    user_id: i64,
    project_id: i64,
    enabled: bool,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO user_project_alerts (user_id, project_id, enabled) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, project_id) DO UPDATE SET enabled = excluded.enabled",
    )
    .bind(user_id)
    .bind(project_id)
    .bind(enabled)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Options {
    workflow: bool,
}

/// Whether the user receives workflow notices (on without a row).
pub async fn workflow_notices(conn: &mut Conn<'_>, user_id: i64) -> Result<bool, StoreError> {
    let row: Option<Options> =
        Query::new("SELECT workflow FROM user_notification_options WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_none_or(|r| r.workflow))
}

/// Turns the user's workflow notices on or off.
pub async fn set_workflow_notices(
    conn: &mut Conn<'_>,
    user_id: i64,
    enabled: bool,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO user_notification_options (user_id, workflow) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET workflow = excluded.workflow",
    )
    .bind(user_id)
    .bind(enabled)
    .execute(conn)
    .await?;
    Ok(())
}
