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

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::activity::{self, ActivityType, UserRef};
use crate::db::{Engine, Tx};
use crate::issues::{self, Issue};
use crate::query::{Conn, Int, Query};
use crate::releases::{self, Release};
use crate::{StoreError, teams};

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

/// The issue statuses.
pub mod status {
    /// Open.
    pub const UNRESOLVED: &str = "unresolved";
    /// Resolved (possibly in a release).
    pub const RESOLVED: &str = "resolved";
    /// Ignored (archived), forever or until a condition.
    pub const IGNORED: &str = "ignored";
}

/// Sentry's substatuses.
pub mod substatus {
    /// Unresolved, first seen recently.
    pub const NEW: &str = "new";
    /// Unresolved.
    pub const ONGOING: &str = "ongoing";
    /// Reopened by an event after being resolved.
    pub const REGRESSED: &str = "regressed";
    /// Reopened because its ignore condition was met.
    pub const ESCALATING: &str = "escalating";
    /// Ignored with conditions.
    pub const UNTIL_CONDITION_MET: &str = "archived_until_condition_met";
    /// Ignored forever.
    pub const FOREVER: &str = "archived_forever";
}

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;
/// An issue unignored within this long of its first event is `new` again (Sentry: 7 days).
const NEW_FOR_MS: i64 = 7 * DAY_MS;

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

    fn parse(text: &str) -> ResolutionKind {
        if text == "in_next_release" {
            ResolutionKind::InNextRelease
        } else {
            ResolutionKind::InRelease
        }
    }
}

/// Conditions of an ignore (Sentry's `statusDetails`); all `None` means forever. Any condition
/// met ends the ignore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IgnoreConditions {
    /// Until this time, epoch ms (`ignoreUntil`, or now + `ignoreDuration`).
    pub until_ms: Option<i64>,
    /// The `ignoreDuration` in minutes the caller converted into `until_ms` (kept for the
    /// activity only).
    pub duration_minutes: Option<i64>,
    /// Until this many more events (`ignoreCount`).
    pub count: Option<i64>,
    /// ... within this many minutes (`ignoreWindow`).
    pub window_minutes: Option<i64>,
    /// Until this many more users (`ignoreUserCount`).
    pub user_count: Option<i64>,
    /// ... within this many minutes (`ignoreUserWindow`).
    pub user_window_minutes: Option<i64>,
}

impl IgnoreConditions {
    /// Ignored forever (no condition).
    pub fn is_forever(&self) -> bool {
        self.until_ms.is_none() && self.count.is_none() && self.user_count.is_none()
    }

    fn validate(&self) -> Result<(), WorkflowError> {
        let positive = |name: &str, v: Option<i64>| match v {
            Some(n) if n <= 0 => Err(WorkflowError::Invalid(format!(
                "{name}: Ensure this value is greater than or equal to 1."
            ))),
            _ => Ok(()),
        };
        positive("ignoreCount", self.count)?;
        positive("ignoreWindow", self.window_minutes)?;
        positive("ignoreUserCount", self.user_count)?;
        positive("ignoreUserWindow", self.user_window_minutes)?;
        positive("ignoreDuration", self.duration_minutes)?;
        // Windows longer than a year make no sense and would overflow nothing but the user's
        // patience; Sentry caps windows at a week in its UI.
        for (name, v) in [
            ("ignoreWindow", self.window_minutes),
            ("ignoreUserWindow", self.user_window_minutes),
        ] {
            if v.is_some_and(|m| m > 366 * 24 * 60) {
                return Err(WorkflowError::Invalid(format!(
                    "{name}: Ensure this value is less than or equal to 527040."
                )));
            }
        }
        Ok(())
    }

    /// Drops windows that come without their count (Sentry ignores them too).
    fn normalized(mut self) -> IgnoreConditions {
        if self.count.is_none() {
            self.window_minutes = None;
        }
        if self.user_count.is_none() {
            self.user_window_minutes = None;
        }
        self
    }
}

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

/// Who an issue is assigned to (input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeRef {
    /// A user (must be a member of the issue's organization).
    User(i64),
    /// A team of the issue's organization.
    Team(i64),
}

/// Who an issue is assigned to (output, with display names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// A user.
    User(UserRef),
    /// A team.
    Team {
        /// Team id.
        id: i64,
        /// Team slug.
        slug: String,
        /// Team name.
        name: String,
    },
}

/// An assignment condition of the issue list (see `issues::IssueFilter::assigned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Assigned to anyone (`is:assigned`).
    Anyone,
    /// Assigned to nobody (`is:unassigned`).
    Nobody,
    /// Assigned to this user (`assigned:email`, `assigned:me`).
    User(i64),
    /// Assigned to this team (`assigned:#slug`).
    Team(i64),
    /// Assigned to this user or to one of their teams (Sentry's historical `assigned:me`).
    UserOrTheirTeams(i64),
    /// Assigned to one of this user's teams (`assigned:my_teams`).
    TeamsOf(i64),
}

/// The resolution of a resolved issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionInfo {
    /// In a release or in the next release.
    pub kind: ResolutionKind,
    /// The release: the fix's (`InRelease`) or the one current at resolve time (`InNextRelease`).
    pub release_id: i64,
    /// Its version.
    pub version: String,
    /// Who resolved.
    pub actor: Option<UserRef>,
    /// When, epoch ms.
    pub created_at: i64,
}

/// The ignore conditions of an ignored issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnoozeInfo {
    /// Until this time, epoch ms.
    pub until_ms: Option<i64>,
    /// Until this many more events ...
    pub count: Option<i64>,
    /// ... within this many minutes.
    pub window_minutes: Option<i64>,
    /// Until this many more users ...
    pub user_count: Option<i64>,
    /// ... within this many minutes.
    pub user_window_minutes: Option<i64>,
    /// The issue's event count when it was ignored.
    pub times_seen_at: i64,
    /// The issue's user count when it was ignored.
    pub user_count_at: i64,
    /// Who ignored it.
    pub actor: Option<UserRef>,
    /// When, epoch ms.
    pub created_at: i64,
}

/// Workflow state of one issue, as shown beside it (Sentry's `assignedTo`, `statusDetails`,
/// `isBookmarked`, `numComments`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueState {
    /// The assignee.
    pub assignee: Option<Assignee>,
    /// The resolution, for issues resolved in a release.
    pub resolution: Option<ResolutionInfo>,
    /// The ignore conditions, for issues ignored with some.
    pub snooze: Option<SnoozeInfo>,
    /// Whether the viewer bookmarked it.
    pub bookmarked: bool,
    /// Number of comments.
    pub num_comments: i64,
}

/// The outcome of a merge (Sentry's `{"merge": {"parent", "children"}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The surviving issue.
    pub parent: i64,
    /// The issues merged into it (now deleted), ascending.
    pub children: Vec<i64>,
}

// ------------------------------------------------------------------------------------------------
// Helpers.

/// The issue, read inside the transaction.
pub(crate) async fn load_issue(tx: &mut Tx, issue_id: i64) -> Result<Issue, WorkflowError> {
    issues::get(&mut tx.conn(), issue_id)
        .await?
        .ok_or(WorkflowError::NotFound("issue"))
}

async fn organization_of_project(
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
async fn lock_project(tx: &mut Tx, project_id: i64) -> Result<(), StoreError> {
    if tx.engine() == Engine::Postgres {
        Query::new("SELECT pg_advisory_xact_lock(7231, CAST($1 AS INTEGER))")
            .bind(project_id)
            .execute(&mut tx.conn())
            .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ResolutionRow {
    kind: String,
    release_id: i64,
}

async fn current_resolution(
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

async fn delete_snooze(tx: &mut Tx, issue_id: i64) -> Result<(), StoreError> {
    Query::new("DELETE FROM issue_snoozes WHERE issue_id = $1")
        .bind(issue_id)
        .execute(&mut tx.conn())
        .await?;
    Ok(())
}

async fn delete_resolution(tx: &mut Tx, issue_id: i64) -> Result<(), StoreError> {
    Query::new("DELETE FROM issue_resolutions WHERE issue_id = $1")
        .bind(issue_id)
        .execute(&mut tx.conn())
        .await?;
    Ok(())
}

async fn set_status(
    tx: &mut Tx,
    issue_id: i64,
    status: &str,
    substatus: Option<&str>,
    resolved_at: Option<i64>,
) -> Result<(), StoreError> {
    Query::new("UPDATE issues SET status = $1, substatus = $2, resolved_at = $3 WHERE id = $4")
        .bind(status)
        .bind(substatus)
        .bind(resolved_at)
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
    if issue.status == status::RESOLVED && previous == resolution {
        return Ok(false);
    }
    set_status(tx, issue.id, status::RESOLVED, None, Some(now_ms)).await?;
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

// ------------------------------------------------------------------------------------------------
// Status changes.

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

#[derive(sqlx::FromRow, PartialEq, Eq)]
struct SnoozeParams {
    until_ms: Option<i64>,
    count: Option<i64>,
    window_minutes: Option<i64>,
    user_count: Option<i64>,
    user_window_minutes: Option<i64>,
}

/// Ignores the issue, forever or until one of `conditions` is met. Records `set_ignored` with
/// Sentry's `ignore*` fields.
pub async fn ignore(
    tx: &mut Tx,
    issue_id: i64,
    conditions: &IgnoreConditions,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<bool, WorkflowError> {
    conditions.validate()?;
    let c = conditions.normalized();
    let issue = load_issue(tx, issue_id).await?;
    let previous: Option<SnoozeParams> = Query::new(
        "SELECT until_ms, count, window_minutes, user_count, user_window_minutes \
         FROM issue_snoozes WHERE issue_id = $1",
    )
    .bind(issue_id)
    .fetch_optional(&mut tx.conn())
    .await?;
    let wanted = (!c.is_forever()).then_some(SnoozeParams {
        until_ms: c.until_ms,
        count: c.count,
        window_minutes: c.window_minutes,
        user_count: c.user_count,
        user_window_minutes: c.user_window_minutes,
    });
    if issue.status == status::IGNORED && previous == wanted {
        return Ok(false);
    }
    let sub = if c.is_forever() {
        substatus::FOREVER
    } else {
        substatus::UNTIL_CONDITION_MET
    };
    set_status(tx, issue_id, status::IGNORED, Some(sub), None).await?;
    delete_resolution(tx, issue_id).await?;
    if c.is_forever() {
        delete_snooze(tx, issue_id).await?;
    } else {
        Query::new(
            "INSERT INTO issue_snoozes (issue_id, until_ms, count, window_minutes, user_count, \
             user_window_minutes, times_seen_at, user_count_at, actor_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (issue_id) DO UPDATE SET \
             until_ms = excluded.until_ms, count = excluded.count, \
             window_minutes = excluded.window_minutes, user_count = excluded.user_count, \
             user_window_minutes = excluded.user_window_minutes, \
             times_seen_at = excluded.times_seen_at, user_count_at = excluded.user_count_at, \
             actor_id = excluded.actor_id, created_at = excluded.created_at",
        )
        .bind(issue_id)
        .bind(c.until_ms)
        .bind(c.count)
        .bind(c.window_minutes)
        .bind(c.user_count)
        .bind(c.user_window_minutes)
        .bind(issue.times_seen)
        .bind(issue.user_count)
        .bind(actor)
        .bind(now_ms)
        .execute(&mut tx.conn())
        .await?;
    }
    let data = json!({
        "ignoreCount": c.count,
        "ignoreDuration": c.duration_minutes,
        "ignoreUntil": c.until_ms.map(activity::iso8601),
        "ignoreUserCount": c.user_count,
        "ignoreUserWindow": c.user_window_minutes,
        "ignoreWindow": c.window_minutes,
    });
    activity::record(
        &mut tx.conn(),
        issue_id,
        ActivityType::SetIgnored,
        actor,
        &data,
        now_ms,
    )
    .await?;
    Ok(true)
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
    if issue.status == status::UNRESOLVED {
        return Ok(false);
    }
    let sub = if issue.status == status::IGNORED && issue.first_seen > now_ms - NEW_FOR_MS {
        substatus::NEW
    } else {
        substatus::ONGOING
    };
    set_status(tx, issue_id, status::UNRESOLVED, Some(sub), None).await?;
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

/// Reopens ignored issues whose time limit has passed (Sentry's `clear_expired_snoozes` task),
/// at most `limit` per call: substatus `ongoing`, `set_unresolved` by the system. Returns their
/// ids. Meant to run periodically (e.g. every minute); ingest also ends such ignores when an
/// event arrives.
pub async fn clear_expired_snoozes(
    tx: &mut Tx,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<Int> = Query::new(
        "SELECT s.issue_id AS value FROM issue_snoozes s JOIN issues i ON i.id = s.issue_id \
         WHERE s.until_ms <= $1 AND i.status = 'ignored' ORDER BY s.issue_id LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(&mut tx.conn())
    .await?;
    let ids: Vec<i64> = rows.into_iter().map(|r| r.value).collect();
    if ids.is_empty() {
        return Ok(ids);
    }
    let mut query = Query::builder();
    query.push(
        "UPDATE issues SET status = 'unresolved', substatus = 'ongoing' \
         WHERE status = 'ignored' AND id IN (",
    );
    query.push_bind_list(ids.iter().copied()).push(")");
    query.execute(&mut tx.conn()).await?;
    let mut query = Query::builder();
    query.push("DELETE FROM issue_snoozes WHERE issue_id IN (");
    query.push_bind_list(ids.iter().copied()).push(")");
    query.execute(&mut tx.conn()).await?;
    let rows: Vec<activity::NewActivity> = ids
        .iter()
        .map(|&issue_id| activity::NewActivity {
            issue_id,
            kind: ActivityType::SetUnresolved,
            user_id: None,
            data: json!({}),
        })
        .collect();
    activity::record_many(&mut tx.conn(), &rows, now_ms).await?;
    Ok(ids)
}

// ------------------------------------------------------------------------------------------------
// Assignment and bookmarks.

#[derive(sqlx::FromRow)]
struct AssigneeIds {
    user_id: Option<i64>,
    team_id: Option<i64>,
}

/// Assigns the issue to a member or a team of its organization ([`WorkflowError::Invalid`] for
/// anyone else). Records `assigned` (Sentry's `assignee`, `assigneeEmail`, `assigneeName`,
/// `assigneeType`). Assigning the current assignee changes nothing.
pub async fn assign(
    tx: &mut Tx,
    issue_id: i64,
    to: AssigneeRef,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<bool, WorkflowError> {
    let issue = load_issue(tx, issue_id).await?;
    let org_id = organization_of_project(&mut tx.conn(), issue.project_id).await?;
    let (user_id, team_id, data) = match to {
        AssigneeRef::User(id) => {
            let user = teams::find_org_user(&mut tx.conn(), org_id, teams::UserLookup::Id(id))
                .await?
                .ok_or_else(|| WorkflowError::Invalid("Cannot assign to non-member".into()))?;
            let data = json!({
                "assignee": user.id.to_string(),
                "assigneeEmail": user.email,
                "assigneeName": user.name,
                "assigneeType": "user",
            });
            (Some(user.id), None, data)
        }
        AssigneeRef::Team(id) => {
            let team = teams::get(&mut tx.conn(), id)
                .await?
                .filter(|t| t.organization_id == org_id)
                .ok_or_else(|| {
                    WorkflowError::Invalid("Cannot assign to a team of another organization".into())
                })?;
            let data = json!({
                "assignee": team.id.to_string(),
                "assigneeEmail": null,
                "assigneeName": team.slug,
                "assigneeType": "team",
            });
            (None, Some(team.id), data)
        }
    };
    let previous: Option<AssigneeIds> =
        Query::new("SELECT user_id, team_id FROM issue_assignees WHERE issue_id = $1")
            .bind(issue_id)
            .fetch_optional(&mut tx.conn())
            .await?;
    if previous.is_some_and(|p| p.user_id == user_id && p.team_id == team_id) {
        return Ok(false);
    }
    Query::new(
        "INSERT INTO issue_assignees (issue_id, user_id, team_id, assigned_by, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issue_id) DO UPDATE SET \
         user_id = excluded.user_id, team_id = excluded.team_id, \
         assigned_by = excluded.assigned_by, created_at = excluded.created_at",
    )
    .bind(issue_id)
    .bind(user_id)
    .bind(team_id)
    .bind(actor)
    .bind(now_ms)
    .execute(&mut tx.conn())
    .await?;
    activity::record(
        &mut tx.conn(),
        issue_id,
        ActivityType::Assigned,
        actor,
        &data,
        now_ms,
    )
    .await?;
    Ok(true)
}

/// Removes the issue's assignee, if any. Records `unassigned`.
pub async fn unassign(
    tx: &mut Tx,
    issue_id: i64,
    actor: Option<i64>,
    now_ms: i64,
) -> Result<bool, WorkflowError> {
    load_issue(tx, issue_id).await?;
    let removed = Query::new("DELETE FROM issue_assignees WHERE issue_id = $1")
        .bind(issue_id)
        .execute(&mut tx.conn())
        .await?;
    if removed == 0 {
        return Ok(false);
    }
    activity::record(
        &mut tx.conn(),
        issue_id,
        ActivityType::Unassigned,
        actor,
        &json!({}),
        now_ms,
    )
    .await?;
    Ok(true)
}

/// Bookmarks (or un-bookmarks) the issue for `user_id`; returns whether that changed anything.
/// Bookmarks are personal: no activity is recorded (as in Sentry).
pub async fn set_bookmark(
    tx: &mut Tx,
    issue_id: i64,
    user_id: i64,
    bookmarked: bool,
    now_ms: i64,
) -> Result<bool, WorkflowError> {
    load_issue(tx, issue_id).await?;
    let affected = if bookmarked {
        Query::new(
            "INSERT INTO issue_bookmarks (issue_id, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (issue_id, user_id) DO NOTHING",
        )
        .bind(issue_id)
        .bind(user_id)
        .bind(now_ms)
        .execute(&mut tx.conn())
        .await?
    } else {
        Query::new("DELETE FROM issue_bookmarks WHERE issue_id = $1 AND user_id = $2")
            .bind(issue_id)
            .bind(user_id)
            .execute(&mut tx.conn())
            .await?
    };
    Ok(affected > 0)
}

// ------------------------------------------------------------------------------------------------
// Merge and unmerge.

/// Merges issues of one project into the one with the most events (then the highest id), as
/// Sentry does: events, hashes, tag values, hourly counts, counters, activity (comments
/// included), bookmarks and, if the survivor has none, the assignee move to it; the others are
/// deleted and their ids and short ids redirect to it ([`redirect`]). Later events with the
/// merged hashes land in the survivor. Records `merge` on the survivor
/// (`{"issues": [{"id": ...}]}`).
pub async fn merge(
    tx: &mut Tx,
    issue_ids: &[i64],
    actor: Option<i64>,
    now_ms: i64,
) -> Result<Merged, WorkflowError> {
    let ids: BTreeSet<i64> = issue_ids.iter().copied().collect();
    if ids.len() < 2 {
        return Err(WorkflowError::Invalid(
            "Merging needs at least two issues.".into(),
        ));
    }
    let mut list = Vec::with_capacity(ids.len());
    for &id in &ids {
        list.push(load_issue(tx, id).await?);
    }
    let project_id = list[0].project_id;
    if list.iter().any(|i| i.project_id != project_id) {
        return Err(WorkflowError::Invalid(
            "Merging across multiple projects is not supported".into(),
        ));
    }
    lock_project(tx, project_id).await?;
    // Re-read under the lock: counters may have moved while waiting for it.
    let mut list = Vec::with_capacity(ids.len());
    for &id in &ids {
        list.push(load_issue(tx, id).await?);
    }
    list.sort_by_key(|i| std::cmp::Reverse((i.times_seen, i.id)));
    let parent = list[0].clone();
    let children: Vec<Issue> = list[1..].to_vec();
    let mut child_ids: Vec<i64> = children.iter().map(|i| i.id).collect();
    child_ids.sort_unstable();

    let in_children = |query: &mut Query, prefix: &'static str| {
        query.push(prefix).push(" IN (");
        query.push_bind_list(child_ids.iter().copied()).push(")");
    };

    for table in ["events", "group_hashes"] {
        let mut query = Query::builder();
        query
            .push("UPDATE ")
            .push(table)
            .push(" SET issue_id = ")
            .push_bind(parent.id);
        in_children(&mut query, " WHERE issue_id");
        query.execute(&mut tx.conn()).await?;
    }

    // Counters per row: aggregate the children first (one row per key), then add to the
    // parent's rows. The children's own rows go with them when they are deleted.
    let mut query = Query::builder();
    query
        .push(
            "INSERT INTO issue_tag_values (issue_id, key, value, times_seen, first_seen, last_seen) \
             SELECT ",
        )
        .push_bind(parent.id)
        .push(
            ", key, value, CAST(SUM(times_seen) AS BIGINT), MIN(first_seen), MAX(last_seen) \
             FROM issue_tag_values",
        );
    in_children(&mut query, " WHERE issue_id");
    query.push(
        " GROUP BY key, value ON CONFLICT (issue_id, key, value) DO UPDATE SET \
         times_seen = issue_tag_values.times_seen + excluded.times_seen, \
         first_seen = CASE WHEN excluded.first_seen < issue_tag_values.first_seen \
             THEN excluded.first_seen ELSE issue_tag_values.first_seen END, \
         last_seen = CASE WHEN excluded.last_seen > issue_tag_values.last_seen \
             THEN excluded.last_seen ELSE issue_tag_values.last_seen END",
    );
    query.execute(&mut tx.conn()).await?;

    let mut query = Query::builder();
    query
        .push("INSERT INTO issue_hourly_counts (issue_id, hour, count) SELECT ")
        .push_bind(parent.id)
        .push(", hour, CAST(SUM(count) AS BIGINT) FROM issue_hourly_counts");
    in_children(&mut query, " WHERE issue_id");
    query.push(
        " GROUP BY hour ON CONFLICT (issue_id, hour) DO UPDATE SET \
         count = issue_hourly_counts.count + excluded.count",
    );
    query.execute(&mut tx.conn()).await?;

    // Issue counters: events add up; users are the distinct `user` tag values after the merge.
    let times_seen: i64 = list.iter().map(|i| i.times_seen).sum();
    let first = list
        .iter()
        .min_by_key(|i| (i.first_seen, i.id))
        .unwrap_or(&parent);
    let last = list
        .iter()
        .max_by_key(|i| (i.last_seen, i.id))
        .unwrap_or(&parent);
    let first_release = list
        .iter()
        .filter(|i| i.first_release.is_some())
        .min_by_key(|i| (i.first_seen, i.id))
        .and_then(|i| i.first_release.clone());
    let last_release = list
        .iter()
        .filter(|i| i.last_release.is_some())
        .max_by_key(|i| (i.last_seen, i.id))
        .and_then(|i| i.last_release.clone());
    Query::new(
        "UPDATE issues SET times_seen = $1, first_seen = $2, last_seen = $3, \
         first_release = $4, last_release = $5, \
         user_count = (SELECT COUNT(*) FROM issue_tag_values t \
             WHERE t.issue_id = $6 AND t.key = 'user') \
         WHERE id = $6",
    )
    .bind(times_seen)
    .bind(first.first_seen)
    .bind(last.last_seen)
    .bind(first_release)
    .bind(last_release)
    .bind(parent.id)
    .execute(&mut tx.conn())
    .await?;

    // Comments and history follow the events.
    let mut query = Query::builder();
    query
        .push("UPDATE activity SET issue_id = ")
        .push_bind(parent.id);
    in_children(&mut query, " WHERE issue_id");
    query.execute(&mut tx.conn()).await?;

    let mut query = Query::builder();
    query
        .push("INSERT INTO issue_bookmarks (issue_id, user_id, created_at) SELECT ")
        .push_bind(parent.id)
        .push(", user_id, MIN(created_at) FROM issue_bookmarks");
    in_children(&mut query, " WHERE issue_id");
    query.push(" GROUP BY user_id ON CONFLICT (issue_id, user_id) DO NOTHING");
    query.execute(&mut tx.conn()).await?;

    let has_assignee: Option<Int> =
        Query::new("SELECT issue_id AS value FROM issue_assignees WHERE issue_id = $1")
            .bind(parent.id)
            .fetch_optional(&mut tx.conn())
            .await?;
    if has_assignee.is_none() {
        #[derive(sqlx::FromRow)]
        struct Row {
            user_id: Option<i64>,
            team_id: Option<i64>,
            assigned_by: Option<i64>,
            created_at: i64,
        }
        let mut query = Query::builder();
        query.push("SELECT user_id, team_id, assigned_by, created_at FROM issue_assignees");
        in_children(&mut query, " WHERE issue_id");
        query.push(" ORDER BY created_at DESC, issue_id DESC LIMIT 1");
        let row: Option<Row> = query.fetch_optional(&mut tx.conn()).await?;
        if let Some(row) = row {
            Query::new(
                "INSERT INTO issue_assignees (issue_id, user_id, team_id, assigned_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(parent.id)
            .bind(row.user_id)
            .bind(row.team_id)
            .bind(row.assigned_by)
            .bind(row.created_at)
            .execute(&mut tx.conn())
            .await?;
        }
    }

    // Redirects: earlier merges into a child now lead to the parent, and so do the children.
    let mut query = Query::builder();
    query
        .push("UPDATE issue_redirects SET issue_id = ")
        .push_bind(parent.id);
    in_children(&mut query, " WHERE issue_id");
    query.execute(&mut tx.conn()).await?;
    let mut query = Query::builder();
    query.push(
        "INSERT INTO issue_redirects (previous_issue_id, project_id, previous_short_id, issue_id, \
         created_at) VALUES ",
    );
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            query.push(", ");
        }
        query.push("(").push_bind(child.id).push(", ");
        query.push_bind(child.project_id).push(", ");
        query.push_bind(child.short_id).push(", ");
        query.push_bind(parent.id).push(", ");
        query.push_bind(now_ms).push(")");
    }
    query.push(" ON CONFLICT (previous_issue_id) DO UPDATE SET issue_id = excluded.issue_id");
    query.execute(&mut tx.conn()).await?;

    let mut query = Query::builder();
    query.push("DELETE FROM issues");
    in_children(&mut query, " WHERE id");
    query.execute(&mut tx.conn()).await?;

    let data = json!({
        "issues": child_ids.iter().map(|id| json!({"id": id.to_string()})).collect::<Vec<_>>(),
    });
    activity::record(
        &mut tx.conn(),
        parent.id,
        ActivityType::Merge,
        actor,
        &data,
        now_ms,
    )
    .await?;
    Ok(Merged {
        parent: parent.id,
        children: child_ids,
    })
}

/// Splits `hashes` off the issue into a new issue of the same project (unresolved, no events
/// yet, title and culprit copied): later events with those hashes land in it. Stored events
/// stay where they are (see the module documentation). Records `unmerge_source` on the issue
/// and `unmerge_destination` on the new one. Returns the new issue's id.
/// [`WorkflowError::Conflict`] when none of the hashes belongs to the issue (Sentry's 409).
pub async fn unmerge(
    tx: &mut Tx,
    issue_id: i64,
    hashes: &[String],
    actor: Option<i64>,
    now_ms: i64,
) -> Result<i64, WorkflowError> {
    let issue = load_issue(tx, issue_id).await?;
    if hashes.is_empty() {
        return Err(WorkflowError::Invalid("No hashes given.".into()));
    }
    lock_project(tx, issue.project_id).await?;
    #[derive(sqlx::FromRow)]
    struct HashRow {
        hash: String,
    }
    let wanted: BTreeSet<&str> = hashes.iter().map(String::as_str).collect();
    let mut query = Query::builder();
    query
        .push("SELECT hash FROM group_hashes WHERE issue_id = ")
        .push_bind(issue_id)
        .push(" AND hash IN (");
    query
        .push_bind_list(wanted.iter().copied())
        .push(") ORDER BY hash");
    let found: Vec<HashRow> = query.fetch_all(&mut tx.conn()).await?;
    let found: Vec<String> = found.into_iter().map(|r| r.hash).collect();
    if found.is_empty() {
        return Err(WorkflowError::Conflict("Already being unmerged".into()));
    }
    let reserved: Int = Query::new(
        "UPDATE projects SET next_short_id = next_short_id + 1 WHERE id = $1 \
         RETURNING next_short_id AS value",
    )
    .bind(issue.project_id)
    .fetch_one(&mut tx.conn())
    .await?;
    let created: Int = Query::new(
        "INSERT INTO issues (project_id, short_id, status, substatus, level, event_type, title, \
         culprit, metadata, platform, logger, first_seen, last_seen, times_seen, user_count) \
         SELECT project_id, $1, 'unresolved', 'new', level, event_type, title, culprit, metadata, \
         platform, logger, $2, $2, 0, 0 FROM issues WHERE id = $3 RETURNING id AS value",
    )
    .bind(reserved.value - 1)
    .bind(now_ms)
    .bind(issue_id)
    .fetch_one(&mut tx.conn())
    .await?;
    let new_id = created.value;
    let mut query = Query::builder();
    query
        .push("UPDATE group_hashes SET issue_id = ")
        .push_bind(new_id)
        .push(" WHERE issue_id = ")
        .push_bind(issue_id)
        .push(" AND hash IN (");
    query
        .push_bind_list(found.iter().map(String::as_str))
        .push(")");
    query.execute(&mut tx.conn()).await?;
    activity::record(
        &mut tx.conn(),
        issue_id,
        ActivityType::UnmergeSource,
        actor,
        &json!({ "fingerprints": found, "destination_id": new_id.to_string() }),
        now_ms,
    )
    .await?;
    activity::record(
        &mut tx.conn(),
        new_id,
        ActivityType::UnmergeDestination,
        actor,
        &json!({ "fingerprints": found, "source_id": issue_id.to_string() }),
        now_ms,
    )
    .await?;
    Ok(new_id)
}

/// The issue a merged issue's id now leads to.
pub async fn redirect(
    conn: &mut Conn<'_>,
    previous_issue_id: i64,
) -> Result<Option<i64>, StoreError> {
    let row: Option<Int> =
        Query::new("SELECT issue_id AS value FROM issue_redirects WHERE previous_issue_id = $1")
            .bind(previous_issue_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| r.value))
}

/// The issue a merged issue's short id now leads to.
pub async fn redirect_short_id(
    conn: &mut Conn<'_>,
    project_id: i64,
    previous_short_id: i64,
) -> Result<Option<i64>, StoreError> {
    let row: Option<Int> = Query::new(
        "SELECT issue_id AS value FROM issue_redirects \
         WHERE project_id = $1 AND previous_short_id = $2 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(project_id)
    .bind(previous_short_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.value))
}

// ------------------------------------------------------------------------------------------------
// Reads: the state shown beside issues.

/// The workflow state of each issue (assignee, resolution, ignore conditions, the viewer's
/// bookmark, comment count), in at most five queries for a whole page of issues.
pub async fn issue_states(
    conn: &mut Conn<'_>,
    issues: &[Issue],
    viewer: Option<i64>,
) -> Result<HashMap<i64, IssueState>, StoreError> {
    let mut out: HashMap<i64, IssueState> = issues
        .iter()
        .map(|i| (i.id, IssueState::default()))
        .collect();
    if issues.is_empty() {
        return Ok(out);
    }
    let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();

    #[derive(sqlx::FromRow)]
    struct AssigneeRow {
        issue_id: i64,
        user_id: Option<i64>,
        email: Option<String>,
        user_name: Option<String>,
        team_id: Option<i64>,
        slug: Option<String>,
        team_name: Option<String>,
    }
    let mut query = Query::builder();
    query.push(
        "SELECT a.issue_id, a.user_id, u.email, u.name AS user_name, a.team_id, t.slug, \
         t.name AS team_name FROM issue_assignees a LEFT JOIN users u ON u.id = a.user_id \
         LEFT JOIN teams t ON t.id = a.team_id WHERE a.issue_id IN (",
    );
    query.push_bind_list(ids.iter().copied()).push(")");
    let rows: Vec<AssigneeRow> = query.fetch_all(conn).await?;
    for row in rows {
        let assignee = match row {
            AssigneeRow {
                user_id: Some(id),
                email: Some(email),
                user_name: Some(name),
                ..
            } => Assignee::User(UserRef { id, email, name }),
            AssigneeRow {
                team_id: Some(id),
                slug: Some(slug),
                team_name: Some(name),
                ..
            } => Assignee::Team { id, slug, name },
            _ => continue,
        };
        if let Some(state) = out.get_mut(&row.issue_id) {
            state.assignee = Some(assignee);
        }
    }

    let resolved: Vec<i64> = issues
        .iter()
        .filter(|i| i.status == status::RESOLVED)
        .map(|i| i.id)
        .collect();
    if !resolved.is_empty() {
        #[derive(sqlx::FromRow)]
        struct ResolutionInfoRow {
            issue_id: i64,
            kind: String,
            release_id: i64,
            version: String,
            actor_id: Option<i64>,
            email: Option<String>,
            name: Option<String>,
            created_at: i64,
        }
        let mut query = Query::builder();
        query.push(
            "SELECT r.issue_id, r.kind, r.release_id, rel.version, r.actor_id, u.email, u.name, \
             r.created_at FROM issue_resolutions r JOIN releases rel ON rel.id = r.release_id \
             LEFT JOIN users u ON u.id = r.actor_id WHERE r.issue_id IN (",
        );
        query.push_bind_list(resolved.iter().copied()).push(")");
        let rows: Vec<ResolutionInfoRow> = query.fetch_all(conn).await?;
        for row in rows {
            let actor = user_ref(row.actor_id, row.email, row.name);
            if let Some(state) = out.get_mut(&row.issue_id) {
                state.resolution = Some(ResolutionInfo {
                    kind: ResolutionKind::parse(&row.kind),
                    release_id: row.release_id,
                    version: row.version,
                    actor,
                    created_at: row.created_at,
                });
            }
        }
    }

    let ignored: Vec<i64> = issues
        .iter()
        .filter(|i| i.status == status::IGNORED)
        .map(|i| i.id)
        .collect();
    if !ignored.is_empty() {
        #[derive(sqlx::FromRow)]
        struct SnoozeRow {
            issue_id: i64,
            until_ms: Option<i64>,
            count: Option<i64>,
            window_minutes: Option<i64>,
            user_count: Option<i64>,
            user_window_minutes: Option<i64>,
            times_seen_at: i64,
            user_count_at: i64,
            actor_id: Option<i64>,
            email: Option<String>,
            name: Option<String>,
            created_at: i64,
        }
        let mut query = Query::builder();
        query.push(
            "SELECT s.issue_id, s.until_ms, s.count, s.window_minutes, s.user_count, \
             s.user_window_minutes, s.times_seen_at, s.user_count_at, s.actor_id, u.email, \
             u.name, s.created_at FROM issue_snoozes s LEFT JOIN users u ON u.id = s.actor_id \
             WHERE s.issue_id IN (",
        );
        query.push_bind_list(ignored.iter().copied()).push(")");
        let rows: Vec<SnoozeRow> = query.fetch_all(conn).await?;
        for row in rows {
            let actor = user_ref(row.actor_id, row.email, row.name);
            if let Some(state) = out.get_mut(&row.issue_id) {
                state.snooze = Some(SnoozeInfo {
                    until_ms: row.until_ms,
                    count: row.count,
                    window_minutes: row.window_minutes,
                    user_count: row.user_count,
                    user_window_minutes: row.user_window_minutes,
                    times_seen_at: row.times_seen_at,
                    user_count_at: row.user_count_at,
                    actor,
                    created_at: row.created_at,
                });
            }
        }
    }

    if let Some(viewer) = viewer {
        let mut query = Query::builder();
        query
            .push("SELECT issue_id AS value FROM issue_bookmarks WHERE user_id = ")
            .push_bind(viewer)
            .push(" AND issue_id IN (");
        query.push_bind_list(ids.iter().copied()).push(")");
        let rows: Vec<Int> = query.fetch_all(conn).await?;
        for row in rows {
            if let Some(state) = out.get_mut(&row.value) {
                state.bookmarked = true;
            }
        }
    }

    for (issue_id, n) in activity::comment_counts(conn, &ids).await? {
        if let Some(state) = out.get_mut(&issue_id) {
            state.num_comments = n;
        }
    }
    Ok(out)
}

fn user_ref(id: Option<i64>, email: Option<String>, name: Option<String>) -> Option<UserRef> {
    match (id, email, name) {
        (Some(id), Some(email), Some(name)) => Some(UserRef { id, email, name }),
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------------
// Rules the ingest path applies per batch (pure, so they are unit-tested here).

/// A release's place in its project's order: `(first_seen, id)`.
pub(crate) type ReleaseOrder = (i64, i64);

/// Whether a resolution covers an event of `event_release` (so the event does not reopen the
/// issue). `None` for an event without a release: covered, as Sentry assumes an older,
/// unversioned deployment.
pub(crate) fn resolution_covers(
    kind: ResolutionKind,
    resolution_release: ReleaseOrder,
    event_release: Option<ReleaseOrder>,
) -> bool {
    match event_release {
        None => true,
        Some(event) => match kind {
            ResolutionKind::InRelease => event < resolution_release,
            ResolutionKind::InNextRelease => event <= resolution_release,
        },
    }
}

/// An ignore's conditions and the counts to test them against.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SnoozeCheck {
    pub until_ms: Option<i64>,
    pub count: Option<i64>,
    pub window_minutes: Option<i64>,
    pub user_count: Option<i64>,
    pub user_window_minutes: Option<i64>,
    pub times_seen_at: i64,
    pub user_count_at: i64,
    /// The issue's counters now (this batch included).
    pub times_seen: i64,
    pub users: i64,
    /// Events within `window_minutes` (when it is set).
    pub events_in_window: i64,
    /// Distinct users within `user_window_minutes` (when it is set).
    pub users_in_window: i64,
}

/// How an ignore ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnoozeEnd {
    /// Its time passed: `ongoing`, `set_unresolved`.
    Expired,
    /// A count condition was met: `escalating`, `set_escalating`.
    Escalated,
}

impl SnoozeCheck {
    /// The start of the event window, as a Unix hour (the hour holding `now - window` counts).
    pub(crate) fn window_start_hour(now_ms: i64, window_minutes: i64) -> i64 {
        (now_ms - window_minutes * MINUTE_MS).div_euclid(3_600_000)
    }

    /// Whether the ignore has ended (Sentry's `GroupSnooze.is_valid` turned false), and how.
    pub(crate) fn ended(&self, now_ms: i64) -> Option<SnoozeEnd> {
        let time_up = self.until_ms.is_some_and(|until| until <= now_ms);
        let count_met = self.count.is_some_and(|count| match self.window_minutes {
            Some(_) => self.events_in_window >= count,
            None => self.times_seen - self.times_seen_at >= count,
        });
        let users_met = self
            .user_count
            .is_some_and(|count| match self.user_window_minutes {
                Some(_) => self.users_in_window >= count,
                None => self.users - self.user_count_at >= count,
            });
        if !(time_up || count_met || users_met) {
            None
        } else if self.until_ms.is_some() {
            Some(SnoozeEnd::Expired)
        } else {
            Some(SnoozeEnd::Escalated)
        }
    }

    /// Sentry's `expired_snooze` details for the activity.
    pub(crate) fn details(&self) -> Value {
        json!({
            "until": self.until_ms.map(activity::iso8601),
            "count": self.count,
            "window": self.window_minutes,
            "user_count": self.user_count,
            "user_window": self.user_window_minutes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_cover_older_releases() {
        let r = (100, 5);
        // In release R: strictly older releases are covered, R itself and newer are not.
        assert!(resolution_covers(
            ResolutionKind::InRelease,
            r,
            Some((50, 9))
        ));
        assert!(resolution_covers(
            ResolutionKind::InRelease,
            r,
            Some((100, 4))
        ));
        assert!(!resolution_covers(ResolutionKind::InRelease, r, Some(r)));
        assert!(!resolution_covers(
            ResolutionKind::InRelease,
            r,
            Some((150, 1))
        ));
        // In next release after C: C itself is covered too.
        assert!(resolution_covers(ResolutionKind::InNextRelease, r, Some(r)));
        assert!(!resolution_covers(
            ResolutionKind::InNextRelease,
            r,
            Some((100, 6))
        ));
        // No release on the event: covered.
        assert!(resolution_covers(ResolutionKind::InRelease, r, None));
    }

    #[test]
    fn snooze_conditions() {
        let base = SnoozeCheck {
            times_seen_at: 10,
            user_count_at: 2,
            times_seen: 12,
            users: 3,
            ..SnoozeCheck::default()
        };
        assert_eq!(base.ended(0), None, "forever never ends");
        let until = SnoozeCheck {
            until_ms: Some(1_000),
            ..base
        };
        assert_eq!(until.ended(999), None);
        assert_eq!(until.ended(1_000), Some(SnoozeEnd::Expired));
        let count = SnoozeCheck {
            count: Some(2),
            ..base
        };
        assert_eq!(count.ended(0), Some(SnoozeEnd::Escalated));
        let count = SnoozeCheck {
            count: Some(3),
            ..base
        };
        assert_eq!(count.ended(0), None);
        let windowed = SnoozeCheck {
            count: Some(3),
            window_minutes: Some(60),
            events_in_window: 3,
            ..base
        };
        assert_eq!(windowed.ended(0), Some(SnoozeEnd::Escalated));
        let users = SnoozeCheck {
            user_count: Some(1),
            ..base
        };
        assert_eq!(users.ended(0), Some(SnoozeEnd::Escalated));
        let users_window = SnoozeCheck {
            user_count: Some(2),
            user_window_minutes: Some(10),
            users_in_window: 1,
            ..base
        };
        assert_eq!(users_window.ended(0), None);
        // A count met on an ignore that also had a time limit ends as "expired" (Sentry: the
        // reason is ONGOING whenever the snooze had an `until`).
        let both = SnoozeCheck {
            until_ms: Some(5_000),
            count: Some(1),
            ..base
        };
        assert_eq!(both.ended(0), Some(SnoozeEnd::Expired));
    }

    #[test]
    fn windows_start_in_the_hour_holding_their_start() {
        assert_eq!(SnoozeCheck::window_start_hour(7_200_000, 60), 1);
        assert_eq!(SnoozeCheck::window_start_hour(7_200_000, 61), 0);
    }
}
