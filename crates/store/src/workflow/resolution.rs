//! Resolving an issue: plainly, in a release, or in the next release.

use errhound_domain::IssueStatus;
use serde_json::json;

use super::ignore::delete_snooze;
use super::status::{StatusOutcome, set_status};
use super::{WorkflowError, load_issue};
use crate::StoreError;
use crate::activity::{self, ActivityType};
use crate::db::Tx;
use crate::issues::Issue;
use crate::query::Query;
use crate::releases::{self, Release};

/// How a resolution in a release is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolutionKind {
    /// Fixed in a given release.
    InRelease,
    /// Fixed in the release after the one current at resolve time.
    InNextRelease,
}

impl ResolutionKind {
    /// The stored name (`in_release`, `in_next_release`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionKind::InRelease => "in_release",
            ResolutionKind::InNextRelease => "in_next_release",
        }
    }

    /// The kind stored as `text` (an unknown name reads as a plain release resolution).
    pub(crate) fn parse(text: &str) -> ResolutionKind {
        if text == "in_next_release" {
            ResolutionKind::InNextRelease
        } else {
            ResolutionKind::InRelease
        }
    }
}

/// Resolves the issue (any later event reopens it). Records `set_resolved`.
pub async fn resolve(
    tx: &mut Tx,
    issue_id: i64,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<bool, WorkflowError> {
    let issue = load_issue(tx, issue_id).await?;
    let changed = mark_resolved(tx, &issue, None, actor, now_ms).await?;
    if changed {
        activity::record(
            &mut tx.conn(),
            issue_id,
            ActivityType::SetResolved,
            actor,
            &json!({}),
            now_ms,
        )
        .await?;
    }
    Ok(changed)
}

/// Resolves the issue in the release `version` of its project (`latest` names the project's
/// most recent release): events of older releases do not reopen it. Records
/// `set_resolved_in_release` with the version. [`WorkflowError::NotFound`] for an unknown release.
pub async fn resolve_in_release(
    tx: &mut Tx,
    issue_id: i64,
    version: &str,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<StatusOutcome, WorkflowError> {
    let issue = load_issue(tx, issue_id).await?;
    let release = if version == "latest" {
        releases::latest(&mut tx.conn(), issue.project_id).await?
    } else {
        releases::find(&mut tx.conn(), issue.project_id, version).await?
    }
    .ok_or(WorkflowError::NotFound("release"))?;
    let changed = mark_resolved(
        tx,
        &issue,
        Some((ResolutionKind::InRelease, release.id)),
        actor,
        now_ms,
    )
    .await?;
    if changed {
        activity::record(
            &mut tx.conn(),
            issue_id,
            ActivityType::SetResolvedInRelease,
            actor,
            &json!({ "version": release.version }),
            now_ms,
        )
        .await?;
    }
    Ok(StatusOutcome {
        changed,
        resolution: Some((ResolutionKind::InRelease, release.version)),
    })
}

/// Resolves the issue in the next release: events of the release current now (the issue's last
/// release, else the project's latest) and older ones do not reopen it. If a newer release than
/// that one exists already, resolves in that newer release instead (Sentry). Without any release
/// this is a plain resolve. Records `set_resolved_in_release`.
pub async fn resolve_in_next_release(
    tx: &mut Tx,
    issue_id: i64,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<StatusOutcome, WorkflowError> {
    let issue = load_issue(tx, issue_id).await?;
    let current: Option<Release> = match &issue.last_release {
        Some(version) => Some(
            releases::ensure(
                &mut tx.conn(),
                issue.project_id,
                version,
                issue.last_seen,
                now_ms,
            )
            .await?,
        ),
        None => releases::latest(&mut tx.conn(), issue.project_id).await?,
    };
    let (resolution, data) = match current {
        None => (None, json!({ "version": "" })),
        Some(current) => match releases::next_after(&mut tx.conn(), &current).await? {
            Some(next) => {
                let data = json!({ "version": next.version });
                (Some((ResolutionKind::InRelease, next)), data)
            }
            None => {
                let data = json!({ "version": "", "current_release_version": current.version });
                (Some((ResolutionKind::InNextRelease, current)), data)
            }
        },
    };
    let changed = mark_resolved(
        tx,
        &issue,
        resolution.as_ref().map(|(kind, r)| (*kind, r.id)),
        actor,
        now_ms,
    )
    .await?;
    if changed {
        activity::record(
            &mut tx.conn(),
            issue_id,
            ActivityType::SetResolvedInRelease,
            actor,
            &data,
            now_ms,
        )
        .await?;
    }
    Ok(StatusOutcome {
        changed,
        resolution: resolution.map(|(kind, r)| (kind, r.version)),
    })
}

#[derive(sqlx::FromRow)]
struct ResolutionRow {
    kind: String,
    release_id: i64,
}

pub(super) async fn current_resolution(
    tx: &mut Tx,
    issue_id: i64,
) -> Result<Option<(ResolutionKind, i64)>, StoreError> {
    let row: Option<ResolutionRow> =
        Query::new("SELECT kind, release_id FROM issue_resolutions WHERE issue_id = $1")
            .bind(issue_id)
            .fetch_optional(&mut tx.conn())
            .await?;
    Ok(row.map(|r| (ResolutionKind::parse(&r.kind), r.release_id)))
}

pub(super) async fn delete_resolution(tx: &mut Tx, issue_id: i64) -> Result<(), StoreError> {
    Query::new("DELETE FROM issue_resolutions WHERE issue_id = $1")
        .bind(issue_id)
        .execute(&mut tx.conn())
        .await?;
    Ok(())
}

/// Marks the issue resolved with `resolution` (or none); returns whether anything changed.
async fn mark_resolved(
    tx: &mut Tx,
    issue: &Issue,
    resolution: Option<(ResolutionKind, i64)>,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let previous = current_resolution(tx, issue.id).await?;
    if issue.status == IssueStatus::Resolved && previous == resolution {
        return Ok(false);
    }
    set_status(tx, issue.id, IssueStatus::Resolved, None, Some(now_ms)).await?;
    delete_snooze(tx, issue.id).await?;
    match resolution {
        None => delete_resolution(tx, issue.id).await?,
        Some((kind, release_id)) => {
            Query::new(
                "INSERT INTO issue_resolutions (issue_id, kind, release_id, actor_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issue_id) DO UPDATE SET \
                 kind = excluded.kind, release_id = excluded.release_id, \
                 actor_id = excluded.actor_id, created_at = excluded.created_at",
            )
            .bind(issue.id)
            .bind(kind.as_str())
            .bind(release_id)
            .bind(actor)
            .bind(now_ms)
            .execute(&mut tx.conn())
            .await?;
        }
    }
    Ok(true)
}
