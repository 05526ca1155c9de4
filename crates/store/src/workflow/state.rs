//! Reads: the workflow state shown beside issues.

use std::collections::HashMap;

use errhound_domain::IssueStatus;

use super::assignment::Assignee;
use super::resolution::ResolutionKind;
use crate::StoreError;
use crate::activity::{self, UserRef};
use crate::issues::Issue;
use crate::query::{Conn, Int, Query};

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
        .filter(|i| i.status == IssueStatus::Resolved)
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
        .filter(|i| i.status == IssueStatus::Ignored)
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
