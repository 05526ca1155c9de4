//! The members of an organization through the API: `GET /organizations/{org}/members/`, and one
//! member's detail, role change (`PUT`, `role` or `orgRole`) and removal (`DELETE`), with the
//! store's rules (no role above one's own, an owner always remains).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::{Role, Scope};
use errhound_store::members::{self, MemberError};
use errhound_store::now_ms;
use errhound_store::teams as team_store;
use serde_json::{Value, json};

use super::access::Grant;
use super::issue_extras;
use super::request::{Reply, begin, json_response, parse_body};
use crate::AppState;
use crate::error::ApiError;
use crate::invitations;
use crate::routes::{Routes, Surface};

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    let one = "/organizations/{org}/members/{member}/";
    Routes::new(Surface::Api)
        .get(
            "/organizations/{org}/members/",
            Scope::MemberRead,
            list_members,
        )
        .post(
            "/organizations/{org}/members/",
            Scope::MemberWrite,
            invite_member,
        )
        .get(one, Scope::MemberRead, member_detail)
        .put(one, Scope::MemberWrite, update_member)
        .delete(one, Scope::MemberAdmin, remove_member)
}

impl From<MemberError> for ApiError {
    fn from(error: MemberError) -> ApiError {
        match error {
            MemberError::NotFound => ApiError::not_found(),
            MemberError::AlreadyMember => ApiError::invalid_field("email", error.to_string()),
            MemberError::LastOwner | MemberError::RoleTooHigh => {
                ApiError::new(StatusCode::FORBIDDEN, error.to_string())
            }
            MemberError::Store(error) => ApiError::from(error),
        }
    }
}

/// `GET /api/0/organizations/{org}/members/`: who issues can be assigned to.
pub async fn list_members(State(state): State<AppState>, grant: Grant) -> Reply {
    let mut conn = state.db.read().await?;
    let members = team_store::org_members(&mut conn.conn(), grant.org.id).await?;
    let body: Vec<Value> = members.iter().map(issue_extras::member_json).collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}

/// `POST /api/0/organizations/{org}/members/` with `email`, `role` (or `orgRole`, default
/// `member`) and `teams` (slugs): 201 with the pending member, its `inviteLink`, and whether it
/// was mailed (`inviteMailed`).
pub async fn invite_member(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let Some(email) = body
        .get("email")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|e| e.contains('@') && e.len() <= 254)
    else {
        return Err(ApiError::invalid_field(
            "email",
            "Enter a valid email address.",
        ));
    };
    let role = match body.get("orgRole").or_else(|| body.get("role")) {
        None | Some(Value::Null) => Role::Member,
        Some(value) => value
            .as_str()
            .and_then(Role::parse)
            .ok_or_else(|| ApiError::invalid_field("role", format!("Invalid role: {value}.")))?,
    };
    let mut team_ids = Vec::new();
    let mut conn = state.db.read().await?;
    for slug in body
        .get("teams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let team = match slug.as_str() {
            Some(slug) => team_store::find_by_slug(&mut conn.conn(), grant.org.id, slug).await?,
            None => None,
        };
        let team =
            team.ok_or_else(|| ApiError::invalid_field("teams", format!("Invalid team: {slug}.")))?;
        team_ids.push(team.id);
    }
    drop(conn);
    let invited = invitations::invite(&state, &grant, email, role, &team_ids).await?;
    let i = &invited.invitation;
    Ok(json_response(
        StatusCode::CREATED,
        json!({
            "id": format!("invite-{}", i.id),
            "email": i.email,
            "role": i.role.as_str(),
            "orgRole": i.role.as_str(),
            "pending": true,
            "expired": false,
            "inviteStatus": "approved",
            "inviteLink": invited.link,
            "inviteMailed": invited.mailed,
            "dateCreated": super::views::date(i.created_at),
        }),
    ))
}

fn member_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::not_found())
}

/// `GET /api/0/organizations/{org}/members/{member}/`
pub async fn member_detail(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, member)): Path<(String, String)>,
) -> Reply {
    let mut conn = state.db.read().await?;
    let member = team_store::org_member(&mut conn.conn(), grant.org.id, member_id(&member)?)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(json_response(
        StatusCode::OK,
        issue_extras::member_json(&member),
    ))
}

/// `PUT /api/0/organizations/{org}/members/{member}/` with `{"role": ...}` (or Sentry's newer
/// `orgRole`).
pub async fn update_member(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, member)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let member = member_id(&member)?;
    let body = parse_body(&body)?;
    let Some(name) = body
        .get("orgRole")
        .or_else(|| body.get("role"))
        .and_then(Value::as_str)
    else {
        return Err(ApiError::invalid_field("role", "This field is required."));
    };
    let role = Role::parse(name)
        .ok_or_else(|| ApiError::invalid_field("role", format!("Invalid role: {name}.")))?;
    let mut tx = begin(&state).await?;
    let changed = members::set_role(
        &mut tx.conn(),
        grant.org.id,
        member,
        role,
        grant.role_ceiling(),
        &grant.audit_actor(),
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(organization = %grant.org.slug, member, role = %role, caller = %grant.caller.label(), "member role changed");
    Ok(json_response(
        StatusCode::OK,
        issue_extras::member_json(&changed),
    ))
}

/// `DELETE /api/0/organizations/{org}/members/{member}/`: 204.
pub async fn remove_member(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, member)): Path<(String, String)>,
) -> Reply {
    let member = member_id(&member)?;
    let mut tx = begin(&state).await?;
    members::remove(
        &mut tx.conn(),
        grant.org.id,
        member,
        grant.role_ceiling(),
        &grant.audit_actor(),
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(organization = %grant.org.slug, member, caller = %grant.caller.label(), "member removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}
