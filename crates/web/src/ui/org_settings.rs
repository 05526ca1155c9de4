//! Organization settings in the browser: name and slug, deletion (owners, typed confirmation),
//! open membership, the members with their roles and
//! teams (role changes and removal through the same store rules as the API: no role above one's
//! own, an owner always remains), the teams, and the audit log for owners and managers.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use errhound_domain::{AuditAction, Role, Scope};
use errhound_store::{audit, invitations};

use crate::lifecycle::{self, OrgChanges, Rename};

use crate::invitations::Invited;
use errhound_store::members::{self, MemberError};
use errhound_store::now_ms;
use errhound_store::teams::{self, OrgMember, Team};

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::format;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::{UiUser, renew_session};
use crate::AppState;
use crate::api::access::Grant;

/// Entries shown on the audit log page.
const AUDIT_PAGE: i64 = 200;

#[derive(Template, WebTemplate)]
#[template(path = "org_settings.html")]
struct OrgSettingsPage {
    nav: Nav,
    base: String,
    slug: String,
    open_membership: bool,
    members: Vec<OrgMember>,
    teams: Vec<Team>,
    roles: [Role; 4],
    can_edit_org: bool,
    can_delete_org: bool,
    can_manage_members: bool,
    can_remove_members: bool,
    can_read_audit: bool,
    pending: Vec<PendingRow>,
    /// The invitation just made: its link, shown to the inviter, and whether it was mailed.
    invited: Option<(String, String, bool)>,
    mail_configured: bool,
}

/// A pending invitation as listed.
struct PendingRow {
    email: String,
    role: &'static str,
    expires: String,
}

impl OrgSettingsPage {
    fn teams_of(&self, member: &OrgMember) -> String {
        if member.teams.is_empty() {
            "—".to_owned()
        } else {
            member.teams.join(", ")
        }
    }
}

/// An audit entry as shown.
struct AuditRow {
    when: String,
    actor: String,
    address: String,
    action: &'static str,
    details: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit_log.html")]
struct AuditLogPage {
    nav: Nav,
    rows: Vec<AuditRow>,
}

impl From<MemberError> for UiError {
    fn from(error: MemberError) -> UiError {
        match error {
            MemberError::NotFound => UiError::not_found(),
            MemberError::AlreadyMember => UiError::bad_request(error.to_string()),
            MemberError::LastOwner | MemberError::RoleTooHigh => {
                UiError::forbidden(error.to_string())
            }
            MemberError::Store(error) => UiError::from(error),
        }
    }
}

/// `GET /settings/{org}/`
pub async fn page(State(state): State<AppState>, user: UiUser, grant: Grant) -> UiResult {
    render(&state, &user, &grant, None).await
}

async fn render(
    state: &AppState,
    user: &UiUser,
    grant: &Grant,
    invited: Option<Invited>,
) -> UiResult {
    let nav = Nav::new(state, user, &grant.org, "organization", None).await?;
    let mut conn = state.db.read_latest().await?;
    let members = teams::org_members(&mut conn.conn(), grant.org.id).await?;
    let team_list = teams::list_for_org(&mut conn.conn(), grant.org.id).await?;
    let pending = invitations::pending(&mut conn.conn(), grant.org.id)
        .await?
        .iter()
        .map(|i| PendingRow {
            email: i.email.clone(),
            role: i.role.display_name(),
            expires: format::datetime(i.expires_at),
        })
        .collect();
    drop(conn);
    Ok(OrgSettingsPage {
        pending,
        invited: invited.map(|i| (i.invitation.email, i.link, i.mailed)),
        mail_configured: state.mailer.is_some(),
        nav,
        base: format!("/settings/{}/", grant.org.slug),
        slug: grant.org.slug.clone(),
        open_membership: grant.org.open_membership,
        members,
        teams: team_list,
        roles: Role::ALL,
        can_edit_org: grant.access.has(Scope::OrgWrite),
        can_delete_org: grant.access.has(Scope::OrgAdmin),
        can_manage_members: grant.access.has(Scope::MemberWrite),
        can_remove_members: grant.access.has(Scope::MemberAdmin),
        can_read_audit: grant.access.has(Scope::OrgWrite),
    }
    .into_response())
}

/// `POST /settings/{org}/invitations/`: `email`, `role` and the checked `team`s (ids). Answers
/// the page with the invitation's link (the secret is not kept anywhere else).
pub async fn invite(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let email = form
        .text("email")
        .map(str::trim)
        .filter(|e| e.contains('@') && e.len() <= 254)
        .ok_or_else(|| UiError::bad_request("Enter the e-mail address to invite."))?;
    let role = form
        .text("role")
        .and_then(Role::parse)
        .ok_or_else(|| UiError::bad_request("Choose a role."))?;
    let mut conn = state.db.read().await?;
    let known: Vec<i64> = teams::list_for_org(&mut conn.conn(), grant.org.id)
        .await?
        .iter()
        .map(|t| t.id)
        .collect();
    drop(conn);
    let mut team_ids = Vec::new();
    for id in form.all("team") {
        match id.parse::<i64>() {
            Ok(id) if known.contains(&id) => team_ids.push(id),
            _ => return Err(UiError::bad_request("Unknown team.")),
        }
    }
    let invited = crate::invitations::invite(&state, &grant, email, role, &team_ids).await?;
    render(&state, &user, &grant, Some(invited)).await
}

/// `POST /settings/{org}/`: `open_membership` (a checkbox).
pub async fn update(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let changes = OrgChanges {
        open_membership: Some(form.text("open_membership") == Some("on")),
        ..OrgChanges::default()
    };
    let org = lifecycle::edit_org(&state, &grant, &changes).await?;
    flash_redirect(
        &user.session,
        "Organization saved.",
        &format!("/settings/{}/", org.slug),
    )
    .await
}

/// `POST /settings/{org}/rename/`: `name`, `slug`; answers with the page under the new slug.
pub async fn rename(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let changes = OrgChanges {
        rename: Rename {
            name: form.text("name").map(str::to_owned),
            slug: form.text("slug").map(str::to_lowercase),
        },
        open_membership: None,
    };
    let org = lifecycle::edit_org(&state, &grant, &changes).await?;
    flash_redirect(
        &user.session,
        "Organization renamed.",
        &format!("/settings/{}/", org.slug),
    )
    .await
}

/// `POST /settings/{org}/delete/`: deletes the organization (owners) once `confirm` holds its
/// slug (checked here, not in the browser).
pub async fn delete(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    super::settings::confirmed(&FormData::parse(&body), &grant.org.slug)?;
    lifecycle::delete_org(&state, &grant).await?;
    flash_redirect(
        &user.session,
        &format!("Organization {} deleted.", grant.org.slug),
        "/",
    )
    .await
}

/// `POST /settings/{org}/members/{member}/`: `action` = `role` (with `role`) or `remove`.
pub async fn member_action(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path((_, member)): Path<(String, i64)>,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let (affected, message) = match form.text("action").unwrap_or("") {
        "role" => {
            let role = form
                .text("role")
                .and_then(Role::parse)
                .ok_or_else(|| UiError::bad_request("Choose a role."))?;
            let changed = members::set_role(
                &mut tx.conn(),
                grant.org.id,
                member,
                role,
                grant.role_ceiling(),
                &grant.audit_actor(),
                now,
            )
            .await?;
            (
                changed.user.id,
                format!("{} is now {}.", changed.user.email, role.display_name()),
            )
        }
        "remove" if grant.access.has(Scope::MemberAdmin) => {
            let removed = members::remove(
                &mut tx.conn(),
                grant.org.id,
                member,
                grant.role_ceiling(),
                &grant.audit_actor(),
                now,
            )
            .await?;
            (
                removed.user.id,
                format!("{} was removed from the organization.", removed.user.email),
            )
        }
        "remove" => {
            return Err(UiError::forbidden(
                "Only managers and owners remove members.",
            ));
        }
        other => return Err(UiError::bad_request(format!("Unknown action {other:?}."))),
    };
    tx.commit().await?;
    // The change ended every session of the member (`store::members`); when that is the
    // caller, this browser continues under a new session id.
    if affected == user.user.id {
        renew_session(&user.session).await?;
    }
    flash_redirect(
        &user.session,
        &message,
        &format!("/settings/{}/#members", grant.org.slug),
    )
    .await
}

/// `GET /settings/{org}/audit-log/`: the newest entries.
pub async fn audit_log(State(state): State<AppState>, user: UiUser, grant: Grant) -> UiResult {
    let nav = Nav::new(&state, &user, &grant.org, "organization", None).await?;
    let mut conn = state.db.read().await?;
    let entries = audit::list(&mut conn.conn(), grant.org.id, None, AUDIT_PAGE).await?;
    drop(conn);
    let rows = entries
        .iter()
        .map(|e| AuditRow {
            when: format::datetime(e.created_at),
            actor: e.actor.label.clone(),
            address: e.actor.ip_address.clone().unwrap_or_default(),
            action: e.action.map_or("unknown", AuditAction::as_str),
            details: e.data.to_string(),
        })
        .collect();
    Ok(AuditLogPage { nav, rows }.into_response())
}
