//! A project's plugins, as Sentry's legacy plugin API (`ProjectPluginsEndpoint`,
//! `ProjectPluginDetailsEndpoint`): `GET /projects/{org}/{project}/plugins/` lists every
//! notification and issue-tracking plugin with its state and `config`; `GET .../{plugin_id}/`
//! shows one; `POST` enables it (201), `DELETE` disables it (204), `PUT` with a JSON object of
//! option values configures it (200 and the plugin; 400 with `{"errors": {...}}`). Secret values
//! are never returned, only `hasSavedValue`. The rule is [`crate::plugin_settings`].

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::Scope;
use errhound_notify::PluginSource;
use serde_json::{Value, json};

use super::access::Grant;
use super::request::{Reply, json_response, parse_body};
use crate::AppState;
use crate::error::ApiError;
use crate::plugin_settings::{self, PluginState, SettingsChangeError};
use crate::routes::{Routes, Surface};

/// Routes of this module: Sentry's `ProjectPermission` (reads `project:read`, enabling and
/// configuring `project:write`, disabling `project:admin`).
pub fn routes() -> Routes {
    let list_path = "/projects/{org}/{project}/plugins/";
    let plugin_path = "/projects/{org}/{project}/plugins/{plugin_id}/";
    Routes::new(Surface::Api)
        .get(list_path, Scope::ProjectRead, list)
        .get(plugin_path, Scope::ProjectRead, detail)
        .post(plugin_path, Scope::ProjectWrite, enable)
        .put(plugin_path, Scope::ProjectWrite, configure)
        .delete(plugin_path, Scope::ProjectAdmin, disable)
}

impl From<SettingsChangeError> for ApiError {
    fn from(error: SettingsChangeError) -> ApiError {
        match error {
            SettingsChangeError::Invalid(errors) => ApiError::invalid_fields(errors.to_json()),
            SettingsChangeError::Sealed(error) => ApiError::internal(error),
            SettingsChangeError::Change(change) => ApiError::from(change),
        }
    }
}

/// A plugin as Sentry's `PluginWithConfigSerializer` shows it in a project.
pub fn plugin_view(state: &PluginState) -> Value {
    let description = state.description();
    let has_configuration = !description.project_settings.is_empty();
    let author = match state.source {
        PluginSource::BuiltIn => "Errhound",
        PluginSource::External(_) => "External",
    };
    json!({
        "id": description.id,
        "name": description.title,
        "slug": description.id,
        "shortName": description.title,
        "type": description.kind.as_str(),
        "canDisable": true,
        "isTestable": false,
        "hasConfiguration": has_configuration,
        "metadata": {},
        "contexts": [],
        "status": "unknown",
        "assets": [],
        "doc": "",
        "firstPartyAlternative": null,
        "deprecationDate": null,
        "altIsSentryApp": null,
        "enabled": state.enabled,
        "version": description.version,
        "author": {"name": author, "url": ""},
        "isHidden": false,
        "description": "",
        "features": [],
        "featureDescriptions": [],
        "resourceLinks": [],
        "config": state.config(),
    })
}

/// `GET /api/0/projects/{org}/{project}/plugins/`: built-ins first, then external plugins
/// (one that failed to load is not listed: it has no kind; the UI shows its error).
async fn list(State(state): State<AppState>, grant: Grant) -> Reply {
    let project = grant.project()?;
    let plugins = plugin_settings::list(&state, project.id).await?;
    let body = plugins.usable.iter().map(plugin_view).collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}

/// `GET /api/0/projects/{org}/{project}/plugins/{plugin_id}/`
async fn detail(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, plugin_id)): Path<(String, String, String)>,
) -> Reply {
    let project = grant.project()?;
    let plugin = plugin_settings::get(&state, project.id, &plugin_id).await?;
    Ok(json_response(StatusCode::OK, plugin_view(&plugin)))
}

/// `POST /api/0/projects/{org}/{project}/plugins/{plugin_id}/`: enables it, 201 without a
/// body (as Sentry answers).
async fn enable(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, plugin_id)): Path<(String, String, String)>,
) -> Reply {
    plugin_settings::set_enabled(&state, &grant, &plugin_id, true).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `DELETE /api/0/projects/{org}/{project}/plugins/{plugin_id}/`: disables it, 204.
async fn disable(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, plugin_id)): Path<(String, String, String)>,
) -> Reply {
    plugin_settings::set_enabled(&state, &grant, &plugin_id, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /api/0/projects/{org}/{project}/plugins/{plugin_id}/` with a JSON object of option
/// values: 200 and the plugin as configured.
async fn configure(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, plugin_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let options = parse_body(&body)?;
    let plugin = plugin_settings::configure(&state, &grant, &plugin_id, &options).await?;
    Ok(json_response(StatusCode::OK, plugin_view(&plugin)))
}
