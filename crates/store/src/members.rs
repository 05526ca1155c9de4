//! Changing an organization's members: their roles and removal, with the two rules Sentry has —
//! nobody gives or takes away a role above their own, and an organization always keeps an owner.
//! Each change is recorded in the audit log in the same transaction.

use errhound_domain::{AuditAction, Role};
use serde_json::json;

use crate::StoreError;
use crate::audit::{self, Actor};
use crate::query::{Conn, Query};
use crate::teams::{self, OrgMember};

/// Why a change to a member was refused.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// No such member in the organization.
    #[error("member not found")]
    NotFound,
    /// The user is a member already.
    #[error("This user is a member of the organization already.")]
    AlreadyMember,
    /// The change would leave the organization without an owner.
    #[error("An organization must keep at least one owner.")]
    LastOwner,
    /// The acting member's role is below the role involved.
    #[error("You cannot give, change or remove a role above your own.")]
    RoleTooHigh,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for MemberError {
    fn from(error: sqlx::Error) -> MemberError {
        MemberError::Store(error.into())
    }
}

/// Takes the organization's row lock (a no-op update: a row lock on PostgreSQL, the write lock on
/// SQLite), so two concurrent demotions cannot both see the other owner still there.
async fn lock_organization(conn: &mut Conn<'_>, organization_id: i64) -> Result<(), StoreError> {
    Query::new("UPDATE organizations SET slug = slug WHERE id = $1")
        .bind(organization_id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn owner_count(conn: &mut Conn<'_>, organization_id: i64) -> Result<i64, StoreError> {
    let row: crate::query::Int = Query::new(
        "SELECT COUNT(*) AS value FROM organization_members \
         WHERE organization_id = $1 AND role = 'owner'",
    )
    .bind(organization_id)
    .fetch_one(conn)
    .await?;
    Ok(row.value)
}

/// Checks that `ceiling` (the acting member's role; `None` for a superuser or the CLI) reaches
/// every role in `roles`.
fn within(ceiling: Option<Role>, roles: &[Role]) -> Result<(), MemberError> {
    match ceiling {
        Some(mine) if roles.iter().any(|r| !mine.can_grant(*r)) => Err(MemberError::RoleTooHigh),
        _ => Ok(()),
    }
}

/// Locks the organization and loads member `member_id` for a change that takes away their
/// current role (and gives `new_role`, if any): refused above `ceiling`, and when they are the
/// last owner and would stop being one.
async fn member_to_change(
    conn: &mut Conn<'_>,
    organization_id: i64,
    member_id: i64,
    new_role: Option<Role>,
    ceiling: Option<Role>,
) -> Result<OrgMember, MemberError> {
    lock_organization(conn, organization_id).await?;
    let member = teams::org_member(conn, organization_id, member_id)
        .await?
        .ok_or(MemberError::NotFound)?;
    within(ceiling, &[member.role])?;
    within(ceiling, new_role.as_slice())?;
    let stays_owner = new_role == Some(Role::Owner);
    if member.role == Role::Owner && !stays_owner && owner_count(conn, organization_id).await? <= 1
    {
        return Err(MemberError::LastOwner);
    }
    Ok(member)
}

/// Gives member `member_id` of the organization `role`, ending their sessions when it changes.
/// Run it in a transaction.
pub async fn set_role(
    conn: &mut Conn<'_>,
    organization_id: i64,
    member_id: i64,
    role: Role,
    ceiling: Option<Role>,
    actor: &Actor,
    now_ms: i64,
) -> Result<OrgMember, MemberError> {
    let member = member_to_change(conn, organization_id, member_id, Some(role), ceiling).await?;
    if member.role == role {
        return Ok(member);
    }
    Query::new("UPDATE organization_members SET role = $1 WHERE id = $2")
        .bind(role.as_str())
        .bind(member_id)
        .execute(&mut *conn)
        .await?;
    // Their privileges changed: every session they have logs in again.
    crate::sessions::delete_for_user(conn, member.user.id).await?;
    let data =
        json!({"email": member.user.email, "role": role.as_str(), "oldRole": member.role.as_str()});
    audit::record(
        conn,
        organization_id,
        actor,
        AuditAction::MemberEdit,
        Some(member_id),
        &data,
        now_ms,
    )
    .await?;
    Ok(OrgMember { role, ..member })
}

/// Removes member `member_id` from the organization and its teams, ending their sessions. Run it
/// in a transaction.
pub async fn remove(
    conn: &mut Conn<'_>,
    organization_id: i64,
    member_id: i64,
    ceiling: Option<Role>,
    actor: &Actor,
    now_ms: i64,
) -> Result<OrgMember, MemberError> {
    let member = member_to_change(conn, organization_id, member_id, None, ceiling).await?;
    Query::new(
        "DELETE FROM team_members WHERE user_id = $1 \
         AND team_id IN (SELECT id FROM teams WHERE organization_id = $2)",
    )
    .bind(member.user.id)
    .bind(organization_id)
    .execute(conn)
    .await?;
    Query::new("DELETE FROM organization_members WHERE id = $1")
        .bind(member_id)
        .execute(&mut *conn)
        .await?;
    crate::sessions::delete_for_user(conn, member.user.id).await?;
    audit::record(
        conn,
        organization_id,
        actor,
        AuditAction::MemberRemove,
        Some(member_id),
        &json!({"email": member.user.email, "role": member.role.as_str()}),
        now_ms,
    )
    .await?;
    Ok(member)
}
