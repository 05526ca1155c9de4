//! The members of an organization through the API: `GET /organizations/{org}/members/`.

use crate::routes::{Routes, Surface};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use errhound_domain::Scope;
use errhound_store::teams as team_store;
use serde_json::Value;

use super::access::{self, ApiUser};
use super::issue_extras;
use super::request::{Reply, json_response};
use crate::AppState;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    Routes::new(Surface::Api).get(
        "/organizations/{org}/members/",
        Scope::MemberRead,
        list_members,
    )
}

/// `GET /api/0/organizations/{org}/members/`: who issues can be assigned to.
pub async fn list_members(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(org): Path<String>,
) -> Reply {
    let org = access::organization(&state, &user, &org).await?;
    let mut conn = state.db.read().await?;
    let members = team_store::org_members(&mut conn.conn(), org.id).await?;
    let body: Vec<Value> = members.iter().map(issue_extras::member_json).collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}
