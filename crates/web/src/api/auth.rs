//! `GET /api/0/`: who the caller is and what their token may do (what `sentry-cli info` prints).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::access::{self, Caller};
use crate::AppState;
use crate::error::ApiError;

/// `GET /api/0/`: `{version, auth: {scopes} | null, user: {id, email, ...} | null}`. Without
/// credentials both are null (as in Sentry); a bad token is a 401.
pub async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    if !headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Ok(Json(json!({"version": "0", "auth": null, "user": null})));
    }
    let token = access::bearer_token(&headers)?;
    let caller = access::authenticate_bearer(&state, token).await?;
    let scopes: Vec<&str> = caller
        .token_scopes()
        .map(|s| s.names().collect())
        .unwrap_or_default();
    let user = match &caller {
        Caller::User { user, .. } => json!({
            "id": user.id.to_string(),
            "email": user.email,
            "username": user.email,
            "name": user.name,
            "isSuperuser": user.is_superuser,
            "isActive": user.is_active,
        }),
        Caller::Organization(_) => Value::Null,
    };
    Ok(Json(json!({
        "version": "0",
        "auth": {"scopes": scopes},
        "user": user,
    })))
}
