//! A project's alert rules (stored as Sentry's rule JSON, parsed by `domain::alerts`) and the
//! once-per-interval claim of a rule for an issue.

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

/// What a rule is saved as.
#[derive(Debug, Clone, Copy)]
pub struct RuleFields<'a> {
    /// Its name.
    pub name: &'a str,
    /// Sentry's rule JSON.
    pub data: &'a str,
    /// Whether it has a frequency condition (the ingest path then records "seen" jobs).
    pub needs_counts: bool,
}

/// Saves a new rule.
pub async fn create(
    conn: &mut Conn<'_>,
    project_id: i64,
    fields: RuleFields<'_>,
    created_by: Option<i64>,
    now_ms: i64,
) -> Result<StoredRule, StoreError> {
    let rule = Query::new(concat!(
        "INSERT INTO alert_rules (project_id, name, data, needs_counts, created_by, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
        columns!()
    ))
    .bind(project_id)
    .bind(fields.name)
    .bind(fields.data)
    .bind(fields.needs_counts)
    .bind(created_by)
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(rule)
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
    fields: RuleFields<'_>,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let changed: Option<Int> = Query::new(
        "UPDATE alert_rules SET name = $1, data = $2, needs_counts = $3, updated_at = $4 \
         WHERE project_id = $5 AND id = $6 RETURNING id AS value",
    )
    .bind(fields.name)
    .bind(fields.data)
    .bind(fields.needs_counts)
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
    let deleted: Option<Int> =
        Query::new("DELETE FROM alert_rules WHERE project_id = $1 AND id = $2 RETURNING id AS value")
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
        "SELECT 1 AS value FROM alert_rules WHERE project_id = $1 AND needs_counts LIMIT 1",
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
