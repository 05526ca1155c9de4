//! The activity timeline of an issue through the API: `GET /issues/{id}/activities/` (also
//! under `/organizations/{org}/`), `{"activity": [...]}`.

use crate::routes::{Routes, Surface};
use axum::extract::State;
use axum::http::StatusCode;
use errhound_domain::Scope;
use errhound_store::activity as activity_store;
use serde_json::{Value, json};

use super::access::Grant;
use super::issue_extras;
use super::request::{Reply, json_response};
use crate::AppState;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    Routes::new(Surface::Api)
        .get("/issues/{issue}/activities/", Scope::EventRead, activities)
        .get(
            "/organizations/{org}/issues/{issue}/activities/",
            Scope::EventRead,
            activities,
        )
}

/// `GET /api/0/issues/{issue}/activities/` (and under `/organizations/{org}/`): the timeline.
pub async fn activities(State(state): State<AppState>, grant: Grant) -> Reply {
    let issue = grant.issue()?;
    let mut conn = state.db.read().await?;
    let list =
        activity_store::timeline(&mut conn.conn(), issue.id, issue_extras::ACTIVITY_LIMIT).await?;
    let body: Vec<Value> = list.iter().map(issue_extras::activity_json).collect();
    Ok(json_response(StatusCode::OK, json!({ "activity": body })))
}
