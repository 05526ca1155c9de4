//! Sentry's legacy plugin actions on an issue (`IssueTrackingPlugin2`'s views), also under
//! `/organizations/{org}/`:
//!
//! * `GET /issues/{id}/plugins/{plugin}/create/` and `.../link/`: the form's fields
//!   (`[{"name", "label", "default", "type", "required"}]`).
//! * `POST .../create/` (`{"title", "description"}`) answers `{"issue_url", "link", "label",
//!   "id"}`; `POST .../link/` (`{"issue_id": KEY}`) answers `{"message", "link", "label", "id"}`;
//!   `POST .../unlink/` answers `{"message"}`, a 400 `{"message": "No issues to unlink."}` when
//!   nothing was linked.
//! * A missing field is a 400 `{"error_type": "validation", "errors": {"title": "Title is a
//!   required field."}}`, a refusal of the tracker a 400 `{"error_type": "validation", "errors":
//!   {"__all__": ...}}` (`"config"` when the plugin is not set up), as Sentry's plugins answer.
//!
//! The rule is [`crate::tickets`].

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use errhound_domain::Scope;
use errhound_domain::plugin::PluginError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{ApiUser, Grant};
use super::request::{Reply, json_response, parse_body};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::{Routes, Surface};
use crate::tickets::{self, Action, TicketError, TicketRequest};

/// Routes of this module: reading a form needs `project:read`, acting `project:write`, since it
/// acts with the project's tracker account.
pub fn routes() -> Routes {
    let mut r = Routes::new(Surface::Api);
    for prefix in ["/issues/{issue}", "/organizations/{org}/issues/{issue}"] {
        let action = |name: &str| format!("{prefix}/plugins/{{plugin_id}}/{name}/");
        r = r
            .get(&action("create"), Scope::ProjectRead, create_form)
            .post(&action("create"), Scope::ProjectWrite, create)
            .get(&action("link"), Scope::ProjectRead, link_form)
            .post(&action("link"), Scope::ProjectWrite, link)
            .post(&action("unlink"), Scope::ProjectWrite, unlink);
    }
    r
}

/// The `{plugin_id}` of the path (the issue is the guard's).
#[derive(Debug, Deserialize)]
struct PluginPath {
    plugin_id: String,
}

impl From<TicketError> for ApiError {
    fn from(error: TicketError) -> ApiError {
        match error {
            TicketError::Invalid { field, message } => ApiError::invalid_fields(json!({
                "error_type": "validation",
                "errors": {field: message},
            })),
            TicketError::Plugin { plugin, error } => {
                let kind = match error {
                    PluginError::Config(_) => "config",
                    _ => "validation",
                };
                let mut answer = ApiError::invalid_fields(
                    json!({"errors": {"__all__": format!("{plugin}: {error}")}}),
                );
                answer
                    .fields
                    .get_or_insert_default()
                    .insert("error_type".to_owned(), json!(kind));
                answer
            }
            TicketError::Change(change) => ApiError::from(change),
        }
    }
}

fn text<'a>(body: &'a serde_json::Map<String, Value>, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or_default()
}

async fn linked(
    state: &AppState,
    grant: &Grant,
    user: &errhound_store::users::User,
    plugin_id: &str,
    request: TicketRequest<'_>,
) -> Reply {
    let link = tickets::link(
        state,
        grant.project()?,
        grant.issue()?,
        user,
        plugin_id,
        request,
    )
    .await?;
    // The ticket's id is its key, as in Sentry's Jira plugin.
    let mut answer = json!({"link": link.url, "label": link.key, "id": link.key});
    match request {
        TicketRequest::Create { .. } => answer["issue_url"] = json!(link.url),
        TicketRequest::Link { .. } => answer["message"] = json!("Successfully linked issue."),
    }
    Ok(json_response(StatusCode::OK, answer))
}

async fn form(state: &AppState, grant: &Grant, plugin_id: &str, action: Action) -> Reply {
    let fields = tickets::form(state, grant.project()?, grant.issue()?, plugin_id, action).await?;
    Ok(json_response(StatusCode::OK, json!(fields)))
}

/// `GET /api/0/issues/{issue}/plugins/{plugin}/create/`: the fields of a new ticket.
async fn create_form(
    State(state): State<AppState>,
    grant: Grant,
    Path(PluginPath { plugin_id }): Path<PluginPath>,
) -> Reply {
    form(&state, &grant, &plugin_id, Action::Create).await
}

/// `GET /api/0/issues/{issue}/plugins/{plugin}/link/`: the fields of a link.
async fn link_form(
    State(state): State<AppState>,
    grant: Grant,
    Path(PluginPath { plugin_id }): Path<PluginPath>,
) -> Reply {
    form(&state, &grant, &plugin_id, Action::Link).await
}

/// `POST /api/0/issues/{issue}/plugins/{plugin}/create/` with `{"title", "description"}`.
async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    Path(PluginPath { plugin_id }): Path<PluginPath>,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let request = TicketRequest::Create {
        title: text(&body, "title"),
        description: text(&body, "description"),
    };
    linked(&state, &grant, &user, &plugin_id, request).await
}

/// `POST /api/0/issues/{issue}/plugins/{plugin}/link/` with `{"issue_id": KEY}`.
async fn link(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    Path(PluginPath { plugin_id }): Path<PluginPath>,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let request = TicketRequest::Link {
        key: text(&body, "issue_id"),
    };
    linked(&state, &grant, &user, &plugin_id, request).await
}

/// `POST /api/0/issues/{issue}/plugins/{plugin}/unlink/`: 200, or 400 when nothing is linked.
async fn unlink(
    State(state): State<AppState>,
    ApiUser(_): ApiUser,
    grant: Grant,
    Path(PluginPath { plugin_id }): Path<PluginPath>,
) -> Reply {
    match tickets::unlink(&state, grant.issue()?, &plugin_id).await? {
        Some(_) => Ok(json_response(
            StatusCode::OK,
            json!({"message": "Successfully unlinked issue."}),
        )),
        None => {
            let mut answer = ApiError::bad_request("No issues to unlink.");
            answer
                .fields
                .get_or_insert_default()
                .insert("message".to_owned(), json!("No issues to unlink."));
            Err(answer)
        }
    }
}
