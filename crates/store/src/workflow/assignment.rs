//! Assigning an issue to a member or a team of its organization.

use errhound_domain::alerts::WorkflowNotice;
use serde_json::json;

use super::{WorkflowError, load_issue, organization_of_project};
use crate::activity::{self, ActivityType, UserRef};
use crate::alerts::notices::{self, Notice};
use crate::db::Tx;
use crate::query::Query;
use crate::teams;

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

#[derive(sqlx::FromRow)]
struct AssigneeIds {
    user_id: Option<i64>,
    team_id: Option<i64>,
}

/// Assigns the issue to a member or a team of its organization ([`WorkflowError::Invalid`] for
/// anyone else). Records `assigned` (Sentry's `assignee`, `assigneeEmail`, `assigneeName`,
/// `assigneeType`) and, in the same transaction, the workflow notice to the assignee (a team's
/// members), not to the actor. Assigning the current assignee changes nothing.
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
    let activity_id = activity::record(
        &mut tx.conn(),
        issue_id,
        ActivityType::Assigned,
        actor,
        &data,
        now_ms,
    )
    .await?;
    let audience = notices::assignees(&mut tx.conn(), user_id, team_id).await?;
    let team_slug = team_id.and_then(|_| data["assigneeName"].as_str());
    let cause = format!("activity:{activity_id}:at:{now_ms}");
    let notice = Notice {
        kind: WorkflowNotice::Assigned,
        project_id: issue.project_id,
        issue_id,
        event_id: "",
        actor,
        detail: team_slug,
        cause: &cause,
    };
    notices::enqueue(&mut tx.conn(), &notice, &audience, now_ms).await?;
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
