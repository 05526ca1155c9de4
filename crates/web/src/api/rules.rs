//! A project's issue alert rules, in the shape of Sentry's rule API (`ProjectRulesEndpoint`,
//! `ProjectRuleDetailsEndpoint`): `GET`/`POST /projects/{org}/{project}/rules/` and
//! `GET`/`PUT`/`DELETE /projects/{org}/{project}/rules/{rule_id}/`. Bodies and answers use
//! Sentry's condition, filter and action ids ([`errhound_domain::alerts`]); an invalid body is a
//! 400 with Sentry's `{"field": ["message"]}`. `POST /projects/{org}/{project}/rules/preview/`
//! answers how often a rule (the same body, not saved) would have fired on the project's last
//! days of events ([`crate::rule_preview`]).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::Scope;
use errhound_domain::alerts::{Action, AlertRule};
use errhound_store::alerts::rules::{self, StoredRule};
use errhound_store::projects::Project;
use serde_json::{Value, json};

use super::access::Grant;
use super::request::{Reply, json_response, parse_body};
use super::views;
use crate::AppState;
use crate::alert_rules::{self, RuleChangeError};
use crate::error::ApiError;
use crate::routes::{Routes, Surface};
use crate::rule_preview::{self, PreviewReport};

/// Routes of this module: reads (a preview is one: it saves nothing) need `project:read`,
/// changes `project:write`.
pub fn routes() -> Routes {
    let list_path = "/projects/{org}/{project}/rules/";
    let preview_path = "/projects/{org}/{project}/rules/preview/";
    let rule_path = "/projects/{org}/{project}/rules/{rule_id}/";
    Routes::new(Surface::Api)
        .get(list_path, Scope::ProjectRead, list)
        .post(list_path, Scope::ProjectWrite, create)
        .post(preview_path, Scope::ProjectRead, preview)
        .get(rule_path, Scope::ProjectRead, detail)
        .put(rule_path, Scope::ProjectWrite, update)
        .delete(rule_path, Scope::ProjectWrite, delete)
        // Sentry's "send test notification" (ProjectRuleActionsEndpoint): it sends, so
        // project:write.
        .post(
            "/projects/{org}/{project}/rule-actions/",
            Scope::ProjectWrite,
            test_actions,
        )
}

impl From<RuleChangeError> for ApiError {
    fn from(error: RuleChangeError) -> ApiError {
        match error {
            RuleChangeError::Invalid(errors) => ApiError::invalid_fields(errors.to_json()),
            RuleChangeError::Change(change) => ApiError::from(change),
        }
    }
}

/// A stored rule as Sentry's rule API shows it.
pub fn rule_view(stored: &StoredRule, project: &Project) -> Value {
    let mut body = serde_json::from_str::<Value>(&stored.data)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Default::default()));
    if let Value::Object(map) = &mut body {
        map.insert("id".into(), Value::String(stored.id.to_string()));
        map.insert("name".into(), Value::String(stored.name.clone()));
        map.insert("dateCreated".into(), views::date(stored.created_at).into());
        map.insert(
            "projects".into(),
            Value::Array(vec![project.slug.clone().into()]),
        );
        map.insert("status".into(), "active".into());
        map.insert("owner".into(), Value::Null);
        map.insert(
            "createdBy".into(),
            stored
                .created_by
                .map_or(Value::Null, |id| serde_json::json!({"id": id})),
        );
        map.insert(
            "lastTriggered".into(),
            stored
                .last_fired_at
                .map_or(Value::Null, |t| views::date(t).into()),
        );
        map.insert("timesFired".into(), stored.times_fired.into());
    }
    body
}

fn parse_rule(body: &Bytes) -> Result<AlertRule, ApiError> {
    let body = parse_body(body)?;
    AlertRule::from_sentry_json(&body).map_err(|errors| ApiError::invalid_fields(errors.to_json()))
}

fn rule_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// `GET /api/0/projects/{org}/{project}/rules/`, oldest first.
async fn list(State(state): State<AppState>, grant: Grant) -> Reply {
    let project = grant.project()?;
    let mut conn = state.db.read().await?;
    let stored = rules::list(&mut conn.conn(), project.id).await?;
    let body = stored.iter().map(|r| rule_view(r, project)).collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}

/// `GET /api/0/projects/{org}/{project}/rules/{rule_id}/`
async fn detail(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, raw)): Path<(String, String, String)>,
) -> Reply {
    let project = grant.project()?;
    let mut conn = state.db.read_latest().await?;
    let stored = rules::get(&mut conn.conn(), project.id, rule_id(&raw)?)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, rule_view(&stored, project)))
}

/// `POST /api/0/projects/{org}/{project}/rules/`: 200 and the rule (as Sentry answers).
async fn create(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let rule = parse_rule(&body)?;
    let stored = alert_rules::create(&state, &grant, &rule).await?;
    Ok(json_response(
        StatusCode::OK,
        rule_view(&stored, grant.project()?),
    ))
}

/// `PUT /api/0/projects/{org}/{project}/rules/{rule_id}/` with the whole rule.
async fn update(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, raw)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let id = rule_id(&raw)?;
    let rule = parse_rule(&body)?;
    let stored = alert_rules::update(&state, &grant, id, &rule).await?;
    Ok(json_response(
        StatusCode::OK,
        rule_view(&stored, grant.project()?),
    ))
}

/// `DELETE /api/0/projects/{org}/{project}/rules/{rule_id}/`: 202, as Sentry answers.
async fn delete(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, raw)): Path<(String, String, String)>,
) -> Reply {
    alert_rules::delete(&state, &grant, rule_id(&raw)?).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// A preview as the API answers it.
pub fn preview_view(report: &PreviewReport) -> Value {
    let issues: Vec<Value> = report
        .issues
        .iter()
        .map(|issue| {
            json!({
                "id": issue.id.to_string(),
                "shortId": issue.short_id,
                "title": issue.title,
                "fires": issue.fires,
                "firstFire": views::date(issue.first_fire_ms),
                "lastFire": views::date(issue.last_fire_ms),
            })
        })
        .collect();
    json!({
        "fires": report.fires,
        "eventsExamined": report.events_examined,
        "truncated": report.truncated,
        "since": views::date(report.since_ms),
        "issues": issues,
    })
}

/// `POST /api/0/projects/{org}/{project}/rules/preview/` with a rule as `POST rules/` takes it:
/// 200 and how often it would have fired in the last days, or 400 with Sentry's field errors.
async fn preview(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let rule = parse_rule(&body)?;
    let project = grant.project()?;
    let report = rule_preview::preview(&state, project, &rule, errhound_store::now_ms()).await?;
    Ok(json_response(StatusCode::OK, preview_view(&report)))
}

/// `POST /api/0/projects/{org}/{project}/rule-actions/` with `actions` (and an optional
/// `name`): each action runs once now for the project's latest issue. 200 with each outcome when
/// all were sent; 400 with Sentry's `{"actions": [...]}` naming the failures otherwise.
async fn test_actions(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let actions =
        Action::parse_list(&body).map_err(|errors| ApiError::invalid_fields(errors.to_json()))?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("Untitled rule");
    let outcomes = alert_rules::send_test(&state, &grant, name, &actions).await?;
    let listed: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            serde_json::json!({
                "action": o.action,
                "plugin": o.plugin,
                "sent": o.error.is_none(),
                "error": o.error,
            })
        })
        .collect();
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.error.as_ref().map(|e| format!("{}: {e}", o.action)))
        .collect();
    if failures.is_empty() {
        Ok(json_response(
            StatusCode::OK,
            serde_json::json!({"outcomes": listed}),
        ))
    } else {
        Ok(json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"actions": failures, "outcomes": listed}),
        ))
    }
}
