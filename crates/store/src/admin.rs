//! Instance administration (the superuser's admin page): organizations and users in pages by
//! id, each page a bounded read.

use crate::StoreError;
use crate::orgs::OrganizationSummary;
use crate::query::{Conn, Query};

/// An account as the admin page lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserSummary {
    /// Primary key.
    pub id: i64,
    /// Login e-mail.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Sees and manages every organization.
    pub is_superuser: bool,
    /// Disabled accounts cannot log in or use tokens.
    pub is_active: bool,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last password login, epoch ms (`None`: none since logins were recorded).
    pub last_login_at: Option<i64>,
}

/// Up to `limit` organizations with an id above `after`, by id, with their member and project
/// counts.
pub async fn organizations(
    conn: &mut Conn<'_>,
    after: i64,
    limit: i64,
) -> Result<Vec<OrganizationSummary>, StoreError> {
    Ok(Query::new(
        "SELECT o.id, o.slug, o.name, o.created_at, \
         (SELECT COUNT(*) FROM organization_members m WHERE m.organization_id = o.id) \
           AS member_count, \
         (SELECT COUNT(*) FROM projects p WHERE p.organization_id = o.id) AS project_count \
         FROM organizations o WHERE o.id > $1 ORDER BY o.id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Up to `limit` users with an id above `after`, by id.
pub async fn users(
    conn: &mut Conn<'_>,
    after: i64,
    limit: i64,
) -> Result<Vec<UserSummary>, StoreError> {
    Ok(Query::new(
        "SELECT id, email, name, is_superuser, is_active, created_at, last_login_at \
         FROM users WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    user_id: i64,
    slug: String,
}

/// The organization slugs of every user with an id in `first..=last` (one admin page's users),
/// as `(user id, slug)` by user and slug.
pub async fn memberships(
    conn: &mut Conn<'_>,
    first: i64,
    last: i64,
) -> Result<Vec<(i64, String)>, StoreError> {
    let rows: Vec<MembershipRow> = Query::new(
        "SELECT m.user_id, o.slug FROM organization_members m \
         JOIN organizations o ON o.id = m.organization_id \
         WHERE m.user_id >= $1 AND m.user_id <= $2 ORDER BY m.user_id, o.slug",
    )
    .bind(first)
    .bind(last)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.slug)).collect())
}
