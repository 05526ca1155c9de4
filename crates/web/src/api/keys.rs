//! A project's DSN keys through the API, in Sentry's shape (its `ProjectKeysEndpoint` and
//! `ProjectKeyDetailsEndpoint`): `GET`/`POST /projects/{org}/{project}/keys/` and
//! `GET`/`PUT`/`DELETE /projects/{org}/{project}/keys/{key_id}/`, where `key_id` is the public
//! key. A key of another project is 404. Every change is followed by
//! [`crate::ingest::KeyCache::key_changed`], so ingest applies it to the next envelope.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::AuditAction;
use errhound_domain::rate_limit::{KeyRateLimit, MAX_WINDOW_SECS, RateLimitError};
use errhound_store::keys::{self as key_store, KeyChanges};
use errhound_store::projects::{self, Project, ProjectKey};
use errhound_store::{Tx, audit, now_ms};
use serde_json::{Map, Value, json};

use super::access::Grant;
use super::params::Params;
use super::request::{Reply, begin, json_response, parse_body};
use super::views;
use crate::AppState;
use crate::error::ApiError;
use crate::routes::{Routes, Surface};
use errhound_domain::Scope;

/// Longest key name (Sentry's `ProjectKeySerializer.name`).
pub const MAX_KEY_NAME_CHARS: usize = 64;

/// Routes of this module (merged into `/api/0`): reads need `project:read`, changes
/// `project:write`.
pub fn routes() -> Routes {
    let keys = "/projects/{org}/{project}/keys/";
    let key = "/projects/{org}/{project}/keys/{key_id}/";
    Routes::new(Surface::Api)
        .get(keys, Scope::ProjectRead, list)
        .post(keys, Scope::ProjectWrite, create)
        .get(key, Scope::ProjectRead, detail)
        .put(key, Scope::ProjectWrite, update)
        .delete(key, Scope::ProjectWrite, delete)
}

/// The key named by a route, as a 404 when the project has no such key.
async fn find(
    state: &AppState,
    project: &Project,
    public_key: &str,
) -> Result<ProjectKey, ApiError> {
    let mut conn = state.db.read_latest().await?;
    key_store::get_by_public_key(&mut conn.conn(), project.id, public_key)
        .await?
        .ok_or_else(ApiError::not_found)
}

fn render(state: &AppState, status: StatusCode, key: &ProjectKey) -> axum::response::Response {
    json_response(status, views::project_key(key, &state.config.public_url()))
}

/// `GET /api/0/projects/{org}/{project}/keys/`, newest first; `?status=active|inactive`
/// filters as in Sentry (any other status lists nothing).
async fn list(State(state): State<AppState>, grant: Grant, params: Params) -> Reply {
    let project = grant.project()?;
    let mut conn = state.db.read().await?;
    let keys = projects::list_keys(&mut conn.conn(), project.id).await?;
    let wanted = match params.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some("active") => Some(Some(true)),
        Some("inactive") => Some(Some(false)),
        Some(_) => Some(None),
    };
    let public_url = state.config.public_url();
    let body: Vec<Value> = keys
        .iter()
        .filter(|k| wanted.is_none_or(|w| w == Some(k.is_active)))
        .map(|k| views::project_key(k, &public_url))
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}

/// `GET /api/0/projects/{org}/{project}/keys/{key_id}/`
async fn detail(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, key_id)): Path<(String, String, String)>,
) -> Reply {
    let project = grant.project()?;
    let key = find(&state, project, &key_id).await?;
    Ok(render(&state, StatusCode::OK, &key))
}

/// `POST /api/0/projects/{org}/{project}/keys/` with `name` and optionally
/// `rateLimit: {window, count}`: 201 and the new key.
async fn create(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let project = grant.project()?;
    let input = KeyInput::parse(&parse_body(&body)?)?;
    let mut tx = begin(&state).await?;
    let key = key_store::create(
        &mut tx.conn(),
        project.id,
        input.name.as_deref().unwrap_or(""),
        input.rate_limit.flatten(),
        now_ms(),
    )
    .await?;
    audit_key(&mut tx, &grant, AuditAction::ProjectKeyCreate, &key).await?;
    tx.commit().await?;
    tracing::info!(
        project.id = project.id,
        key.id = key.id,
        caller = %grant.caller.label(),
        "DSN key created"
    );
    Ok(render(&state, StatusCode::CREATED, &key))
}

/// `PUT /api/0/projects/{org}/{project}/keys/{key_id}/` with any of `name`, `isActive` and
/// `rateLimit` (`null` removes the limit): 200 and the key as changed.
async fn update(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, key_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let project = grant.project()?;
    let input = KeyInput::parse(&parse_body(&body)?)?;
    let key = find(&state, project, &key_id).await?;
    let changes = KeyChanges {
        label: input.name.as_deref(),
        active: input.is_active,
        rate_limit: input.rate_limit,
    };
    let mut tx = begin(&state).await?;
    let changed = key_store::update(&mut tx.conn(), project.id, key.id, &changes)
        .await?
        .ok_or_else(ApiError::not_found)?;
    audit_key(&mut tx, &grant, AuditAction::ProjectKeyEdit, &changed).await?;
    tx.commit().await?;
    state
        .keys
        .key_changed(&key, &grant.caller.label(), "updated through the API");
    Ok(render(&state, StatusCode::OK, &changed))
}

/// `DELETE /api/0/projects/{org}/{project}/keys/{key_id}/`: 204; the key's DSN is refused
/// from the next envelope on.
async fn delete(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, key_id)): Path<(String, String, String)>,
) -> Reply {
    let project = grant.project()?;
    let key = find(&state, project, &key_id).await?;
    let mut tx = begin(&state).await?;
    if !key_store::delete(&mut tx.conn(), project.id, key.id).await? {
        return Err(ApiError::not_found());
    }
    audit_key(&mut tx, &grant, AuditAction::ProjectKeyRemove, &key).await?;
    tx.commit().await?;
    state
        .keys
        .key_changed(&key, &grant.caller.label(), "deleted through the API");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Records a key change in the organization's audit log.
async fn audit_key(
    tx: &mut Tx,
    grant: &Grant,
    action: AuditAction,
    key: &ProjectKey,
) -> Result<(), ApiError> {
    let data = json!({
        "public": key.public_key,
        "label": key.label,
        "isActive": key.is_active,
        "project": grant.project()?.slug,
    });
    let actor = grant.audit_actor();
    audit::record(
        &mut tx.conn(),
        grant.org.id,
        &actor,
        action,
        Some(key.id),
        &data,
        now_ms(),
    )
    .await?;
    Ok(())
}

/// The fields `POST` and `PUT` read; `None` is "not given". Unknown fields are ignored, as
/// Sentry does.
#[derive(Debug, Default, PartialEq, Eq)]
struct KeyInput {
    name: Option<String>,
    is_active: Option<bool>,
    /// `Some(None)`: remove the limit (`null`, or a `rateLimit` whose count and window are both
    /// empty, which is what Sentry's settings page sends).
    rate_limit: Option<Option<KeyRateLimit>>,
}

impl KeyInput {
    fn parse(body: &Map<String, Value>) -> Result<KeyInput, ApiError> {
        let name = match body.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => {
                // Django REST Framework trims string fields.
                let name = name.trim();
                if name.chars().count() > MAX_KEY_NAME_CHARS {
                    return Err(ApiError::invalid_field(
                        "name",
                        format!(
                            "Ensure this field has no more than {MAX_KEY_NAME_CHARS} characters."
                        ),
                    ));
                }
                Some(name.to_owned())
            }
            Some(_) => return Err(ApiError::invalid_field("name", "Not a valid string.")),
        };
        let is_active = match body.get("isActive") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(active)) => Some(*active),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "isActive",
                    "Must be a valid boolean.",
                ));
            }
        };
        let rate_limit = match body.get("rateLimit") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::Object(limit)) => Some(parse_rate_limit(limit)?),
            Some(_) => {
                return Err(ApiError::invalid_fields(json!({"rateLimit": {
                    "non_field_errors": ["Invalid data. Expected a dictionary, but got a value."]
                }})));
            }
        };
        Ok(KeyInput {
            name,
            is_active,
            rate_limit,
        })
    }
}

/// `{window, count}`: both empty removes the limit; otherwise both must be valid.
fn parse_rate_limit(limit: &Map<String, Value>) -> Result<Option<KeyRateLimit>, ApiError> {
    let field_error = |field: &str, message: String| {
        ApiError::invalid_fields(json!({"rateLimit": {field: [message]}}))
    };
    let integer = |field: &str| -> Result<Option<i64>, ApiError> {
        match limit.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            // Django REST Framework's IntegerField also takes numbers written as strings.
            Some(Value::String(text)) => text
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| field_error(field, "A valid integer is required.".into())),
            Some(_) => Err(field_error(field, "A valid integer is required.".into())),
        }
    };
    match (integer("count")?, integer("window")?) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(field_error("window", "This field is required.".into())),
        (None, Some(_)) => Err(field_error("count", "This field is required.".into())),
        (Some(count), Some(window)) => match KeyRateLimit::new(count, window) {
            Ok(limit) => Ok(Some(limit)),
            Err(RateLimitError::Count) => Err(field_error(
                "count",
                "Ensure this value is greater than or equal to 1.".into(),
            )),
            Err(RateLimitError::Window) if window < 1 => Err(field_error(
                "window",
                "Ensure this value is greater than or equal to 1.".into(),
            )),
            Err(RateLimitError::Window) => Err(field_error(
                "window",
                format!("Ensure this value is less than or equal to {MAX_WINDOW_SECS}."),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<KeyInput, (StatusCode, Value)> {
        let Value::Object(map) = body else {
            panic!("a JSON object")
        };
        KeyInput::parse(&map).map_err(|e| (e.status, Value::Object(e.fields.unwrap_or_default())))
    }

    fn limit(count: i64, window: i64) -> KeyRateLimit {
        KeyRateLimit::new(count, window).expect("a valid limit")
    }

    #[test]
    fn absent_null_and_empty_fields() {
        assert_eq!(parse(json!({})), Ok(KeyInput::default()));
        assert_eq!(
            parse(json!({"name": "  CI  ", "isActive": false, "unknown": [1], "rateLimit": null})),
            Ok(KeyInput {
                name: Some("CI".into()),
                is_active: Some(false),
                rate_limit: Some(None),
            })
        );
        assert_eq!(
            parse(json!({"rateLimit": {"count": "", "window": null}})).map(|i| i.rate_limit),
            Ok(Some(None)),
            "Sentry's form clears with empty fields"
        );
        assert_eq!(
            parse(json!({"rateLimit": {"count": 10, "window": "60"}})).map(|i| i.rate_limit),
            Ok(Some(Some(limit(10, 60))))
        );
    }

    #[test]
    fn invalid_fields_are_400_naming_the_field() {
        let cases = [
            (
                json!({"name": "x".repeat(65)}),
                json!({"name": ["Ensure this field has no more than 64 characters."]}),
            ),
            (json!({"name": 5}), json!({"name": ["Not a valid string."]})),
            (
                json!({"isActive": "yes"}),
                json!({"isActive": ["Must be a valid boolean."]}),
            ),
            (
                json!({"rateLimit": {"count": 0, "window": 60}}),
                json!({"rateLimit": {"count": ["Ensure this value is greater than or equal to 1."]}}),
            ),
            (
                json!({"rateLimit": {"count": 5, "window": 86401}}),
                json!({"rateLimit": {"window": ["Ensure this value is less than or equal to 86400."]}}),
            ),
            (
                json!({"rateLimit": {"count": 5, "window": 0}}),
                json!({"rateLimit": {"window": ["Ensure this value is greater than or equal to 1."]}}),
            ),
            (
                json!({"rateLimit": {"count": 5}}),
                json!({"rateLimit": {"window": ["This field is required."]}}),
            ),
            (
                json!({"rateLimit": {"count": 1.5, "window": 60}}),
                json!({"rateLimit": {"count": ["A valid integer is required."]}}),
            ),
        ];
        for (body, fields) in cases {
            assert_eq!(
                parse(body.clone()),
                Err((StatusCode::BAD_REQUEST, fields)),
                "{body}"
            );
        }
        assert_eq!(
            parse(json!({"rateLimit": 10})).map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
    }
}
