//! Grouping explanations: why an event landed in its issue (Sentry's grouping info), and the
//! grouping configs a project can choose from.

use crate::routes::{Routes, Rule, Surface};
use axum::Json;
use axum::extract::{Path, State};
use errhound_domain::ProjectSettings;
use errhound_domain::Scope;
use errhound_domain::grouping::group_event_with;
use errhound_domain::settings::is_known_grouping_config;
use errhound_store::projects::Project;
use errhound_store::{events as event_store, now_ms, options};
use serde_json::{Value, json};

use super::access::{Caller, Grant};
use super::request::EventPath;
use crate::AppState;
use crate::error::ApiError;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    Routes::new(Surface::Api)
        .get(
            "/projects/{org}/{project}/events/{event}/grouping-info/",
            Scope::EventRead,
            grouping_info,
        )
        .get("/grouping-configs/", Rule::Authenticated, grouping_configs)
}

/// The settings the ingest worker applies to the project's events.
async fn processing_settings(
    state: &AppState,
    project: &Project,
) -> Result<ProjectSettings, ApiError> {
    let mut conn = state.db.read().await?;
    let stored: Vec<(String, String)> = options::list(&mut conn.conn(), project.id)
        .await?
        .into_iter()
        .map(|o| (o.key, o.value))
        .collect();
    let (settings, _) = ProjectSettings::from_options(&project.grouping_config, &stored);
    Ok(settings)
}

/// `GET /api/0/projects/{org}/{project}/events/{event_id}/grouping-info/`
///
/// Recomputes the grouping of the stored event with the config it was grouped with and the
/// project's current rules, and shows every variant: its hash, whether it contributes, and the
/// component tree (which values contributed and, for the others, why not). `hashMismatch` marks
/// a variant whose hash is not among the ones recorded at ingest, e.g. after the rules changed.
async fn grouping_info(
    State(state): State<AppState>,
    grant: Grant,
    Path(path): Path<EventPath>,
) -> Result<Json<Value>, ApiError> {
    let project = grant.project()?;
    let event = path.event;
    let not_found = || ApiError::new(axum::http::StatusCode::NOT_FOUND, "Event not found");
    let id = errhound_protocol::EventId::parse(&event).map_err(|_| not_found())?;
    let mut conn = state.db.read().await?;
    let stored = event_store::find(&mut conn.conn(), project.id, &id.to_simple())
        .await?
        .ok_or_else(not_found)?;
    let mut event = state
        .dictionaries
        .decode_json(&mut conn.conn(), &stored.data)
        .await
        .map_err(ApiError::internal)?;
    drop(conn);

    let mut settings = processing_settings(&state, project).await?.grouping;
    if let Some(config) = event
        .pointer("/grouping_config/id")
        .and_then(Value::as_str)
        .filter(|c| is_known_grouping_config(c))
    {
        settings.config = config.to_owned();
    }
    let recorded: Vec<String> = event
        .get("hashes")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let grouping = group_event_with(&mut event, &settings, now_ms());
    Ok(Json(explain(grouping.to_json(), &recorded)))
}

/// Reshapes [`errhound_domain::grouping::Grouping::to_json`] into the grouping info response:
/// each variant gains its `key` and `hashMismatch`, and its component tree hangs under a root
/// named after the variant (`app` > `exception` > ...), as in Sentry's response.
fn explain(mut grouping: Value, recorded: &[String]) -> Value {
    if let Some(variants) = grouping.get_mut("variants").and_then(Value::as_object_mut) {
        for (key, variant) in variants.iter_mut() {
            let hash = variant.get("hash").and_then(Value::as_str);
            let mismatch = hash.is_some_and(|h| !recorded.iter().any(|r| r == h));
            variant["key"] = json!(key);
            variant["hashMismatch"] = json!(mismatch);
            if let Some(component) = variant.get_mut("component")
                && component.get("id").and_then(Value::as_str) != Some(key.as_str())
            {
                let contributes = component
                    .get("contributes")
                    .cloned()
                    .unwrap_or(json!(false));
                let strategy = component.take();
                *component = json!({
                    "id": key,
                    "name": null,
                    "contributes": contributes,
                    "hint": null,
                    "values": [strategy],
                });
            }
        }
    }
    if let Some(object) = grouping.as_object_mut()
        && let Some(config) = object.remove("config")
    {
        object.insert("grouping_config".to_owned(), config);
    }
    grouping
}

/// `GET /api/0/grouping-configs/`: the grouping configs this server can compute.
async fn grouping_configs(_: Caller) -> Json<Value> {
    Json(json!(errhound_domain::settings::grouping_configs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_gain_key_and_mismatch() {
        let grouping = json!({
            "config": "errhound:2026-11",
            "hashes": ["a"],
            "variants": {
                "app": {"hash": "a", "contributes": true,
                        "component": {"id": "exception", "contributes": true, "values": []}},
                "system": {"hash": "b", "contributes": true},
                "default": {"hash": null, "contributes": false},
            }
        });
        let explained = explain(grouping, &["a".to_owned()]);
        assert_eq!(explained["grouping_config"], "errhound:2026-11");
        assert_eq!(explained["variants"]["app"]["key"], "app");
        assert_eq!(explained["variants"]["app"]["hashMismatch"], false);
        assert_eq!(explained["variants"]["system"]["hashMismatch"], true);
        assert_eq!(explained["variants"]["default"]["hashMismatch"], false);
        let root = &explained["variants"]["app"]["component"];
        assert_eq!(root["id"], "app");
        assert_eq!(root["contributes"], true);
        assert_eq!(root["values"][0]["id"], "exception");
    }
}
