//! What the API's handlers share: the issue a route names, the JSON body, the reply.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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

pub async fn begin(state: &AppState) -> Result<Tx, ApiError> {
    Ok(state.db.begin().await?)
}
