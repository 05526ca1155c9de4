//! Events: an issue's events (list, latest, oldest, by id) and a project's event by id.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use errhound_store::events::{self as event_store, StoredEvent};
use errhound_store::issues::Issue;
use serde_json::Value;

use super::access::Grant;
use super::pagination::{Cursor, MAX_PER_PAGE, finish_page, link_header, page_for};
use super::params::Params;
use super::request::{EventPath, Reply};
use super::views;
use crate::AppState;
use crate::error::ApiError;

async fn decode(state: &AppState, stored: &StoredEvent) -> Result<Value, ApiError> {
    let mut conn = state.db.read().await?;
    state
        .dictionaries
        .decode_json(&mut conn.conn(), &stored.data)
        .await
        .map_err(ApiError::internal)
}

async fn render_list(
    state: &AppState,
    issue: &Issue,
    params: &Params,
    path: &str,
) -> Result<Response, ApiError> {
    let per_page = params.per_page(MAX_PER_PAGE)?;
    let cursor = Cursor::parse(params.get("cursor"))?;
    let full = params.flag("full");
    let mut conn = state.db.read().await?;
    let rows = event_store::list_for_issue(
        &mut conn.conn(),
        issue.id,
        page_for(cursor),
        per_page as i64 + 1,
    )
    .await?;
    let (rows, links) = finish_page(rows, per_page, cursor, |e: &StoredEvent| {
        (e.timestamp, e.id)
    });
    drop(conn);
    let mut body = Vec::with_capacity(rows.len());
    for stored in &rows {
        let data = decode(state, stored).await?;
        body.push(if full {
            views::event_full(stored, &data)
        } else {
            views::event_summary(stored, &data)
        });
    }
    let link = link_header(
        &format!("{}{path}", state.config.public_url()),
        params.raw(),
        &links,
    );
    Ok(([link], Json(body)).into_response())
}

/// `GET /api/0/issues/{issue}/events/` (`full=1` for whole events)
pub async fn list(State(state): State<AppState>, grant: Grant, params: Params) -> Reply {
    let issue = grant.issue()?;
    let path = format!("/api/0/issues/{}/events/", issue.id);
    render_list(&state, issue, &params, &path).await
}

/// `GET /api/0/organizations/{org}/issues/{issue}/events/`
pub async fn list_in_org(State(state): State<AppState>, grant: Grant, params: Params) -> Reply {
    let issue = grant.issue()?;
    let path = format!(
        "/api/0/organizations/{}/issues/{}/events/",
        grant.org.slug, issue.id
    );
    render_list(&state, issue, &params, &path).await
}

/// The full event plus links to its neighbours in the issue.
async fn render_detail(state: &AppState, stored: &StoredEvent) -> Result<Json<Value>, ApiError> {
    let data = decode(state, stored).await?;
    let mut body = views::event_full(stored, &data);
    let mut conn = state.db.read().await?;
    let (previous, next) = event_store::neighbours(&mut conn.conn(), stored).await?;
    body["previousEventID"] = previous.map_or(Value::Null, Value::from);
    body["nextEventID"] = next.map_or(Value::Null, Value::from);
    body["userReport"] = Value::Null;
    body["sdkUpdates"] = Value::Array(vec![]);
    body["resolvedWith"] = Value::Array(vec![]);
    Ok(Json(body))
}

/// `latest`, `oldest`, `recommended` (the latest here) or an event id, within an issue.
async fn find_issue_event(
    state: &AppState,
    issue: &Issue,
    event_ref: &str,
) -> Result<StoredEvent, ApiError> {
    let mut conn = state.db.read().await?;
    let found = match event_ref {
        "latest" | "recommended" => {
            event_store::edge_of_issue(&mut conn.conn(), issue.id, true).await?
        }
        "oldest" => event_store::edge_of_issue(&mut conn.conn(), issue.id, false).await?,
        id => {
            let id = errhound_protocol::EventId::parse(id).map_err(|_| ApiError::not_found())?;
            event_store::find(&mut conn.conn(), issue.project_id, &id.to_simple())
                .await?
                .filter(|e| e.issue_id == issue.id)
        }
    };
    found.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "No matching event found. Try changing the environments, date range, or query.",
        )
    })
}

/// `GET /api/0/issues/{issue}/events/{latest|oldest|recommended|event_id}/` (and under
/// `/organizations/{org}/`).
pub async fn issue_event(
    State(state): State<AppState>,
    grant: Grant,
    Path(path): Path<EventPath>,
) -> Result<Json<Value>, ApiError> {
    let stored = find_issue_event(&state, grant.issue()?, &path.event).await?;
    render_detail(&state, &stored).await
}

async fn find_project_event(
    state: &AppState,
    grant: &Grant,
    event: &str,
) -> Result<StoredEvent, ApiError> {
    let project = grant.project()?;
    let not_found = || ApiError::new(axum::http::StatusCode::NOT_FOUND, "Event not found");
    let id = errhound_protocol::EventId::parse(event).map_err(|_| not_found())?;
    let mut conn = state.db.read().await?;
    event_store::find(&mut conn.conn(), project.id, &id.to_simple())
        .await?
        .ok_or_else(not_found)
}

/// `GET /api/0/projects/{org}/{project}/events/{event_id}/`
pub async fn project_event(
    State(state): State<AppState>,
    grant: Grant,
    Path(path): Path<EventPath>,
) -> Result<Json<Value>, ApiError> {
    let stored = find_project_event(&state, &grant, &path.event).await?;
    render_detail(&state, &stored).await
}

/// `GET /api/0/projects/{org}/{project}/events/{event_id}/json/`: the stored normalized event.
pub async fn project_event_json(
    State(state): State<AppState>,
    grant: Grant,
    Path(path): Path<EventPath>,
) -> Result<Json<Value>, ApiError> {
    let stored = find_project_event(&state, &grant, &path.event).await?;
    Ok(Json(decode(&state, &stored).await?))
}
