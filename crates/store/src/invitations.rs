//! Invitations to join an organization: made by a member who may manage members (for a role no
//! higher than their own), sent as a link with a secret (stored hashed), accepted once before
//! they expire, by the account with the invited e-mail.

use errhound_domain::{AuditAction, Role};
use serde_json::json;

use crate::StoreError;
use crate::audit::{self, Actor};
use crate::link_secret;
use crate::members::MemberError;
use crate::query::{Conn, Query};

/// How long an invitation can be accepted.
pub const VALID_FOR_MS: i64 = 7 * 24 * 3600 * 1000;

/// An invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// Row id (in the link).
    pub id: i64,
    /// The organization.
    pub organization_id: i64,
    /// Who is invited (lowercase).
    pub email: String,
    /// The role they get.
    pub role: Role,
    /// The teams they join.
    pub team_ids: Vec<i64>,
    /// Who invited them.
    pub inviter_user_id: Option<i64>,
    /// When, epoch ms.
    pub created_at: i64,
    /// Until when it can be accepted, epoch ms.
    pub expires_at: i64,
    /// When it was accepted.
    pub accepted_at: Option<i64>,
}

/// A new invitation and the secret of its link (shown to the inviter, mailed to the invitee).
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// The invitation.
    pub invitation: Invitation,
    /// The link's secret.
    pub secret: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    organization_id: i64,
    email: String,
    role: String,
    team_ids: String,
    inviter_user_id: Option<i64>,
    created_at: i64,
    expires_at: i64,
    accepted_at: Option<i64>,
}

impl From<Row> for Invitation {
    fn from(r: Row) -> Invitation {
        Invitation {
            id: r.id,
            organization_id: r.organization_id,
            email: r.email,
            role: crate::orgs::stored_role(&r.role),
            team_ids: serde_json::from_str(&r.team_ids).unwrap_or_default(),
            inviter_user_id: r.inviter_user_id,
            created_at: r.created_at,
            expires_at: r.expires_at,
            accepted_at: r.accepted_at,
        }
    }
}

const COLUMNS: &str = "id, organization_id, email, role, team_ids, inviter_user_id, created_at, \
    expires_at, accepted_at";

/// Invites `email` to the organization with `role` and `team_ids` (teams of the organization;
/// the caller checks). `ceiling` is the inviter's role (`None`: no limit).
#[allow(clippy::too_many_arguments)]
pub async fn create(
    conn: &mut Conn<'_>,
    organization_id: i64,
    email: &str,
    role: Role,
    team_ids: &[i64],
    ceiling: Option<Role>,
    actor: &Actor,
    now_ms: i64,
) -> Result<NewInvitation, MemberError> {
    if ceiling.is_some_and(|mine| !mine.can_grant(role)) {
        return Err(MemberError::RoleTooHigh);
    }
    let email = email.trim().to_lowercase();
    let member: Option<crate::query::Int> = Query::new(
        "SELECT m.id AS value FROM organization_members m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND u.email = $2",
    )
    .bind(organization_id)
    .bind(email.as_str())
    .fetch_optional(conn)
    .await
    .map_err(StoreError::from)?;
    if member.is_some() {
        return Err(MemberError::AlreadyMember);
    }
    let (secret, hash) = link_secret::mint();
    let teams = serde_json::to_string(team_ids).unwrap_or_else(|_| "[]".into());
    let row: Row = Query::new(
        "INSERT INTO invitations (organization_id, email, role, team_ids, token_hash, \
         inviter_user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id, organization_id, email, role, team_ids, inviter_user_id, created_at, \
         expires_at, accepted_at",
    )
    .bind(organization_id)
    .bind(email.as_str())
    .bind(role.as_str())
    .bind(teams)
    .bind(hash)
    .bind(actor.user_id)
    .bind(now_ms)
    .bind(now_ms + VALID_FOR_MS)
    .fetch_one(conn)
    .await
    .map_err(StoreError::from)?;
    let invitation = Invitation::from(row);
    audit::record(
        conn,
        organization_id,
        actor,
        AuditAction::MemberInvite,
        Some(invitation.id),
        &json!({"email": email, "role": role.as_str()}),
        now_ms,
    )
    .await?;
    Ok(NewInvitation { invitation, secret })
}

/// The invitation `id` if `secret` is its link's and it is neither used nor expired.
pub async fn find_valid(
    conn: &mut Conn<'_>,
    id: i64,
    secret: &str,
    now_ms: i64,
) -> Result<Option<Invitation>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(COLUMNS)
        .push(" FROM invitations WHERE id = ")
        .push_bind(id)
        .push(" AND token_hash = ")
        .push_bind(link_secret::hash(secret))
        .push(" AND accepted_at IS NULL AND expires_at > ")
        .push_bind(now_ms);
    let row: Option<Row> = query.fetch_optional(conn).await?;
    Ok(row.map(Invitation::from))
}

/// The organization's invitations not accepted yet (expired ones included), newest first.
pub async fn pending(
    conn: &mut Conn<'_>,
    organization_id: i64,
) -> Result<Vec<Invitation>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(COLUMNS)
        .push(" FROM invitations WHERE accepted_at IS NULL AND organization_id = ")
        .push_bind(organization_id)
        .push(" ORDER BY id DESC");
    let rows: Vec<Row> = query.fetch_all(conn).await?;
    Ok(rows.into_iter().map(Invitation::from).collect())
}

/// Accepts the invitation for `user_id` (whose e-mail the caller checked): they become a member
/// with its role, on its teams; the invitation is used up. Run it in a transaction.
pub async fn accept(
    conn: &mut Conn<'_>,
    invitation: &Invitation,
    user_id: i64,
    actor: &Actor,
    now_ms: i64,
) -> Result<(), MemberError> {
    // Used once: a second accept (a double click, a replayed link) changes nothing.
    let used =
        Query::new("UPDATE invitations SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL")
            .bind(now_ms)
            .bind(invitation.id)
            .execute(conn)
            .await
            .map_err(StoreError::from)?;
    if used == 0 {
        return Err(MemberError::NotFound);
    }
    if crate::orgs::member_role(conn, invitation.organization_id, user_id)
        .await?
        .is_some()
    {
        return Err(MemberError::AlreadyMember);
    }
    crate::orgs::add_member(
        conn,
        invitation.organization_id,
        user_id,
        invitation.role,
        now_ms,
    )
    .await?;
    for team in &invitation.team_ids {
        Query::new(
            "INSERT INTO team_members (team_id, user_id, created_at) \
             SELECT id, $1, $2 FROM teams WHERE id = $3 AND organization_id = $4 \
             ON CONFLICT (team_id, user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(now_ms)
        .bind(*team)
        .bind(invitation.organization_id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?;
    }
    audit::record(
        conn,
        invitation.organization_id,
        actor,
        AuditAction::MemberAcceptInvite,
        Some(invitation.id),
        &json!({"email": invitation.email, "role": invitation.role.as_str()}),
        now_ms,
    )
    .await?;
    Ok(())
}
