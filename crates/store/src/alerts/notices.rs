//! Workflow notices: deliveries no rule sends, about what a person did to an issue that
//! concerns someone else (an assignment, a comment, a regression of an issue they resolved).
//!
//! Each is written into the outbox ([`outbox::enqueue`]) inside the transaction of the change
//! that causes it, one delivery per user, each a mail to that user
//! ([`EmailTarget::Member`]), so the sender applies the recipient rules of every alert
//! ([`super::recipients`], with [`super::recipients::Purpose::Workflow`]): no deactivated user,
//! nobody outside the project's teams, nobody who muted the project, mail or workflow notices.
//! Here only who a notice is for is decided: never the person who did it.

use std::collections::BTreeSet;

use errhound_domain::alerts::{Action, EmailTarget, Reason, WorkflowNotice};
use serde_json::Value;

use super::outbox::{self, NewDelivery};
use crate::StoreError;
use crate::activity::ActivityType;
use crate::query::{Conn, Query};
use crate::{teams, users};

/// One notice to write.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// What happened.
    pub kind: WorkflowNotice,
    /// The issue's project.
    pub project_id: i64,
    /// The issue.
    pub issue_id: i64,
    /// The event that caused it (empty when a person did).
    pub event_id: &'a str,
    /// Who did it; never notified.
    pub actor: Option<i64>,
    /// The comment, or the team the issue was assigned to.
    pub detail: Option<&'a str>,
    /// What caused it, unique among the issue's causes of this kind (an activity id and time,
    /// an event id): part of each delivery's idempotency key.
    pub cause: &'a str,
}

/// Writes one pending delivery of `notice` for each of `audience` but its actor, due now (never
/// digested); returns how many were written.
pub async fn enqueue(
    conn: &mut Conn<'_>,
    notice: &Notice<'_>,
    audience: &BTreeSet<i64>,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let actor_name = match notice.actor {
        Some(id) => users::get(conn, id)
            .await?
            .map(|user| user.display_name().to_owned()),
        None => None,
    };
    let mut written = 0;
    for &user_id in audience.iter().filter(|&&id| Some(id) != notice.actor) {
        let target = Action::NotifyEmail(EmailTarget::Member(user_id))
            .to_json()
            .to_string();
        let key = format!(
            "notice:{}:issue:{}:{}:user:{user_id}",
            notice.kind.as_str(),
            notice.issue_id,
            notice.cause
        );
        let delivery = NewDelivery {
            idempotency_key: &key,
            project_id: notice.project_id,
            rule_id: None,
            issue_id: notice.issue_id,
            event_id: notice.event_id,
            reason: Reason::Workflow(notice.kind),
            actor: actor_name.as_deref(),
            detail: notice.detail,
            target: &target,
            // Its own key: a notice is about one thing for one person, so it is never digested.
            digest_key: &key,
            due_at: now_ms,
        };
        if outbox::enqueue(conn, &delivery, now_ms).await? {
            written += 1;
        }
    }
    Ok(written)
}

#[derive(sqlx::FromRow)]
struct UserId {
    user_id: i64,
}

/// Who an assignment reaches: the user, or the members of the team.
pub async fn assignees(
    conn: &mut Conn<'_>,
    user_id: Option<i64>,
    team_id: Option<i64>,
) -> Result<BTreeSet<i64>, StoreError> {
    let mut out: BTreeSet<i64> = user_id.into_iter().collect();
    if let Some(team_id) = team_id {
        out.extend(teams::members(conn, team_id).await?.iter().map(|u| u.id));
    }
    Ok(out)
}

/// Activities that make their user a participant: commenting and changing the status.
const TAKING_PART: [ActivityType; 5] = [
    ActivityType::Note,
    ActivityType::SetResolved,
    ActivityType::SetResolvedInRelease,
    ActivityType::SetUnresolved,
    ActivityType::SetIgnored,
];

#[derive(sqlx::FromRow)]
struct Part {
    kind: String,
    user_id: Option<i64>,
    data: String,
}

#[derive(sqlx::FromRow)]
struct Subscription {
    user_id: i64,
    is_active: bool,
}

/// Who took part in the issue, from its activity: who commented, changed its status or was
/// assigned it (as a user), and who subscribed explicitly; minus who unsubscribed explicitly
/// (the issue page's subscription wins, as in Sentry).
pub async fn participants(conn: &mut Conn<'_>, issue_id: i64) -> Result<BTreeSet<i64>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT type AS kind, user_id, data FROM activity WHERE issue_id = ")
        .push_bind(issue_id)
        .push(" AND (user_id IS NOT NULL AND type IN (")
        .push_bind_list(TAKING_PART.iter().map(|t| t.as_str()))
        .push(") OR type = ")
        .push_bind(ActivityType::Assigned.as_str())
        .push(")");
    let rows: Vec<Part> = query.fetch_all(conn).await?;
    let mut out = BTreeSet::new();
    for row in rows {
        // An assignment makes its assignee take part, not whoever assigned it.
        let user = if row.kind == ActivityType::Assigned.as_str() {
            assigned_user(&row.data)
        } else {
            row.user_id
        };
        out.extend(user);
    }
    let current: Vec<UserId> = Query::new(
        "SELECT user_id FROM issue_assignees WHERE issue_id = $1 AND user_id IS NOT NULL",
    )
    .bind(issue_id)
    .fetch_all(conn)
    .await?;
    out.extend(current.into_iter().map(|r| r.user_id));
    let explicit: Vec<Subscription> =
        Query::new("SELECT user_id, is_active FROM issue_subscriptions WHERE issue_id = $1")
            .bind(issue_id)
            .fetch_all(conn)
            .await?;
    for sub in explicit {
        if sub.is_active {
            out.insert(sub.user_id);
        } else {
            out.remove(&sub.user_id);
        }
    }
    Ok(out)
}

/// The user an `assigned` activity's data names (`assigneeType` `user`).
fn assigned_user(data: &str) -> Option<i64> {
    let data: Value = serde_json::from_str(data).ok()?;
    if data.get("assigneeType")?.as_str()? != "user" {
        return None;
    }
    data.get("assignee")?.as_str()?.parse().ok()
}

/// Who resolved the issue last: the user of its newest resolution, if a person resolved it.
pub async fn last_resolver(
    conn: &mut Conn<'_>,
    issue_id: i64,
) -> Result<BTreeSet<i64>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        user_id: Option<i64>,
    }
    let mut query = Query::builder();
    query
        .push("SELECT user_id FROM activity WHERE issue_id = ")
        .push_bind(issue_id)
        .push(" AND type IN (")
        .push_bind_list(
            [
                ActivityType::SetResolved,
                ActivityType::SetResolvedInRelease,
            ]
            .iter()
            .map(|t| t.as_str()),
        )
        .push(") ORDER BY id DESC LIMIT 1");
    let row: Option<Row> = query.fetch_optional(conn).await?;
    Ok(row.and_then(|r| r.user_id).into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_data_names_users_only() {
        assert_eq!(
            assigned_user(r#"{"assignee": "7", "assigneeType": "user"}"#),
            Some(7)
        );
        assert_eq!(
            assigned_user(r#"{"assignee": "3", "assigneeType": "team"}"#),
            None
        );
        assert_eq!(assigned_user("{}"), None);
    }
}
