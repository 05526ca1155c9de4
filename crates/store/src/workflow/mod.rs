//! The issue workflow: status changes (resolve, resolve in a release, ignore with conditions,
//! unresolve), assignment, bookmarks, merge and unmerge, and the per-issue state the API and UI
//! show next to an issue (assignee, status details, bookmark, comment count).
//!
//! Every function that changes an issue takes the caller's [`Tx`] and records its activity
//! ([`crate::activity`]) in that transaction, so one API request can apply several changes
//! atomically. A change that changes nothing (resolving a resolved issue the same way, assigning
//! the current assignee) writes nothing and returns `false`.
//!
//! Semantics follow Sentry (`sentry-internals.md` §2):
//!
//! * **Resolve in release R**: events of releases older than R (by `(first_seen, id)`) do not
//!   reopen the issue; events of R or newer releases, and of releases unknown when they arrive,
//!   do. **Resolve in next release**: the release current at resolve time (the issue's last
//!   release, else the project's latest) is recorded; its events and older ones do not reopen the
//!   issue. If a newer release than that already exists, the resolution becomes "in release
//!   <the next one>", as Sentry does. With no release at all it is a plain resolve. Events
//!   without a release never reopen an issue resolved in a release (Sentry assumes an older,
//!   unversioned deployment). Events received before the issue was resolved never reopen it.
//! * **Ignore** forever, or until a time, N more events (optionally within a window of minutes,
//!   counted from the hourly counts), or N more users (optionally within a window: users whose
//!   latest event lies in it). When a condition is met an event reopens the issue: substatus
//!   `ongoing` with `set_unresolved` if the ignore had a time limit, else `escalating` with
//!   `set_escalating`, as Sentry. [`clear_expired_snoozes`] reopens time-limited ignores without
//!   waiting for an event (Sentry's periodic task).
//! * **Merge**: the issue with the most events (then the highest id) survives; the others' events,
//!   hashes, tag values, hourly counts, counters, comments and activity, bookmarks and (if the
//!   survivor has none) assignee move to it; they are deleted and leave redirects, so later
//!   events with their hashes land in the survivor.
//! * **Unmerge** moves hashes to a new issue (copying the title and culprit); events that
//!   arrive later with those hashes land in it. Events already stored stay in the original issue:
//!   which stored event carried which hash is only known inside its compressed payload, and
//!   re-reading every payload of a large issue inside a write transaction would stall ingest.
//!   (An event joins the issue of its first known hash, so an event whose earlier hash still
//!   belongs to the original issue keeps joining it.)

mod assignment;
mod bookmarks;
mod changes;
mod ignore;
mod merge;
mod reopen_rules;
mod resolution;
mod state;
pub mod status;

pub use assignment::{Assignee, AssigneeFilter, AssigneeRef, assign, unassign};
pub use bookmarks::set_bookmark;
pub use changes::{
    AssigneeName, ChangeError, ChangeOutcome, IssueChange, apply_changes, resolve_assignee,
};
pub use ignore::{IgnoreConditions, clear_expired_snoozes, ignore};
pub use merge::{Merged, merge, redirect, redirect_short_id, unmerge};
pub(crate) use reopen_rules::{ReleaseOrder, SnoozeCheck, SnoozeEnd, resolution_covers};
pub use resolution::{ResolutionKind, resolve, resolve_in_next_release, resolve_in_release};
pub use state::{IssueState, ResolutionInfo, SnoozeInfo, issue_states};
pub use status::{StatusChange, StatusOutcome, change_status, unresolve};

use crate::StoreError;
use crate::db::{Engine, Tx};
use crate::issues::{self, Issue};
use crate::query::{Conn, Int, Query};

/// Why a workflow operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The issue, release, user, team or comment does not exist (or is not reachable).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request is invalid (the message says why).
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state (e.g. a repeated comment).
    #[error("{0}")]
    Conflict(String),
}

impl From<sqlx::Error> for WorkflowError {
    fn from(error: sqlx::Error) -> WorkflowError {
        WorkflowError::Store(StoreError::from(error))
    }
}

/// The issue, read inside the transaction.
pub(crate) async fn load_issue(tx: &mut Tx, issue_id: i64) -> Result<Issue, WorkflowError> {
    issues::get(&mut tx.conn(), issue_id)
        .await?
        .ok_or(WorkflowError::NotFound("issue"))
}

pub(super) async fn organization_of_project(
    conn: &mut Conn<'_>,
    project_id: i64,
) -> Result<i64, WorkflowError> {
    let row: Option<Int> =
        Query::new("SELECT organization_id AS value FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_optional(conn)
            .await?;
    row.map(|r| r.value)
        .ok_or(WorkflowError::NotFound("project"))
}

/// Serializes, on PostgreSQL, with the ingest writer of the project (the same advisory lock the
/// batch writer takes), for operations that move hashes or delete issues.
pub(super) async fn lock_project(tx: &mut Tx, project_id: i64) -> Result<(), StoreError> {
    if tx.engine() == Engine::Postgres {
        Query::new("SELECT pg_advisory_xact_lock(7231, CAST($1 AS INTEGER))")
            .bind(project_id)
            .execute(&mut tx.conn())
            .await?;
    }
    Ok(())
}
