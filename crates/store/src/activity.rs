//! The activity timeline of an issue (Sentry's `Activity`): state changes, assignments, merges,
//! regressions and comments (a comment is a `note` activity whose data is `{"text": ...}`).
//!
//! Rows are written by [`crate::workflow`] (user actions, in the transaction of the change) and by
//! [`crate::ingest`] (regressions and snoozes ending, one multi-row insert per batch), and by
//! [`crate::tickets`] (a ticket linked).

use std::collections::HashMap;

use errhound_domain::alerts::WorkflowNotice;
use serde_json::{Value, json};

use crate::StoreError;
use crate::alerts::notices::{self, Notice};
use crate::db::Tx;
use crate::query::{Conn, Query};
use crate::workflow::WorkflowError;

/// Sentry's activity types that Errhound records (the `type` column holds [`ActivityType::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityType {
    /// Resolved.
    SetResolved,
    /// Resolved in a release or in the next release (`data.version`, `""` for the next one).
    SetResolvedInRelease,
    /// Unresolved by a user, or an ignore that ended because its time passed.
    SetUnresolved,
    /// Ignored (`data` holds Sentry's `ignore*` fields).
    SetIgnored,
    /// A resolved issue received an event (`data.version`, `data.event_id`).
    SetRegression,
    /// An ignored issue met its ignore condition (`data.expired_snooze`, `data.event_id`).
    SetEscalating,
    /// Assigned (`data.assignee`, `assigneeEmail`, `assigneeName`, `assigneeType`).
    Assigned,
    /// Unassigned.
    Unassigned,
    /// A comment (`data.text`).
    Note,
    /// Other issues were merged into this one (`data.issues: [{"id": ...}]`).
    Merge,
    /// Some hashes were split off into another issue (`data.fingerprints`, `destination_id`).
    UnmergeSource,
    /// This issue was split off another one (`data.fingerprints`, `source_id`).
    UnmergeDestination,
    /// A ticket in an issue tracker was created or linked (`data.provider`, `location`,
    /// `label`, and `title` when created), see [`crate::tickets`].
    CreateIssue,
    /// The issue's first event (never stored: the timeline adds it from `issues.first_seen`).
    FirstSeen,
}

impl ActivityType {
    /// Sentry's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::SetResolved => "set_resolved",
            ActivityType::SetResolvedInRelease => "set_resolved_in_release",
            ActivityType::SetUnresolved => "set_unresolved",
            ActivityType::SetIgnored => "set_ignored",
            ActivityType::SetRegression => "set_regression",
            ActivityType::SetEscalating => "set_escalating",
            ActivityType::Assigned => "assigned",
            ActivityType::Unassigned => "unassigned",
            ActivityType::Note => "note",
            ActivityType::Merge => "merge",
            ActivityType::UnmergeSource => "unmerge_source",
            ActivityType::UnmergeDestination => "unmerge_destination",
            ActivityType::CreateIssue => "create_issue",
            ActivityType::FirstSeen => "first_seen",
        }
    }

    /// The type with this name.
    pub fn parse(name: &str) -> Option<ActivityType> {
        Some(match name {
            "set_resolved" => ActivityType::SetResolved,
            "set_resolved_in_release" => ActivityType::SetResolvedInRelease,
            "set_unresolved" => ActivityType::SetUnresolved,
            "set_ignored" => ActivityType::SetIgnored,
            "set_regression" => ActivityType::SetRegression,
            "set_escalating" => ActivityType::SetEscalating,
            "assigned" => ActivityType::Assigned,
            "unassigned" => ActivityType::Unassigned,
            "note" => ActivityType::Note,
            "merge" => ActivityType::Merge,
            "unmerge_source" => ActivityType::UnmergeSource,
            "unmerge_destination" => ActivityType::UnmergeDestination,
            "create_issue" => ActivityType::CreateIssue,
            "first_seen" => ActivityType::FirstSeen,
            _ => return None,
        })
    }
}

/// A user as shown next to an activity, an assignment or a resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// User id.
    pub id: i64,
    /// E-mail (also the username).
    pub email: String,
    /// Display name.
    pub name: String,
}

impl UserRef {
    /// See [`crate::users::display_name`].
    pub fn display_name(&self) -> &str {
        crate::users::display_name(&self.name, &self.email)
    }
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Primary key (`0` for the synthesized `first_seen` entry).
    pub id: i64,
    /// The issue.
    pub issue_id: i64,
    /// Sentry's type name ([`ActivityType::as_str`]).
    pub kind: String,
    /// Who did it; `None` for the system (ingest, expiring snoozes).
    pub user: Option<UserRef>,
    /// The type's data, a JSON object.
    pub data: Value,
    /// When, epoch ms.
    pub created_at: i64,
    /// When a comment was last edited, epoch ms.
    pub updated_at: Option<i64>,
}

impl Activity {
    /// The comment text of a `note`.
    pub fn text(&self) -> Option<&str> {
        self.data.get("text").and_then(Value::as_str)
    }
}

#[derive(sqlx::FromRow)]
struct ActivityRow {
    id: i64,
    issue_id: i64,
    kind: String,
    user_id: Option<i64>,
    user_email: Option<String>,
    user_name: Option<String>,
    data: String,
    created_at: i64,
    updated_at: Option<i64>,
}

impl From<ActivityRow> for Activity {
    fn from(row: ActivityRow) -> Activity {
        let user = match (row.user_id, row.user_email, row.user_name) {
            (Some(id), Some(email), Some(name)) => Some(UserRef { id, email, name }),
            _ => None,
        };
        Activity {
            id: row.id,
            issue_id: row.issue_id,
            kind: row.kind,
            user,
            data: serde_json::from_str(&row.data).unwrap_or_else(|_| json!({})),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const SELECT: &str = "SELECT a.id, a.issue_id, a.type AS kind, a.user_id, u.email AS user_email, \
    u.name AS user_name, a.data, a.created_at, a.updated_at \
    FROM activity a LEFT JOIN users u ON u.id = a.user_id";

/// One activity to write.
#[derive(Debug, Clone)]
pub(crate) struct NewActivity {
    pub issue_id: i64,
    pub kind: ActivityType,
    pub user_id: Option<i64>,
    pub data: Value,
}

/// Writes one activity row; returns its id.
pub(crate) async fn record(
    conn: &mut Conn<'_>,
    issue_id: i64,
    kind: ActivityType,
    user_id: Option<i64>,
    data: &Value,
    now_ms: i64,
) -> Result<i64, StoreError> {
    let row: crate::query::Int = Query::new(
        "INSERT INTO activity (issue_id, type, user_id, data, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id AS value",
    )
    .bind(issue_id)
    .bind(kind.as_str())
    .bind(user_id)
    .bind(data.to_string())
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(row.value)
}

/// Writes many activity rows in multi-row statements (the ingest path: one per batch).
pub(crate) async fn record_many(
    conn: &mut Conn<'_>,
    rows: &[NewActivity],
    now_ms: i64,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(128) {
        let mut query = Query::builder();
        query.push("INSERT INTO activity (issue_id, type, user_id, data, created_at) VALUES ");
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            query.push("(").push_bind(row.issue_id).push(", ");
            query.push_bind(row.kind.as_str()).push(", ");
            query.push_bind(row.user_id).push(", ");
            query.push_bind(row.data.to_string()).push(", ");
            query.push_bind(now_ms).push(")");
        }
        query.execute(conn).await?;
    }
    Ok(())
}

/// The issue's timeline, newest first: up to `limit` stored activities, followed by the
/// `first_seen` entry (from the issue's first event) when the list holds the whole timeline, as
/// Sentry's issue activity does.
pub async fn timeline(
    conn: &mut Conn<'_>,
    issue_id: i64,
    limit: i64,
) -> Result<Vec<Activity>, StoreError> {
    let mut query = Query::builder();
    query
        .push(SELECT)
        .push(" WHERE a.issue_id = ")
        .push_bind(issue_id)
        .push(" ORDER BY a.id DESC LIMIT ")
        .push_bind(limit);
    let rows: Vec<ActivityRow> = query.fetch_all(conn).await?;
    let mut list: Vec<Activity> = rows.into_iter().map(Activity::from).collect();
    if (list.len() as i64) < limit {
        let first_seen: Option<crate::query::Int> =
            Query::new("SELECT first_seen AS value FROM issues WHERE id = $1")
                .bind(issue_id)
                .fetch_optional(conn)
                .await?;
        if let Some(first_seen) = first_seen {
            list.push(Activity {
                id: 0,
                issue_id,
                kind: ActivityType::FirstSeen.as_str().to_owned(),
                user: None,
                data: json!({}),
                created_at: first_seen.value,
                updated_at: None,
            });
        }
    }
    Ok(list)
}

/// Comments of an issue, newest first, keyset-paginated by `(created_at, id)`.
pub async fn comments(
    conn: &mut Conn<'_>,
    issue_id: i64,
    page: crate::issues::Page,
    limit: i64,
) -> Result<Vec<Activity>, StoreError> {
    use crate::issues::Page;
    let mut query = Query::builder();
    query
        .push(SELECT)
        .push(" WHERE a.issue_id = ")
        .push_bind(issue_id)
        .push(" AND a.type = 'note'");
    let (op, order) = match page {
        Page::First => ("", "DESC"),
        Page::After(..) => ("<", "DESC"),
        Page::Before(..) => (">", "ASC"),
    };
    if let Page::After(at, id) | Page::Before(at, id) = page {
        query
            .push(" AND (a.created_at ")
            .push(op)
            .push(" ")
            .push_bind(at);
        query.push(" OR (a.created_at = ").push_bind(at);
        query
            .push(" AND a.id ")
            .push(op)
            .push(" ")
            .push_bind(id)
            .push("))");
    }
    query
        .push(" ORDER BY a.created_at ")
        .push(order)
        .push(", a.id ")
        .push(order);
    query.push(" LIMIT ").push_bind(limit);
    let rows: Vec<ActivityRow> = query.fetch_all(conn).await?;
    let mut list: Vec<Activity> = rows.into_iter().map(Activity::from).collect();
    if matches!(page, Page::Before(..)) {
        list.reverse();
    }
    Ok(list)
}

/// One activity of an issue by id.
pub async fn get(
    conn: &mut Conn<'_>,
    issue_id: i64,
    activity_id: i64,
) -> Result<Option<Activity>, StoreError> {
    let mut query = Query::builder();
    query
        .push(SELECT)
        .push(" WHERE a.issue_id = ")
        .push_bind(issue_id)
        .push(" AND a.id = ")
        .push_bind(activity_id);
    let row: Option<ActivityRow> = query.fetch_optional(conn).await?;
    Ok(row.map(Activity::from))
}

/// Number of comments per issue (issues without comments are absent).
pub async fn comment_counts(
    conn: &mut Conn<'_>,
    issue_ids: &[i64],
) -> Result<HashMap<i64, i64>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        issue_id: i64,
        n: i64,
    }
    let mut out = HashMap::new();
    for chunk in issue_ids.chunks(500) {
        let mut query = Query::builder();
        query.push(
            "SELECT issue_id, COUNT(*) AS n FROM activity WHERE type = 'note' AND issue_id IN (",
        );
        query
            .push_bind_list(chunk.iter().copied())
            .push(") GROUP BY issue_id");
        let rows: Vec<Row> = query.fetch_all(conn).await?;
        out.extend(rows.into_iter().map(|r| (r.issue_id, r.n)));
    }
    Ok(out)
}

/// How long a repeated identical comment by the same user is refused (Sentry: one hour).
const DUPLICATE_WINDOW_MS: i64 = errhound_domain::time::HOUR_MS;

fn check_text(text: &str) -> Result<&str, WorkflowError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(WorkflowError::Invalid(
            "text: This field may not be blank.".into(),
        ));
    }
    if text.len() > 100_000 {
        return Err(WorkflowError::Invalid(
            "text: Ensure this field has no more than 100000 characters.".into(),
        ));
    }
    Ok(text)
}

/// Adds a comment by `user_id` to the issue, with the workflow notice to everyone else who took
/// part in it ([`notices::participants`]) in the same transaction. The same text by the same
/// user within an hour is refused ([`WorkflowError::Conflict`]), as in Sentry.
pub async fn add_comment(
    tx: &mut Tx,
    issue_id: i64,
    user_id: i64,
    text: &str,
    now_ms: i64,
) -> Result<Activity, WorkflowError> {
    let text = check_text(text)?;
    let issue = crate::workflow::load_issue(tx, issue_id).await?;
    let data = json!({ "text": text });
    let duplicate: Option<crate::query::Int> = Query::new(
        "SELECT id AS value FROM activity WHERE issue_id = $1 AND type = 'note' AND user_id = $2 \
         AND data = $3 AND created_at >= $4 LIMIT 1",
    )
    .bind(issue_id)
    .bind(user_id)
    .bind(data.to_string())
    .bind(now_ms - DUPLICATE_WINDOW_MS)
    .fetch_optional(&mut tx.conn())
    .await?;
    if duplicate.is_some() {
        return Err(WorkflowError::Conflict(
            "You have already posted that comment.".into(),
        ));
    }
    let id = record(
        &mut tx.conn(),
        issue_id,
        ActivityType::Note,
        Some(user_id),
        &data,
        now_ms,
    )
    .await?;
    // The comment counts as taking part, but its author is never told about it.
    let audience = notices::participants(&mut tx.conn(), issue_id).await?;
    let cause = format!("activity:{id}:at:{now_ms}");
    let notice = Notice {
        kind: WorkflowNotice::Commented,
        project_id: issue.project_id,
        issue_id,
        event_id: "",
        actor: Some(user_id),
        detail: Some(text),
        cause: &cause,
    };
    notices::enqueue(&mut tx.conn(), &notice, &audience, now_ms).await?;
    get(&mut tx.conn(), issue_id, id)
        .await?
        .ok_or(WorkflowError::NotFound("comment"))
}

/// Replaces the text of a comment; only its author may ([`WorkflowError::NotFound`] otherwise,
/// as Sentry answers 404).
pub async fn edit_comment(
    tx: &mut Tx,
    issue_id: i64,
    comment_id: i64,
    user_id: i64,
    text: &str,
    now_ms: i64,
) -> Result<Activity, WorkflowError> {
    let text = check_text(text)?;
    let updated = Query::new(
        "UPDATE activity SET data = $1, updated_at = $2 \
         WHERE id = $3 AND issue_id = $4 AND type = 'note' AND user_id = $5",
    )
    .bind(json!({ "text": text }).to_string())
    .bind(now_ms)
    .bind(comment_id)
    .bind(issue_id)
    .bind(user_id)
    .execute(&mut tx.conn())
    .await?;
    if updated == 0 {
        return Err(WorkflowError::NotFound("comment"));
    }
    get(&mut tx.conn(), issue_id, comment_id)
        .await?
        .ok_or(WorkflowError::NotFound("comment"))
}

/// Deletes a comment; only its author may ([`WorkflowError::NotFound`] otherwise).
pub async fn delete_comment(
    tx: &mut Tx,
    issue_id: i64,
    comment_id: i64,
    user_id: i64,
) -> Result<(), WorkflowError> {
    let deleted = Query::new(
        "DELETE FROM activity WHERE id = $1 AND issue_id = $2 AND type = 'note' AND user_id = $3",
    )
    .bind(comment_id)
    .bind(issue_id)
    .bind(user_id)
    .execute(&mut tx.conn())
    .await?;
    if deleted == 0 {
        return Err(WorkflowError::NotFound("comment"));
    }
    Ok(())
}

/// Formats epoch milliseconds as ISO 8601 UTC (`2026-11-25T00:16:07Z`, milliseconds when
/// non-zero), for dates stored inside activity data.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if millis == 0 {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_565_767_000), "2026-11-25T00:16:07Z");
        assert_eq!(iso8601(1_795_565_767_299), "2026-11-25T00:16:07.299Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn type_names_round_trip() {
        for t in [
            ActivityType::SetResolved,
            ActivityType::SetResolvedInRelease,
            ActivityType::SetUnresolved,
            ActivityType::SetIgnored,
            ActivityType::SetRegression,
            ActivityType::SetEscalating,
            ActivityType::Assigned,
            ActivityType::Unassigned,
            ActivityType::Note,
            ActivityType::Merge,
            ActivityType::UnmergeSource,
            ActivityType::UnmergeDestination,
            ActivityType::CreateIssue,
            ActivityType::FirstSeen,
        ] {
            assert_eq!(ActivityType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ActivityType::parse("bogus"), None);
    }
}
