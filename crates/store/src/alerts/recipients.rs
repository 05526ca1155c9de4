//! Who an alert about a project may reach: the active members of the project's teams who did
//! not turn alerts off for the project (and, for a workflow notice, did not turn those off).
//! Narrower targets (a team, a member) are intersected with this set, so no one ever receives
//! data of a project they cannot see.

use crate::StoreError;
use crate::query::{Conn, Query};

/// A person an alert may reach.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Reachable {
    /// Their user id.
    pub user_id: i64,
    /// Their e-mail address.
    pub email: String,
    /// Their name.
    pub name: String,
}

/// Who to reach within the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// Everyone the project's alerts may reach.
    Project,
    /// Those of them on this team.
    Team(i64),
    /// This user, if they are one of them.
    User(i64),
}

/// What is sent, for the switches that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An alert rule's notification.
    Alert,
    /// A workflow notice (also off for those who turned workflow notices off).
    Workflow,
}

/// The people `within` the project a message for `purpose` may reach, by user id.
pub async fn reachable(
    conn: &mut Conn<'_>,
    project_id: i64,
    within: Within,
    purpose: Purpose,
) -> Result<Vec<Reachable>, StoreError> {
    let (team, user) = match within {
        Within::Project => (0, 0),
        Within::Team(id) => (id, 0),
        Within::User(id) => (0, id),
    };
    let workflow: i64 = match purpose {
        Purpose::Alert => 0,
        Purpose::Workflow => 1,
    };
    // Ids start at 1, so 0 means "no narrowing".
    Ok(Query::new(
        "SELECT DISTINCT u.id AS user_id, u.email, u.name FROM users u \
         JOIN team_members tm ON tm.user_id = u.id \
         JOIN project_teams pt ON pt.team_id = tm.team_id AND pt.project_id = $1 \
         JOIN projects p ON p.id = pt.project_id \
         JOIN organization_members om ON om.organization_id = p.organization_id \
         AND om.user_id = u.id \
         WHERE u.is_active AND p.deleting_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM user_project_alerts upa WHERE upa.user_id = u.id \
         AND upa.project_id = $1 AND NOT upa.enabled) \
         AND ($2 = 0 OR EXISTS (SELECT 1 FROM team_members t2 WHERE t2.user_id = u.id \
         AND t2.team_id = $2)) \
         AND ($3 = 0 OR u.id = $3) \
         AND ($4 = 0 OR NOT EXISTS (SELECT 1 FROM user_notification_options uno \
         WHERE uno.user_id = u.id AND NOT uno.workflow)) \
         ORDER BY user_id",
    )
    .bind(project_id)
    .bind(team)
    .bind(user)
    .bind(workflow)
    .fetch_all(conn)
    .await?)
}
