//! Projects and their DSN keys.

use errhound_domain::alerts::AlertRule;
use errhound_domain::rate_limit::KeyRateLimit;

use crate::query::{Conn, Int, Query};
use crate::{StoreError, keys};

/// A project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Project {
    /// Primary key; also the DSN's project id.
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// URL name, unique within the organization.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Platform hint (`python`, `node`, ...), if set.
    pub platform: Option<String>,
    /// The grouping algorithm the project's new events use.
    pub grouping_config: String,
    /// Events processed so far (monotonic).
    pub events_processed: i64,
    /// When the first event arrived, epoch ms.
    pub first_event_at: Option<i64>,
    /// Creation time, epoch ms.
    pub created_at: i64,
}

/// Creates a project, with the default alert rule.
pub async fn create(
    conn: &mut Conn<'_>,
    organization_id: i64,
    slug: &str,
    name: &str,
    platform: Option<&str>,
    grouping_config: &str,
    now_ms: i64,
) -> Result<Project, StoreError> {
    let project: Project = Query::new(
        "INSERT INTO projects (organization_id, slug, name, platform, grouping_config, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, organization_id, slug, name, platform, grouping_config, \
         events_processed, first_event_at, created_at",
    )
    .bind(organization_id)
    .bind(slug)
    .bind(name)
    .bind(platform)
    .bind(grouping_config)
    .bind(now_ms)
    .fetch_one(conn)
    .await
    .map_err(StoreError::taken("project"))?;
    // Every project starts with Sentry's default alert: new issues and regressions mail its
    // members.
    crate::alerts::rules::create(
        conn,
        project.id,
        &AlertRule::project_default(),
        None,
        now_ms,
    )
    .await?;
    Ok(project)
}

/// The project with this slug in the organization.
pub async fn find_by_slug(
    conn: &mut Conn<'_>,
    organization_id: i64,
    slug: &str,
) -> Result<Option<Project>, StoreError> {
    Ok(Query::new(
        "SELECT id, organization_id, slug, name, platform, grouping_config, \
         events_processed, first_event_at, created_at \
         FROM projects WHERE organization_id = $1 AND slug = $2 AND deleting_at IS NULL",
    )
    .bind(organization_id)
    .bind(slug)
    .fetch_optional(conn)
    .await?)
}

/// The project with this id (none once it is pending deletion).
pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<Option<Project>, StoreError> {
    Ok(Query::new(
        "SELECT id, organization_id, slug, name, platform, grouping_config, \
         events_processed, first_event_at, created_at FROM projects \
         WHERE id = $1 AND deleting_at IS NULL",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The organization's projects, by slug.
pub async fn list_for_org(
    conn: &mut Conn<'_>,
    organization_id: i64,
) -> Result<Vec<Project>, StoreError> {
    Ok(Query::new(
        "SELECT id, organization_id, slug, name, platform, grouping_config, \
         events_processed, first_event_at, created_at \
         FROM projects WHERE organization_id = $1 AND deleting_at IS NULL ORDER BY slug",
    )
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

/// The editable fields of a project.
#[derive(Debug, Clone)]
pub struct ProjectChanges<'a> {
    /// Display name.
    pub name: &'a str,
    /// URL name.
    pub slug: &'a str,
    /// Platform hint.
    pub platform: Option<&'a str>,
    /// Grouping algorithm for new events.
    pub grouping_config: &'a str,
}

/// Saves a project's editable fields. A slug already used in the organization is
/// [`StoreError::AlreadyExists`].
pub async fn update(
    conn: &mut Conn<'_>,
    id: i64,
    changes: &ProjectChanges<'_>,
) -> Result<(), StoreError> {
    Query::new(
        "UPDATE projects SET name = $1, slug = $2, platform = $3, grouping_config = $4 WHERE id = $5",
    )
    .bind(changes.name)
    .bind(changes.slug)
    .bind(changes.platform)
    .bind(changes.grouping_config)
    .bind(id)
    .execute(conn)
    .await
    .map_err(StoreError::taken("project"))?;
    Ok(())
}

/// Marks the project pending deletion: from now on no read finds it and none of its DSN keys
/// is accepted; [`crate::deletion::purge_step`] removes its data. The slug is freed at once.
/// Returns the public keys of its DSN keys, which the caller must forget from any cache.
pub async fn schedule_deletion(
    conn: &mut Conn<'_>,
    project_id: i64,
    now_ms: i64,
) -> Result<Vec<String>, StoreError> {
    let keys: Vec<crate::deletion::PublicKey> =
        Query::new("SELECT public_key FROM project_keys WHERE project_id = $1")
            .bind(project_id)
            .fetch_all(conn)
            .await?;
    // `~` is never in a slug, so the freed slug cannot meet one a user chooses.
    Query::new(
        "UPDATE projects SET deleting_at = $1, slug = $2 WHERE id = $3 AND deleting_at IS NULL",
    )
    .bind(now_ms)
    .bind(format!("~deleted-{project_id}"))
    .bind(project_id)
    .execute(conn)
    .await?;
    Ok(keys.into_iter().map(|k| k.public_key).collect())
}

/// Events processed for a project (a cheap monotonic counter, e.g. for benchmarks).
pub async fn events_processed(conn: &mut Conn<'_>, project_id: i64) -> Result<i64, StoreError> {
    let row: Option<Int> =
        Query::new("SELECT events_processed AS value FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map_or(0, |r| r.value))
}

/// A DSN key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectKey {
    /// Primary key.
    pub id: i64,
    /// The project the key sends to.
    pub project_id: i64,
    /// The DSN's public key: 32 lowercase hex characters.
    pub public_key: String,
    /// The deprecated secret key (kept for Sentry API compatibility).
    pub secret_key: String,
    /// Display name.
    pub label: String,
    /// Disabled keys are refused with 403.
    pub is_active: bool,
    /// At most this many events per window, if set.
    pub rate_limit: Option<KeyRateLimit>,
    /// Creation time, epoch ms.
    pub created_at: i64,
}

impl ProjectKey {
    /// The name shown for the key: its label, or (as Sentry does for a key created without
    /// a name) the start of its public key.
    pub fn name(&self) -> &str {
        if self.label.is_empty() {
            self.public_key.get(..14).unwrap_or(&self.public_key)
        } else {
            &self.label
        }
    }
}

/// Creates a DSN key with fresh random public and secret keys and no rate limit.
pub async fn create_key(
    conn: &mut Conn<'_>,
    project_id: i64,
    label: &str,
    now_ms: i64,
) -> Result<ProjectKey, StoreError> {
    keys::create(conn, project_id, label, None, now_ms).await
}

/// The project's keys, newest first.
pub async fn list_keys(
    conn: &mut Conn<'_>,
    project_id: i64,
) -> Result<Vec<ProjectKey>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(keys::KEY_COLUMNS)
        .push(" FROM project_keys WHERE project_id = ")
        .push_bind(project_id)
        .push(" ORDER BY id DESC");
    let rows: Vec<keys::KeyRow> = query.fetch_all(conn).await?;
    rows.into_iter().map(ProjectKey::try_from).collect()
}

/// The key with this public key, unless its project or organization is pending deletion.
pub async fn find_key(
    conn: &mut Conn<'_>,
    public_key: &str,
) -> Result<Option<ProjectKey>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(keys::KEY_COLUMNS)
        .push(" FROM project_keys WHERE public_key = ")
        .push_bind(public_key)
        .push(
            " AND EXISTS (SELECT 1 FROM projects p JOIN organizations o \
             ON o.id = p.organization_id WHERE p.id = project_keys.project_id \
             AND p.deleting_at IS NULL AND o.deleting_at IS NULL)",
        );
    let row: Option<keys::KeyRow> = query.fetch_optional(conn).await?;
    row.map(ProjectKey::try_from).transpose()
}
