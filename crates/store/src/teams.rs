//! Teams of an organization, their members, and the organization's member list (who an issue can
//! be assigned to).

use std::collections::HashMap;

use errhound_domain::Role;

use crate::StoreError;
use crate::activity::UserRef;
use crate::query::{Conn, Query};
use crate::workflow::WorkflowError;

/// A team.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Team {
    /// Primary key.
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// URL name, unique within the organization.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Number of members.
    pub member_count: i64,
    /// Number of projects it owns (not counting projects pending deletion).
    pub project_count: i64,
}

const TEAM_COLUMNS: &str = "t.id, t.organization_id, t.slug, t.name, t.created_at, \
    (SELECT COUNT(*) FROM team_members tm WHERE tm.team_id = t.id) AS member_count, \
    (SELECT COUNT(*) FROM project_teams pt JOIN projects p ON p.id = pt.project_id \
     WHERE pt.team_id = t.id AND p.deleting_at IS NULL) AS project_count";

/// Creates a team ([`StoreError::AlreadyExists`] when the slug is taken in the organization).
pub async fn create(
    conn: &mut Conn<'_>,
    organization_id: i64,
    slug: &str,
    name: &str,
    now_ms: i64,
) -> Result<Team, StoreError> {
    let row: crate::query::Int = Query::new(
        "INSERT INTO teams (organization_id, slug, name, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id AS value",
    )
    .bind(organization_id)
    .bind(slug)
    .bind(name)
    .bind(now_ms)
    .fetch_one(conn)
    .await
    .map_err(StoreError::taken("team"))?;
    get(conn, row.value)
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// The team with this id.
pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<Option<Team>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(TEAM_COLUMNS)
        .push(" FROM teams t WHERE t.id = ")
        .push_bind(id);
    Ok(query.fetch_optional(conn).await?)
}

/// The organization's team with this slug.
pub async fn find_by_slug(
    conn: &mut Conn<'_>,
    organization_id: i64,
    slug: &str,
) -> Result<Option<Team>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(TEAM_COLUMNS)
        .push(" FROM teams t WHERE t.organization_id = ")
        .push_bind(organization_id)
        .push(" AND t.slug = ")
        .push_bind(slug);
    Ok(query.fetch_optional(conn).await?)
}

/// The organization's teams, by slug.
pub async fn list_for_org(
    conn: &mut Conn<'_>,
    organization_id: i64,
) -> Result<Vec<Team>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(TEAM_COLUMNS)
        .push(" FROM teams t WHERE t.organization_id = ")
        .push_bind(organization_id)
        .push(" ORDER BY t.slug");
    Ok(query.fetch_all(conn).await?)
}

/// Renames a team. A slug another team of the organization has is
/// [`StoreError::AlreadyExists`].
pub async fn rename(
    conn: &mut Conn<'_>,
    team_id: i64,
    name: &str,
    slug: &str,
) -> Result<(), StoreError> {
    Query::new("UPDATE teams SET name = $1, slug = $2 WHERE id = $3")
        .bind(name)
        .bind(slug)
        .bind(team_id)
        .execute(conn)
        .await
        .map_err(StoreError::taken("team"))?;
    Ok(())
}

/// Deletes a team: its memberships, its ownership of projects (the projects stay) and the
/// issues assigned to it (which become unassigned) go with it.
pub async fn delete(conn: &mut Conn<'_>, team_id: i64) -> Result<(), StoreError> {
    Query::new("DELETE FROM teams WHERE id = $1")
        .bind(team_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The projects the team owns, by slug (not those pending deletion).
pub async fn projects_of_team(
    conn: &mut Conn<'_>,
    team_id: i64,
) -> Result<Vec<crate::projects::Project>, StoreError> {
    Ok(Query::new(
        "SELECT p.id, p.organization_id, p.slug, p.name, p.platform, p.grouping_config, \
         p.events_processed, p.first_event_at, p.created_at \
         FROM project_teams pt JOIN projects p ON p.id = pt.project_id \
         WHERE pt.team_id = $1 AND p.deleting_at IS NULL ORDER BY p.slug",
    )
    .bind(team_id)
    .fetch_all(conn)
    .await?)
}

/// Adds a user to a team. The user must be a member of the team's organization
/// ([`WorkflowError::Invalid`] otherwise). Returns whether they were not a member yet.
pub async fn add_member(
    conn: &mut Conn<'_>,
    team_id: i64,
    user_id: i64,
    now_ms: i64,
) -> Result<bool, WorkflowError> {
    let team = get(conn, team_id)
        .await?
        .ok_or(WorkflowError::NotFound("team"))?;
    if crate::orgs::member_role(conn, team.organization_id, user_id)
        .await?
        .is_none()
    {
        return Err(WorkflowError::Invalid(
            "The user is not a member of the team's organization.".into(),
        ));
    }
    let added = Query::new(
        "INSERT INTO team_members (team_id, user_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (team_id, user_id) DO NOTHING",
    )
    .bind(team_id)
    .bind(user_id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(added > 0)
}

/// Removes a user from a team; returns whether they were a member.
pub async fn remove_member(
    conn: &mut Conn<'_>,
    team_id: i64,
    user_id: i64,
) -> Result<bool, StoreError> {
    let removed = Query::new("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(removed > 0)
}

/// The users of a team.
pub async fn members(conn: &mut Conn<'_>, team_id: i64) -> Result<Vec<UserRef>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        email: String,
        name: String,
    }
    let rows: Vec<Row> = Query::new(
        "SELECT u.id, u.email, u.name FROM team_members tm JOIN users u ON u.id = tm.user_id \
         WHERE tm.team_id = $1 ORDER BY u.email",
    )
    .bind(team_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| UserRef {
            id: r.id,
            email: r.email,
            name: r.name,
        })
        .collect())
}

/// The ids of the organization's teams the user belongs to.
pub async fn team_ids_of_user(
    conn: &mut Conn<'_>,
    organization_id: i64,
    user_id: i64,
) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<crate::query::Int> = Query::new(
        "SELECT t.id AS value FROM team_members tm JOIN teams t ON t.id = tm.team_id \
         WHERE tm.user_id = $1 AND t.organization_id = $2 ORDER BY t.id",
    )
    .bind(user_id)
    .bind(organization_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.value).collect())
}

/// Makes the team an owner of the project (both in one organization; the caller checks).
/// Returns whether it was not an owner yet.
pub async fn add_project(
    conn: &mut Conn<'_>,
    team_id: i64,
    project_id: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let added = Query::new(
        "INSERT INTO project_teams (project_id, team_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id, team_id) DO NOTHING",
    )
    .bind(project_id)
    .bind(team_id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(added > 0)
}

/// Removes the team from the project's owners; returns whether it was one.
pub async fn remove_project(
    conn: &mut Conn<'_>,
    team_id: i64,
    project_id: i64,
) -> Result<bool, StoreError> {
    let removed = Query::new("DELETE FROM project_teams WHERE project_id = $1 AND team_id = $2")
        .bind(project_id)
        .bind(team_id)
        .execute(conn)
        .await?;
    Ok(removed > 0)
}

/// The ids of the teams owning the project.
pub async fn teams_of_project(
    conn: &mut Conn<'_>,
    project_id: i64,
) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<crate::query::Int> = Query::new(
        "SELECT team_id AS value FROM project_teams WHERE project_id = $1 ORDER BY team_id",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.value).collect())
}

/// The ids of the projects owned by any of the teams.
pub async fn projects_of_teams(
    conn: &mut Conn<'_>,
    team_ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = Query::builder();
    query
        .push("SELECT DISTINCT project_id AS value FROM project_teams WHERE team_id IN (")
        .push_bind_list(team_ids.iter().copied())
        .push(") ORDER BY value");
    let rows: Vec<crate::query::Int> = query.fetch_all(conn).await?;
    Ok(rows.into_iter().map(|r| r.value).collect())
}

/// A member of an organization, with the slugs of their teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMember {
    /// The membership id (Sentry's member id).
    pub id: i64,
    /// The organization.
    pub organization_id: i64,
    /// The user.
    pub user: UserRef,
    /// Whether the user account is active.
    pub is_active: bool,
    /// `member`, `admin`, `manager` or `owner`.
    pub role: Role,
    /// When they joined, epoch ms.
    pub created_at: i64,
    /// Slugs of the organization's teams they belong to, sorted.
    pub teams: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: i64,
    organization_id: i64,
    user_id: i64,
    email: String,
    name: String,
    is_active: bool,
    role: String,
    created_at: i64,
}

const MEMBER_SELECT: &str = "SELECT m.id, m.organization_id, m.user_id, u.email, u.name, \
    u.is_active, m.role, m.created_at FROM organization_members m JOIN users u ON u.id = m.user_id";

async fn with_teams(
    conn: &mut Conn<'_>,
    organization_id: i64,
    rows: Vec<MemberRow>,
) -> Result<Vec<OrgMember>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct TeamRow {
        user_id: i64,
        slug: String,
    }
    let mut teams: HashMap<i64, Vec<String>> = HashMap::new();
    if !rows.is_empty() {
        let list: Vec<TeamRow> = Query::new(
            "SELECT tm.user_id, t.slug FROM team_members tm JOIN teams t ON t.id = tm.team_id \
             WHERE t.organization_id = $1 ORDER BY t.slug",
        )
        .bind(organization_id)
        .fetch_all(conn)
        .await?;
        for row in list {
            teams.entry(row.user_id).or_default().push(row.slug);
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| OrgMember {
            id: r.id,
            organization_id: r.organization_id,
            user: UserRef {
                id: r.user_id,
                email: r.email,
                name: r.name,
            },
            is_active: r.is_active,
            role: crate::orgs::stored_role(&r.role),
            created_at: r.created_at,
            teams: teams.remove(&r.user_id).unwrap_or_default(),
        })
        .collect())
}

/// The organization's members, by e-mail.
pub async fn org_members(
    conn: &mut Conn<'_>,
    organization_id: i64,
) -> Result<Vec<OrgMember>, StoreError> {
    let mut query = Query::builder();
    query
        .push(MEMBER_SELECT)
        .push(" WHERE m.organization_id = ")
        .push_bind(organization_id)
        .push(" ORDER BY u.email");
    let rows: Vec<MemberRow> = query.fetch_all(conn).await?;
    with_teams(conn, organization_id, rows).await
}

/// A member of the organization by membership id.
pub async fn org_member(
    conn: &mut Conn<'_>,
    organization_id: i64,
    member_id: i64,
) -> Result<Option<OrgMember>, StoreError> {
    let mut query = Query::builder();
    query
        .push(MEMBER_SELECT)
        .push(" WHERE m.organization_id = ")
        .push_bind(organization_id)
        .push(" AND m.id = ")
        .push_bind(member_id);
    let rows: Vec<MemberRow> = query.fetch_all(conn).await?;
    Ok(with_teams(conn, organization_id, rows).await?.pop())
}

/// A member of the organization by user id or e-mail (case-insensitive): how `assignedTo`
/// names a user.
pub async fn find_org_user(
    conn: &mut Conn<'_>,
    organization_id: i64,
    user: UserLookup<'_>,
) -> Result<Option<UserRef>, StoreError> {
    let mut query = Query::builder();
    query
        .push(MEMBER_SELECT)
        .push(" WHERE m.organization_id = ")
        .push_bind(organization_id);
    match user {
        UserLookup::Id(id) => query.push(" AND u.id = ").push_bind(id),
        UserLookup::Email(email) => query
            .push(" AND u.email = ")
            .push_bind(email.trim().to_lowercase()),
    };
    let row: Option<MemberRow> = query.fetch_optional(conn).await?;
    Ok(row.map(|r| UserRef {
        id: r.user_id,
        email: r.email,
        name: r.name,
    }))
}

/// How to find a user.
#[derive(Debug, Clone, Copy)]
pub enum UserLookup<'a> {
    /// By user id.
    Id(i64),
    /// By e-mail (which is also the username).
    Email(&'a str),
}
