//! Organizations and their projects.

use axum::Json;
use axum::extract::State;
use errhound_store::orgs as org_store;
use serde_json::{Value, json};

use axum::body::Bytes;
use axum::http::StatusCode;

use errhound_domain::Role;
use errhound_store::now_ms;

use super::access::{self, ApiUser, Caller, Grant};
use super::request::{Reply, begin, json_response, name_and_slug, parse_body};
use super::views;
use crate::AppState;
use crate::error::ApiError;
use crate::lifecycle::{self, OrgChanges, Rename};

/// `GET /api/0/organizations/`: the caller's organizations (an organization token's own).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let mut conn = state.db.read().await?;
    let orgs = match &caller {
        Caller::User { user, .. } => {
            org_store::list_for_user(&mut conn.conn(), user.id, user.is_superuser).await?
        }
        Caller::Organization(token) => org_store::get(&mut conn.conn(), token.organization_id)
            .await?
            .into_iter()
            .collect(),
    };
    let public_url = state.config.public_url();
    Ok(Json(
        orgs.iter()
            .map(|o| views::organization(o, &public_url))
            .collect(),
    ))
}

/// `POST /api/0/organizations/` with `{"name", "slug"?}` (superusers: organizations are the
/// instance's to create): 201 and the organization, with the caller as its owner.
pub async fn create(State(state): State<AppState>, ApiUser(user): ApiUser, body: Bytes) -> Reply {
    let (name, slug) = name_and_slug(&parse_body(&body)?, true)?;
    let now = now_ms();
    let mut tx = begin(&state).await?;
    let org = match org_store::create(&mut tx.conn(), &slug, &name, now).await {
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "An organization with this slug already exists.",
            ));
        }
        other => other?,
    };
    org_store::add_member(&mut tx.conn(), org.id, user.id, Role::Owner, now).await?;
    tx.commit().await?;
    tracing::info!(organization = %org.slug, user.id = user.id, "organization created");
    Ok(json_response(
        StatusCode::CREATED,
        views::organization(&org, &state.config.public_url()),
    ))
}

/// `GET /api/0/organizations/{org}/`
pub async fn detail(State(state): State<AppState>, grant: Grant) -> Json<Value> {
    Json(views::organization(&grant.org, &state.config.public_url()))
}

/// `PUT /api/0/organizations/{org}/` with `name`, `slug` (as at creation; 409 when taken) and
/// `openMembership` (whether every member sees every project): 200 and the organization,
/// under its new slug.
pub async fn update(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let open_membership = match body.get("openMembership") {
        None => None,
        Some(value) => Some(value.as_bool().ok_or_else(|| {
            ApiError::invalid_field("openMembership", "Must be a valid boolean.")
        })?),
    };
    let changes = OrgChanges {
        rename: Rename::from_json(&body)?,
        open_membership,
    };
    let org = lifecycle::edit_org(&state, &grant, &changes).await?;
    Ok(json_response(
        StatusCode::OK,
        views::organization(&org, &state.config.public_url()),
    ))
}

/// `DELETE /api/0/organizations/{org}/` (owners): 202 and the organization, pending deletion.
/// It is gone from every read and its DSN keys are refused at once; its data goes in the
/// background.
pub async fn remove(State(state): State<AppState>, grant: Grant) -> Reply {
    lifecycle::delete_org(&state, &grant).await?;
    let mut body = views::organization(&grant.org, &state.config.public_url());
    body["status"] = json!({"id": "pending_deletion", "name": "pending deletion"});
    Ok(json_response(StatusCode::ACCEPTED, body))
}

/// `GET /api/0/organizations/{org}/projects/`: the projects the caller reaches.
pub async fn projects(
    State(state): State<AppState>,
    grant: Grant,
) -> Result<Json<Vec<Value>>, ApiError> {
    let mut conn = state.db.read().await?;
    let list = access::visible_projects(&mut conn.conn(), &grant.access, &grant.org).await?;
    Ok(Json(list.iter().map(views::project).collect()))
}
