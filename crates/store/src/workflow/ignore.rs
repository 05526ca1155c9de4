//! Ignoring an issue, forever or until a condition, and ending time-limited ignores.

use errhound_domain::{IssueStatus, Substatus};
use serde_json::json;

use super::resolution::delete_resolution;
use super::status::set_status;
use super::{WorkflowError, load_issue};
use crate::StoreError;
use crate::activity::{self, ActivityType};
use crate::db::Tx;
use crate::query::{Int, Query};

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
    if issue.status == IssueStatus::Ignored && previous == wanted {
        return Ok(false);
    }
    let sub = if c.is_forever() {
        Substatus::Forever
    } else {
        Substatus::UntilConditionMet
    };
    set_status(tx, issue_id, IssueStatus::Ignored, Some(sub), None).await?;
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
         WHERE s.until_ms <= $1 AND i.status = $2 ORDER BY s.issue_id LIMIT $3",
    )
    .bind(now_ms)
    .bind(IssueStatus::Ignored.as_str())
    .bind(limit)
    .fetch_all(&mut tx.conn())
    .await?;
    let ids: Vec<i64> = rows.into_iter().map(|r| r.value).collect();
    if ids.is_empty() {
        return Ok(ids);
    }
    let mut query = Query::builder();
    query
        .push("UPDATE issues SET status = ")
        .push_bind(IssueStatus::Unresolved.as_str())
        .push(", substatus = ")
        .push_bind(Substatus::Ongoing.as_str())
        .push(" WHERE status = ")
        .push_bind(IssueStatus::Ignored.as_str())
        .push(" AND id IN (");
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

pub(super) async fn delete_snooze(tx: &mut Tx, issue_id: i64) -> Result<(), StoreError> {
    Query::new("DELETE FROM issue_snoozes WHERE issue_id = $1")
        .bind(issue_id)
        .execute(&mut tx.conn())
        .await?;
    Ok(())
}
