//! Organizations and their members.

use errhound_domain::{Membership, Role};

use crate::StoreError;
use crate::query::{Conn, Query};

/// An organization.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Organization {
    /// Primary key.
    pub id: i64,
    /// URL name, unique.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Every member sees every project (Sentry's open membership); otherwise members without
    /// a global role see the projects of their teams.
    pub open_membership: bool,
}

/// Creates an organization ([`StoreError::AlreadyExists`] when the slug is taken).
pub async fn create(
    conn: &mut Conn<'_>,
    slug: &str,
    name: &str,
    now_ms: i64,
) -> Result<Organization, StoreError> {
    Query::new(
        "INSERT INTO organizations (slug, name, created_at) VALUES ($1, $2, $3) \
         RETURNING id, slug, name, created_at, open_membership",
    )
    .bind(slug)
    .bind(name)
    .bind(now_ms)
    .fetch_one(conn)
    .await
    .map_err(StoreError::taken("organization"))
}

/// An organization with the sizes the command line shows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationSummary {
    /// Primary key.
    pub id: i64,
    /// URL name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Members (users with a role in it).
    pub member_count: i64,
    /// Projects.
    pub project_count: i64,
}

/// Every organization by slug, with member and project counts (for the command line).
pub async fn list_all(conn: &mut Conn<'_>) -> Result<Vec<OrganizationSummary>, StoreError> {
    Ok(Query::new(
        "SELECT o.id, o.slug, o.name, o.created_at, \
         (SELECT COUNT(*) FROM organization_members m WHERE m.organization_id = o.id) \
           AS member_count, \
         (SELECT COUNT(*) FROM projects p WHERE p.organization_id = o.id) AS project_count \
         FROM organizations o WHERE o.deleting_at IS NULL ORDER BY o.slug",
    )
    .fetch_all(conn)
    .await?)
}

/// Any organization at all? (false before the first start's bootstrap)
pub async fn exists_any(conn: &mut Conn<'_>) -> Result<bool, StoreError> {
    let row: Option<crate::query::Int> =
        Query::new("SELECT id AS value FROM organizations LIMIT 1")
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

/// The organization with this slug (none once it is pending deletion).
pub async fn find_by_slug(
    conn: &mut Conn<'_>,
    slug: &str,
) -> Result<Option<Organization>, StoreError> {
    Ok(Query::new(
        "SELECT id, slug, name, created_at, open_membership FROM organizations \
         WHERE slug = $1 AND deleting_at IS NULL",
    )
    .bind(slug)
    .fetch_optional(conn)
    .await?)
}

/// Organizations the user belongs to (every organization for a superuser), newest first.
pub async fn list_for_user(
    conn: &mut Conn<'_>,
    user_id: i64,
    superuser: bool,
) -> Result<Vec<Organization>, StoreError> {
    let query = if superuser {
        Query::new(
            "SELECT id, slug, name, created_at, open_membership FROM organizations \
             WHERE deleting_at IS NULL ORDER BY created_at DESC, id DESC",
        )
    } else {
        Query::new(
            "SELECT o.id, o.slug, o.name, o.created_at, o.open_membership FROM organizations o \
             JOIN organization_members m ON m.organization_id = o.id \
             WHERE m.user_id = $1 AND o.deleting_at IS NULL \
             ORDER BY o.created_at DESC, o.id DESC",
        )
        .bind(user_id)
    };
    Ok(query.fetch_all(conn).await?)
}

/// A stored role name as a [`Role`]. Only this code writes roles, so an unknown name means a
/// newer version wrote it; it grants the least (still a member).
pub(crate) fn stored_role(name: &str) -> Role {
    Role::parse(name).unwrap_or(Role::Member)
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    role: String,
}

/// The user's role in the organization, if a member.
pub async fn member_role(
    conn: &mut Conn<'_>,
    organization_id: i64,
    user_id: i64,
) -> Result<Option<Role>, StoreError> {
    let row: Option<RoleRow> = Query::new(
        "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2",
    )
    .bind(organization_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| stored_role(&r.role)))
}

/// The user's membership in the organization (role and teams), if a member.
pub async fn membership(
    conn: &mut Conn<'_>,
    organization_id: i64,
    user_id: i64,
) -> Result<Option<Membership>, StoreError> {
    let Some(role) = member_role(conn, organization_id, user_id).await? else {
        return Ok(None);
    };
    let teams = crate::teams::team_ids_of_user(conn, organization_id, user_id).await?;
    Ok(Some(Membership { role, teams }))
}

/// Sets whether every member sees every project.
pub async fn set_open_membership(
    conn: &mut Conn<'_>,
    organization_id: i64,
    open: bool,
) -> Result<(), StoreError> {
    Query::new("UPDATE organizations SET open_membership = $1 WHERE id = $2")
        .bind(open)
        .bind(organization_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds a member (or changes the role of an existing one).
pub async fn add_member(
    conn: &mut Conn<'_>,
    organization_id: i64,
    user_id: i64,
    role: Role,
    now_ms: i64,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO organization_members (organization_id, user_id, role, created_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(organization_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// The organization with this id (none once it is pending deletion).
pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<Option<Organization>, StoreError> {
    Ok(Query::new(
        "SELECT id, slug, name, created_at, open_membership FROM organizations \
         WHERE id = $1 AND deleting_at IS NULL",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Renames an organization. A slug another organization has is [`StoreError::AlreadyExists`].
pub async fn rename(
    conn: &mut Conn<'_>,
    organization_id: i64,
    name: &str,
    slug: &str,
) -> Result<(), StoreError> {
    Query::new("UPDATE organizations SET name = $1, slug = $2 WHERE id = $3")
        .bind(name)
        .bind(slug)
        .bind(organization_id)
        .execute(conn)
        .await
        .map_err(StoreError::taken("organization"))?;
    Ok(())
}

/// Marks the organization and its projects pending deletion: from now on no read finds them
/// and no DSN key of theirs is accepted; [`crate::deletion::purge_step`] removes their data.
/// The slug is freed at once (a new organization may take it). Returns the public keys of its
/// DSN keys, which the caller must forget from any cache.
pub async fn schedule_deletion(
    conn: &mut Conn<'_>,
    organization_id: i64,
    now_ms: i64,
) -> Result<Vec<String>, StoreError> {
    let keys = crate::deletion::public_keys_of_org(conn, organization_id).await?;
    // `~` is never in a slug, so the freed slug cannot meet one a user chooses.
    Query::new(
        "UPDATE organizations SET deleting_at = $1, slug = $2 \
         WHERE id = $3 AND deleting_at IS NULL",
    )
    .bind(now_ms)
    .bind(format!("~deleted-{organization_id}"))
    .bind(organization_id)
    .execute(conn)
    .await?;
    Query::new(
        "UPDATE projects SET deleting_at = $1 WHERE organization_id = $2 AND deleting_at IS NULL",
    )
    .bind(now_ms)
    .bind(organization_id)
    .execute(conn)
    .await?;
    Ok(keys)
}
