//! Issue statuses and changes between them: [`change_status`] dispatches to resolving
//! ([`super::resolution`]), ignoring ([`super::ignore`]) and [`unresolve`].

use errhound_domain::time::DAY_MS;
use errhound_domain::{IssueStatus, Substatus};
use serde_json::json;

use super::ignore::delete_snooze;
use super::resolution::delete_resolution;
use super::{
    IgnoreConditions, ResolutionKind, WorkflowError, ignore, load_issue, resolve,
    resolve_in_next_release, resolve_in_release,
};
use crate::StoreError;
use crate::activity::{self, ActivityType};
use crate::db::Tx;
use crate::query::Query;

/// An issue unignored within this long of its first event is `new` again (Sentry: 7 days).
const NEW_FOR_MS: i64 = 7 * DAY_MS;

/// A status change, as the API's `status` + `statusDetails` ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    /// `resolved`.
    Resolve,
    /// `resolvedInNextRelease` (or `statusDetails.inNextRelease`).
    ResolveInNextRelease,
    /// `statusDetails.inRelease`: a version of the project, or `latest`.
    ResolveInRelease(String),
    /// `ignored` with its conditions.
    Ignore(IgnoreConditions),
    /// `unresolved`.
    Unresolve,
}

/// What a status change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusOutcome {
    /// Whether anything changed (and an activity was recorded).
    pub changed: bool,
    /// The resolution recorded, for resolutions in a release: kind and version.
    pub resolution: Option<(ResolutionKind, String)>,
}

/// Applies a status change (dispatches to the functions below).
pub async fn change_status(
    tx: &mut Tx,
    issue_id: i64,
    change: &StatusChange,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<StatusOutcome, WorkflowError> {
    let plain = |changed| StatusOutcome {
        changed,
        resolution: None,
    };
    match change {
        StatusChange::Resolve => Ok(plain(resolve(tx, issue_id, actor, now_ms).await?)),
        StatusChange::ResolveInNextRelease => {
            resolve_in_next_release(tx, issue_id, actor, now_ms).await
        }
        StatusChange::ResolveInRelease(version) => {
            resolve_in_release(tx, issue_id, version, actor, now_ms).await
        }
        StatusChange::Ignore(conditions) => Ok(plain(
            ignore(tx, issue_id, conditions, actor, now_ms).await?,
        )),
        StatusChange::Unresolve => Ok(plain(unresolve(tx, issue_id, actor, now_ms).await?)),
    }
}

/// Reopens a resolved or ignored issue (substatus `ongoing`, or `new` when unignored within 7 days
/// of its first event, as Sentry). Records `set_unresolved`.
pub async fn unresolve(
    tx: &mut Tx,
    issue_id: i64,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<bool, WorkflowError> {
    let issue = load_issue(tx, issue_id).await?;
    if issue.status == IssueStatus::Unresolved {
        return Ok(false);
    }
    let sub = if issue.status == IssueStatus::Ignored && issue.first_seen > now_ms - NEW_FOR_MS {
        Substatus::New
    } else {
        Substatus::Ongoing
    };
    set_status(tx, issue_id, IssueStatus::Unresolved, Some(sub), None).await?;
    delete_snooze(tx, issue_id).await?;
    delete_resolution(tx, issue_id).await?;
    activity::record(
        &mut tx.conn(),
        issue_id,
        ActivityType::SetUnresolved,
        actor,
        &json!({}),
        now_ms,
    )
    .await?;
    Ok(true)
}

pub(super) async fn set_status(
    tx: &mut Tx,
    issue_id: i64,
    status: IssueStatus,
    substatus: Option<Substatus>,
    resolved_at: Option<i64>,
) -> Result<(), StoreError> {
    Query::new("UPDATE issues SET status = $1, substatus = $2, resolved_at = $3 WHERE id = $4")
        .bind(status.as_str())
        .bind(substatus.map(Substatus::as_str))
        .bind(resolved_at)
        .bind(issue_id)
        .execute(&mut tx.conn())
        .await?;
    Ok(())
}
