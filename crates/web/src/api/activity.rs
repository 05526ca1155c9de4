//! The activity timeline of an issue through the API: `GET /issues/{id}/activities/` (also
//! under `/organizations/{org}/`), `{"activity": [...]}`.

use crate::routes::{Routes, Surface};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use errhound_domain::Scope;
use errhound_store::activity as activity_store;
use errhound_store::users::User;
use serde_json::{Value, json};

use super::access::{self, ApiUser};
use super::issue_extras;
use super::request::{IssuePath, Reply, json_response};
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

async fn activity_list(
    state: AppState,
    caller: User,
    org_slug: Option<&str>,
    issue_ref: &str,
) -> Reply {
    let (_, _, issue) = access::issue(&state, &caller, org_slug, issue_ref).await?;
    let mut conn = state.db.read().await?;
    let list =
        activity_store::timeline(&mut conn.conn(), issue.id, issue_extras::ACTIVITY_LIMIT).await?;
    let body: Vec<Value> = list.iter().map(issue_extras::activity_json).collect();
    Ok(json_response(StatusCode::OK, json!({ "activity": body })))
}

/// `GET /api/0/issues/{issue}/activities/` (and under `/organizations/{org}/`): the timeline.
pub async fn activities(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(path): Path<IssuePath>,
) -> Reply {
    activity_list(state, user, path.org.as_deref(), &path.issue).await
}
