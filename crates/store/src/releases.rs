//! Releases and environments of a project, as seen in its events.
//!
//! Both tables are maintained by the ingest batch writer ([`crate::ingest`]): one upsert per table
//! per batch, adding the batch's event counts, widening first/last seen and counting the issues
//! the batch opened. Releases are ordered by `(first_seen, id)`, the order that decides whether a
//! resolution in a release covers an event's release ([`crate::workflow`]).

use crate::StoreError;
use crate::issues::Page;
use crate::query::{Conn, Query};

/// A release of a project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Release {
    /// Primary key.
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// The version string the SDK sent (`release`).
    pub version: String,
    /// Time of its earliest event, epoch ms (or when it became known without events).
    pub first_seen: i64,
    /// Time of its latest event, epoch ms.
    pub last_seen: i64,
    /// Issues first seen in this release.
    pub new_issues: i64,
    /// Events stored with this release.
    pub event_count: i64,
    /// When Errhound first recorded it, epoch ms.
    pub created_at: i64,
}

const RELEASE_COLUMNS: &str =
    "id, project_id, version, first_seen, last_seen, new_issues, event_count, created_at";

/// Releases of a project, newest (by first seen) first, keyset-paginated by `(first_seen, id)`;
/// `query` keeps versions containing it (case-insensitive).
pub async fn list(
    conn: &mut Conn<'_>,
    project_id: i64,
    query_text: Option<&str>,
    page: Page,
    limit: i64,
) -> Result<Vec<Release>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(RELEASE_COLUMNS)
        .push(" FROM releases WHERE project_id = ")
        .push_bind(project_id);
    if let Some(text) = query_text.map(str::trim).filter(|t| !t.is_empty()) {
        query
            .push(" AND LOWER(version) LIKE ")
            .push_bind(like_pattern(text))
            .push(" ESCAPE '\\'");
    }
    let (op, order) = match page {
        Page::First => ("", "DESC"),
        Page::After(..) => ("<", "DESC"),
        Page::Before(..) => (">", "ASC"),
    };
    if let Page::After(key, id) | Page::Before(key, id) = page {
        query
            .push(" AND (first_seen ")
            .push(op)
            .push(" ")
            .push_bind(key);
        query.push(" OR (first_seen = ").push_bind(key);
        query
            .push(" AND id ")
            .push(op)
            .push(" ")
            .push_bind(id)
            .push("))");
    }
    query
        .push(" ORDER BY first_seen ")
        .push(order)
        .push(", id ")
        .push(order);
    query.push(" LIMIT ").push_bind(limit);
    let mut rows: Vec<Release> = query.fetch_all(conn).await?;
    if matches!(page, Page::Before(..)) {
        rows.reverse();
    }
    Ok(rows)
}

fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The project's release with this version.
pub async fn find(
    conn: &mut Conn<'_>,
    project_id: i64,
    version: &str,
) -> Result<Option<Release>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(RELEASE_COLUMNS)
        .push(" FROM releases WHERE project_id = ")
        .push_bind(project_id)
        .push(" AND version = ")
        .push_bind(version);
    Ok(query.fetch_optional(conn).await?)
}

/// The release with this id.
pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<Option<Release>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(RELEASE_COLUMNS)
        .push(" FROM releases WHERE id = ")
        .push_bind(id);
    Ok(query.fetch_optional(conn).await?)
}

/// The project's most recent release (the last by `(first_seen, id)`).
pub async fn latest(conn: &mut Conn<'_>, project_id: i64) -> Result<Option<Release>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(RELEASE_COLUMNS)
        .push(" FROM releases WHERE project_id = ")
        .push_bind(project_id)
        .push(" ORDER BY first_seen DESC, id DESC LIMIT 1");
    Ok(query.fetch_optional(conn).await?)
}

/// The release right after `release` in its project's order, if any.
pub async fn next_after(
    conn: &mut Conn<'_>,
    release: &Release,
) -> Result<Option<Release>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(RELEASE_COLUMNS)
        .push(" FROM releases WHERE project_id = ")
        .push_bind(release.project_id);
    query
        .push(" AND (first_seen > ")
        .push_bind(release.first_seen)
        .push(" OR (first_seen = ")
        .push_bind(release.first_seen)
        .push(" AND id > ")
        .push_bind(release.id)
        .push("))");
    query.push(" ORDER BY first_seen ASC, id ASC LIMIT 1");
    Ok(query.fetch_optional(conn).await?)
}

/// The release `version` of the project, recorded with `first_seen` if it is not known yet (for
/// issues whose events predate the releases table).
pub(crate) async fn ensure(
    conn: &mut Conn<'_>,
    project_id: i64,
    version: &str,
    first_seen: i64,
    now_ms: i64,
) -> Result<Release, StoreError> {
    Query::new(
        "INSERT INTO releases (project_id, version, first_seen, last_seen, new_issues, \
         event_count, created_at) VALUES ($1, $2, $3, $3, 0, 0, $4) \
         ON CONFLICT (project_id, version) DO NOTHING",
    )
    .bind(project_id)
    .bind(version)
    .bind(first_seen)
    .bind(now_ms)
    .execute(conn)
    .await?;
    find(conn, project_id, version)
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// An environment of a project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Environment {
    /// Primary key.
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// The `environment` the SDK sent.
    pub name: String,
    /// Time of its earliest event, epoch ms.
    pub first_seen: i64,
    /// Time of its latest event, epoch ms.
    pub last_seen: i64,
    /// Issues first seen in this environment.
    pub new_issues: i64,
    /// Events stored with this environment.
    pub event_count: i64,
    /// When Errhound first recorded it, epoch ms.
    pub created_at: i64,
}

/// The project's environments, by name.
pub async fn environments(
    conn: &mut Conn<'_>,
    project_id: i64,
) -> Result<Vec<Environment>, StoreError> {
    Ok(Query::new(
        "SELECT id, project_id, name, first_seen, last_seen, new_issues, event_count, created_at \
         FROM environments WHERE project_id = $1 ORDER BY name",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await?)
}
