//! What the API's handlers share: the issue a route names, the JSON body, the reply.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use errhound_domain::slug::{INVALID_SLUG_MESSAGE, is_valid_slug, slugify};
use errhound_store::Tx;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;

/// The issue a route names, `/issues/{issue}/...` or `/organizations/{org}/issues/{issue}/...`
/// (one handler serves both), and the comment of the comment routes.
#[derive(Debug, Deserialize)]
pub struct IssuePath {
    #[serde(default)]
    pub org: Option<String>,
    pub issue: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// The `{event}` of an event's path (an event id, or `latest`, `oldest`, `recommended`).
#[derive(Debug, Deserialize)]
pub struct EventPath {
    pub event: String,
}

impl IssuePath {
    pub fn note(&self) -> &str {
        self.note.as_deref().unwrap_or_default()
    }
}
pub type Reply = Result<Response, ApiError>;

pub fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Parses a JSON object body (an empty body is `{}`).
pub fn parse_body(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid data. Expected a dictionary.",
        )),
        Err(error) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("JSON parse error - {error}"),
        )),
    }
}

/// A string field of a body, trimmed (as Django REST Framework does); `None` when absent or
/// empty.
pub fn text_field<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The `name` and `slug` of a body that creates an organization, team or project: the slug
/// defaults to the name made a slug and must be valid; without `name_required`, the name
/// defaults to the slug.
pub fn name_and_slug(
    body: &Map<String, Value>,
    name_required: bool,
) -> Result<(String, String), ApiError> {
    let name = text_field(body, "name");
    let slug = match (text_field(body, "slug"), name) {
        (Some(slug), _) => slug.to_owned(),
        (None, Some(name)) => slugify(name),
        (None, None) if name_required => {
            return Err(ApiError::invalid_field("name", "This field is required."));
        }
        (None, None) => return Err(ApiError::invalid_field("slug", "This field is required.")),
    };
    let name = match name {
        Some(name) => name.to_owned(),
        None if name_required => {
            return Err(ApiError::invalid_field("name", "This field is required."));
        }
        None => slug.clone(),
    };
    if !is_valid_slug(&slug) {
        return Err(ApiError::invalid_field("slug", INVALID_SLUG_MESSAGE));
    }
    Ok((name, slug))
}

pub async fn begin(state: &AppState) -> Result<Tx, ApiError> {
    Ok(state.db.begin().await?)
}
