//! Comments on an issue through the API (Sentry's notes): `GET`/`POST /issues/{id}/notes/`
//! (alias `comments`, also under `/organizations/{org}/`), `PUT`/`DELETE .../notes/{note}/`.

use crate::routes::{Routes, Surface};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::Scope;
use errhound_store::activity as activity_store;
use errhound_store::now_ms;
use errhound_store::workflow;
use serde_json::{Map, Value};

use super::access::{ApiUser, Grant};
use super::issue_extras;
use super::pagination::{Cursor, MAX_PER_PAGE, finish_page, link_header, page_for};
use super::params::Params;
use super::request::{IssuePath, Reply, begin, json_response, parse_body};
use crate::AppState;
use crate::error::ApiError;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    let mut r = Routes::new(Surface::Api);
    for prefix in ["/issues/{issue}", "/organizations/{org}/issues/{issue}"] {
        for name in ["notes", "comments"] {
            let list = format!("{prefix}/{name}/");
            let one = format!("{prefix}/{name}/{{note}}/");
            r = r
                .get(&list, Scope::EventRead, list_notes)
                .post(&list, Scope::EventWrite, add_note)
                .put(&one, Scope::EventWrite, edit_note)
                .delete(&one, Scope::EventWrite, delete_note);
        }
    }
    r
}

fn note_text(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("text") {
        None | Some(Value::Null) => Err(ApiError::invalid_field("text", "This field is required.")),
        Some(Value::String(text)) if text.trim().is_empty() => Err(ApiError::invalid_field(
            "text",
            "This field may not be blank.",
        )),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(ApiError::invalid_field("text", "Not a valid string.")),
    }
}

fn comment_error(error: workflow::WorkflowError) -> ApiError {
    match error {
        // Sentry answers a repeated comment with 400.
        workflow::WorkflowError::Conflict(message) => {
            ApiError::new(StatusCode::BAD_REQUEST, message)
        }
        workflow::WorkflowError::Invalid(message) => {
            let message = message
                .strip_prefix("text: ")
                .map(str::to_owned)
                .unwrap_or(message);
            ApiError::invalid_field("text", message)
        }
        other => ApiError::from(other),
    }
}

fn note_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().map_err(|_| ApiError::not_found())
}

/// `GET /api/0/issues/{issue}/notes/` (and under `/organizations/{org}/`): comments, newest first
/// (paginated).
pub async fn list_notes(
    State(state): State<AppState>,
    grant: Grant,
    Path(path): Path<IssuePath>,
    params: Params,
) -> Reply {
    let issue = grant.issue()?;
    let per_page = params.per_page(MAX_PER_PAGE)?;
    let cursor = Cursor::parse(params.get("cursor"))?;
    let mut conn = state.db.read().await?;
    let rows = activity_store::comments(
        &mut conn.conn(),
        issue.id,
        page_for(cursor),
        per_page as i64 + 1,
    )
    .await?;
    let (rows, links) = finish_page(rows, per_page, cursor, |a| (a.created_at, a.id));
    let issue_ref = &path.issue;
    let path = match path.org {
        Some(org) => format!("/api/0/organizations/{org}/issues/{issue_ref}/notes/"),
        None => format!("/api/0/issues/{issue_ref}/notes/"),
    };
    let link = link_header(
        &format!("{}{path}", state.config.public_url()),
        params.raw(),
        &links,
    );
    let body: Vec<Value> = rows.iter().map(issue_extras::activity_json).collect();
    Ok(([link], axum::Json(body)).into_response())
}

/// `POST /api/0/issues/{issue}/notes/` (and under `/organizations/{org}/`) with
/// `{"text": "..."}`: 201 and the note.
pub async fn add_note(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    body: Bytes,
) -> Reply {
    let issue = grant.issue()?;
    let body = parse_body(&body)?;
    let text = note_text(&body)?;
    let mut tx = begin(&state).await?;
    let note = activity_store::add_comment(&mut tx, issue.id, user.id, &text, now_ms())
        .await
        .map_err(comment_error)?;
    tx.commit().await?;
    Ok(json_response(
        StatusCode::CREATED,
        issue_extras::activity_json(&note),
    ))
}

/// `PUT /api/0/issues/{issue}/notes/{note}/` with `{"text": "..."}` (the author only).
pub async fn edit_note(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    Path(path): Path<IssuePath>,
    body: Bytes,
) -> Reply {
    let issue = grant.issue()?;
    let note = note_id(path.note())?;
    let body = parse_body(&body)?;
    let text = note_text(&body)?;
    let mut tx = begin(&state).await?;
    let note = activity_store::edit_comment(&mut tx, issue.id, note, user.id, &text, now_ms())
        .await
        .map_err(comment_error)?;
    tx.commit().await?;
    Ok(json_response(
        StatusCode::OK,
        issue_extras::activity_json(&note),
    ))
}

/// `DELETE /api/0/issues/{issue}/notes/{note}/` (the author only): 204.
pub async fn delete_note(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    Path(path): Path<IssuePath>,
) -> Reply {
    let issue = grant.issue()?;
    let note = note_id(path.note())?;
    let mut tx = begin(&state).await?;
    activity_store::delete_comment(&mut tx, issue.id, note, user.id)
        .await
        .map_err(comment_error)?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
