//! A project's alert rules (stored as Sentry's rule JSON, parsed by `domain::alerts`) and the
//! once-per-interval claim of a rule for an issue.

use errhound_domain::alerts::{AlertRule, Assignee, Counted, Interval, WindowCounts};
use errhound_domain::time::HOUR_MS;

use crate::StoreError;
use crate::query::{Conn, Int, Query};

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredRule {
    /// Primary key.
    pub id: i64,
    /// Its project.
    pub project_id: i64,
    /// Its name.
    pub name: String,
    /// The rule in Sentry's JSON (`domain::alerts::AlertRule::to_sentry_json`).
    pub data: String,
    /// Who created it, if known.
    pub created_by: Option<i64>,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
    /// When it last fired, epoch ms.
    pub last_fired_at: Option<i64>,
    /// How often it fired.
    pub times_fired: i64,
}

macro_rules! columns {
    () => {
        "id, project_id, name, data, created_by, created_at, updated_at, last_fired_at, times_fired"
    };
}

/// Saves a new rule.
pub async fn create(
    conn: &mut Conn<'_>,
    project_id: i64,
    rule: &AlertRule,
    created_by: Option<i64>,
    now_ms: i64,
) -> Result<StoredRule, StoreError> {
    let stored = Query::new(concat!(
        "INSERT INTO alert_rules (project_id, name, data, needs_counts, created_by, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
        columns!()
    ))
    .bind(project_id)
    .bind(rule.name.as_str())
    .bind(rule.to_sentry_json().to_string())
    .bind(rule.needs_seen_jobs())
    .bind(created_by)
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(stored)
}

/// The project's rules, oldest first.
pub async fn list(conn: &mut Conn<'_>, project_id: i64) -> Result<Vec<StoredRule>, StoreError> {
    let rules = Query::new(concat!(
        "SELECT ",
        columns!(),
        " FROM alert_rules WHERE project_id = $1 ORDER BY id"
    ))
    .bind(project_id)
    .fetch_all(conn)
    .await?;
    Ok(rules)
}

/// One rule of the project.
pub async fn get(
    conn: &mut Conn<'_>,
    project_id: i64,
    rule_id: i64,
) -> Result<Option<StoredRule>, StoreError> {
    let rule = Query::new(concat!(
        "SELECT ",
        columns!(),
        " FROM alert_rules WHERE project_id = $1 AND id = $2"
    ))
    .bind(project_id)
    .bind(rule_id)
    .fetch_optional(conn)
    .await?;
    Ok(rule)
}

/// Replaces a rule's definition; `false` when the project has no such rule.
pub async fn update(
    conn: &mut Conn<'_>,
    project_id: i64,
    rule_id: i64,
    rule: &AlertRule,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let changed: Option<Int> = Query::new(
        "UPDATE alert_rules SET name = $1, data = $2, needs_counts = $3, updated_at = $4 \
         WHERE project_id = $5 AND id = $6 RETURNING id AS value",
    )
    .bind(rule.name.as_str())
    .bind(rule.to_sentry_json().to_string())
    .bind(rule.needs_seen_jobs())
    .bind(now_ms)
    .bind(project_id)
    .bind(rule_id)
    .fetch_optional(conn)
    .await?;
    Ok(changed.is_some())
}

/// Deletes a rule; `false` when the project has no such rule.
pub async fn delete(
    conn: &mut Conn<'_>,
    project_id: i64,
    rule_id: i64,
) -> Result<bool, StoreError> {
    let deleted: Option<Int> = Query::new(
        "DELETE FROM alert_rules WHERE project_id = $1 AND id = $2 RETURNING id AS value",
    )
    .bind(project_id)
    .bind(rule_id)
    .fetch_optional(conn)
    .await?;
    Ok(deleted.is_some())
}

/// Whether the project has a rule with a frequency condition.
pub async fn project_needs_counts(
    conn: &mut Conn<'_>,
    project_id: i64,
) -> Result<bool, StoreError> {
    let found: Option<Int> = Query::new(
        "SELECT CAST(1 AS BIGINT) AS value FROM alert_rules WHERE project_id = $1 AND needs_counts \
         LIMIT 1",
    )
    .bind(project_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Claims the rule's firing for the issue: `true` (and the rule's last-fired time and count
/// updated) unless it fired for that issue less than `interval_ms` ago. One conditional upsert,
/// so of two workers deciding at once exactly one wins.
pub async fn claim_fire(
    conn: &mut Conn<'_>,
    rule_id: i64,
    issue_id: i64,
    interval_ms: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let claimed: Option<Int> = Query::new(
        "INSERT INTO alert_rule_fires (rule_id, issue_id, last_fired_at) VALUES ($1, $2, $3) \
         ON CONFLICT (rule_id, issue_id) DO UPDATE SET last_fired_at = excluded.last_fired_at \
         WHERE alert_rule_fires.last_fired_at <= $4 RETURNING rule_id AS value",
    )
    .bind(rule_id)
    .bind(issue_id)
    .bind(now_ms)
    .bind(now_ms - interval_ms)
    .fetch_optional(conn)
    .await?;
    if claimed.is_none() {
        return Ok(false);
    }
    Query::new(
        "UPDATE alert_rules SET last_fired_at = $1, times_fired = times_fired + 1 WHERE id = $2",
    )
    .bind(now_ms)
    .bind(rule_id)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Intervals from this long on are counted from the hourly counts (whole hours: up to an hour
/// more than the window) instead of the events themselves.
const HOURLY_FROM_MS: i64 = 86_400_000;

/// The issue's counts in `windows` ending at `now_ms`. Events in short windows are counted
/// exactly from the events index; long ones from the hourly counts. Users are the distinct
/// `user` tag values last seen inside the window, which is exact.
pub async fn window_counts(
    conn: &mut Conn<'_>,
    issue_id: i64,
    windows: &[(Counted, Interval)],
    now_ms: i64,
) -> Result<WindowCounts, StoreError> {
    let mut counts = WindowCounts::default();
    for &(counted, interval) in windows {
        let since = now_ms - interval.millis();
        let query = match counted {
            Counted::Events if interval.millis() >= HOURLY_FROM_MS => Query::new(
                "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS value FROM issue_hourly_counts \
                 WHERE issue_id = $1 AND hour >= $2",
            )
            .bind(issue_id)
            .bind(since.div_euclid(HOUR_MS)),
            Counted::Events => Query::new(
                "SELECT CAST(COUNT(*) AS BIGINT) AS value FROM events \
                 WHERE issue_id = $1 AND timestamp >= $2",
            )
            .bind(issue_id)
            .bind(since),
            Counted::Users => Query::new(
                "SELECT CAST(COUNT(*) AS BIGINT) AS value FROM issue_tag_values \
                 WHERE issue_id = $1 AND key = 'user' AND last_seen >= $2",
            )
            .bind(issue_id)
            .bind(since),
        };
        let n: Int = query.fetch_one(conn).await?;
        counts
            .0
            .insert((counted, interval), u64::try_from(n.value).unwrap_or(0));
    }
    Ok(counts)
}

#[derive(sqlx::FromRow)]
struct AssigneeRow {
    user_id: Option<i64>,
    team_id: Option<i64>,
}

/// Who the issue is assigned to.
pub async fn assignee(conn: &mut Conn<'_>, issue_id: i64) -> Result<Option<Assignee>, StoreError> {
    let row: Option<AssigneeRow> =
        Query::new("SELECT user_id, team_id FROM issue_assignees WHERE issue_id = $1")
            .bind(issue_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.and_then(|r| match (r.user_id, r.team_id) {
        (Some(user), _) => Some(Assignee::User(user)),
        (None, Some(team)) => Some(Assignee::Team(team)),
        (None, None) => None,
    }))
}
