//! Organizations and their projects.

use axum::Json;
use axum::extract::{Path, State};
use errhound_store::{orgs as org_store, projects};
use serde_json::Value;

use super::access::{self, ApiUser};
use super::views;
use crate::AppState;
use crate::error::ApiError;

/// `GET /api/0/organizations/`
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<Value>>, ApiError> {
    let mut conn = state.db.read().await?;
    let orgs = org_store::list_for_user(&mut conn.conn(), user.id, user.is_superuser).await?;
    let public_url = state.config.public_url();
    Ok(Json(
        orgs.iter()
            .map(|o| views::organization(o, &public_url))
            .collect(),
    ))
}

/// `GET /api/0/organizations/{org}/`
pub async fn detail(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(org): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = access::organization(&state, &user, &org).await?;
    Ok(Json(views::organization(&org, &state.config.public_url())))
}

/// `GET /api/0/organizations/{org}/projects/`
pub async fn projects(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(org): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let org = access::organization(&state, &user, &org).await?;
    let mut conn = state.db.read().await?;
    let list = projects::list_for_org(&mut conn.conn(), org.id).await?;
    Ok(Json(list.iter().map(views::project).collect()))
}
