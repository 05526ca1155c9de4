//! A project's alerting, as its members see it: the alert rules (what each does, when it last
//! fired and how often), each rule's latest deliveries with their attempts, and the deliveries
//! given up on (dead letters) with "retry now"; per rule, a preview on the last 7 days of
//! events and "send test notification". Rules are written through Sentry's rule API
//! (`/api/0/projects/{org}/{project}/rules/`, [`crate::alert_rules`]).

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use errhound_domain::Scope;
use errhound_domain::alerts::AlertRule;
use errhound_store::alerts::outbox::{self, Delivery};
use errhound_store::alerts::rules::{self, StoredRule};
use errhound_store::now_ms;
use serde_json::{Map, Value};

use super::alert_form::FormPreview;
use super::error::{UiError, UiResult};
use super::format;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;
use crate::alert_rules::{self, RuleChangeError};
use crate::api::access::Grant;
use crate::rule_preview::{self, PreviewReport, PreviewedIssue};

/// Deliveries shown per rule.
const DELIVERIES_PER_RULE: i64 = 5;
/// Dead letters shown.
const DEAD_SHOWN: i64 = 50;

impl From<RuleChangeError> for UiError {
    fn from(error: RuleChangeError) -> UiError {
        match error {
            RuleChangeError::Invalid(errors) => UiError::bad_request(errors.to_string()),
            RuleChangeError::Change(change) => UiError::from(change),
        }
    }
}

/// One delivery in a table (`deliveries.html`).
pub struct DeliveryRow {
    /// Its id.
    pub id: i64,
    /// The issue's page.
    pub issue_url: String,
    /// The issue id.
    pub issue_id: i64,
    /// What happened to the issue (`created`, `regressed`, ...).
    pub reason: &'static str,
    /// Where it goes, as the rule's action says.
    pub target: String,
    /// `pending`, `sending`, `sent` or `dead`.
    pub state: &'static str,
    /// Attempts so far.
    pub attempts: i64,
    /// The last failure.
    pub error: String,
    /// When written.
    pub created: String,
    /// Each attempt: when, plugin, outcome, detail.
    pub history: Vec<(String, String, String, String)>,
}

/// One rule in the list.
pub struct RuleRow {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// When, if and then, in words.
    pub conditions: Vec<String>,
    /// The filters in words, with how they combine.
    pub filters: Vec<String>,
    /// The actions in words.
    pub actions: Vec<String>,
    /// `any`, `all` or `none`.
    pub action_match: &'static str,
    /// `any`, `all` or `none`.
    pub filter_match: &'static str,
    /// Minutes between repeats for one issue.
    pub frequency: String,
    /// The environment it is limited to.
    pub environment: String,
    /// When it last fired, in words.
    pub last_fired: String,
    /// How often it fired.
    pub times_fired: i64,
    /// Its latest deliveries.
    pub deliveries: Vec<DeliveryRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Nav,
    name: String,
    base: String,
    tab: &'static str,
    api_path: String,
    rules: Vec<RuleRow>,
    dead: Vec<DeliveryRow>,
    can_write: bool,
}

/// The `name` of each part of a rule's Sentry JSON list `field`.
fn names(json: &Value, field: &str) -> Vec<String> {
    json.get(field)
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A delivery's target (the rule action's Sentry JSON) in words.
fn target_text(target: &str) -> String {
    serde_json::from_str::<Map<String, Value>>(target)
        .ok()
        .and_then(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| target.to_owned())
}

/// Deliveries as the table of `deliveries.html` shows them (also on the issue page), with
/// their attempts, oldest first.
pub(super) async fn rows(
    state: &AppState,
    org_slug: &str,
    deliveries: Vec<Delivery>,
) -> Result<Vec<DeliveryRow>, UiError> {
    let mut tables = tables(state, org_slug, vec![deliveries]).await?;
    Ok(tables.pop().unwrap_or_default())
}

/// Several tables of [`rows`] (one per rule, the dead letters) with one query for all their
/// attempts, however many rules the project has.
async fn tables(
    state: &AppState,
    org_slug: &str,
    tables: Vec<Vec<Delivery>>,
) -> Result<Vec<Vec<DeliveryRow>>, UiError> {
    let ids: Vec<i64> = tables.iter().flatten().map(|d| d.id).collect();
    let mut conn = state.db.read_latest().await?;
    let attempts = outbox::attempts(&mut conn.conn(), &ids).await?;
    drop(conn);
    let mut history: HashMap<i64, Vec<(String, String, String, String)>> = HashMap::new();
    for a in attempts {
        history.entry(a.delivery_id).or_default().push((
            format::datetime(a.at),
            a.plugin_id,
            a.outcome,
            a.detail,
        ));
    }
    let row = |d: Delivery| DeliveryRow {
        issue_url: format!("/organizations/{org_slug}/issues/{}/", d.issue_id),
        issue_id: d.issue_id,
        reason: d.reason.as_str(),
        target: target_text(&d.target),
        state: d.state.as_str(),
        attempts: d.attempts,
        error: d.last_error.unwrap_or_default(),
        created: format::datetime(d.created_at),
        // A delivery may be in two tables (its rule's and the dead letters).
        history: history.get(&d.id).cloned().unwrap_or_default(),
        id: d.id,
    };
    Ok(tables
        .into_iter()
        .map(|table| table.into_iter().rev().map(&row).collect())
        .collect())
}

/// `GET /settings/{org}/projects/{project}/alerts/`
pub async fn page(State(state): State<AppState>, user: UiUser, grant: Grant) -> UiResult {
    let can_write = grant.access.has(Scope::ProjectWrite);
    let (org, project) = grant.into_project()?;
    let nav = Nav::new(&state, &user, &org, "settings", Some(project.id)).await?;
    let now = now_ms();
    // The latest state: the page is where a "retry now" redirects to.
    let mut conn = state.db.read_latest().await?;
    let stored = rules::list(&mut conn.conn(), project.id).await?;
    let mut latest = Vec::with_capacity(stored.len());
    for rule in &stored {
        let scope = outbox::Scope::Rule(rule.id);
        latest.push(outbox::list(&mut conn.conn(), scope, DELIVERIES_PER_RULE).await?);
    }
    let dead = outbox::list(
        &mut conn.conn(),
        outbox::Scope::DeadInProject(project.id),
        DEAD_SHOWN,
    )
    .await?;
    drop(conn);
    latest.push(dead);
    let mut deliveries = tables(&state, &org.slug, latest).await?;
    let dead = deliveries.pop().unwrap_or_default();
    let mut shown = Vec::with_capacity(stored.len());
    for (rule, deliveries) in stored.iter().zip(deliveries) {
        let json: Value = serde_json::from_str(&rule.data).unwrap_or(Value::Null);
        // Stored rules were validated when saved; one that no longer parses is shown by name.
        let parsed = json
            .as_object()
            .and_then(|body| AlertRule::from_sentry_json(body).ok());
        shown.push(RuleRow {
            id: rule.id,
            name: rule.name.clone(),
            conditions: names(&json, "conditions"),
            filters: names(&json, "filters"),
            actions: names(&json, "actions"),
            action_match: parsed.as_ref().map_or("any", |r| r.action_match.as_str()),
            filter_match: parsed.as_ref().map_or("all", |r| r.filter_match.as_str()),
            frequency: parsed
                .as_ref()
                .map(|r| format::minutes(i64::from(r.frequency_minutes)))
                .unwrap_or_default(),
            environment: parsed.and_then(|r| r.environment).unwrap_or_default(),
            last_fired: rule
                .last_fired_at
                .map_or_else(|| "never".to_owned(), |t| format::relative(t, now)),
            times_fired: rule.times_fired,
            deliveries,
        });
    }
    Ok(AlertsPage {
        base: format!("/settings/{}/projects/{}/", org.slug, project.slug),
        api_path: format!("/api/0/projects/{}/{}/rules/", org.slug, project.slug),
        nav,
        name: project.name,
        tab: "alerts",
        rules: shown,
        dead,
        can_write,
    }
    .into_response())
}

/// The `{delivery}` of a retry path.
#[derive(serde::Deserialize)]
pub struct DeliveryPath {
    delivery: i64,
}

/// `POST /settings/{org}/projects/{project}/alerts/deliveries/{delivery}/retry/`: a dead
/// delivery (with the rest of its digest) is due again now.
pub async fn retry(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(DeliveryPath { delivery }): Path<DeliveryPath>,
) -> UiResult {
    let project = grant.project()?;
    let mut conn = state.db.write().await?;
    let revived = outbox::retry_now(&mut conn.conn(), project.id, delivery, now_ms()).await?;
    drop(conn);
    if !revived {
        return Err(UiError::not_found());
    }
    tracing::info!(
        project.id = project.id,
        delivery.id = delivery,
        "dead delivery retried by hand"
    );
    let page = format!(
        "/settings/{}/projects/{}/alerts/",
        grant.org.slug, project.slug
    );
    flash_redirect(&user.session, "Delivery queued again.", &page).await
}

/// The `{rule}` of a rule's path.
#[derive(serde::Deserialize)]
pub struct RulePath {
    /// The rule's id.
    pub rule: i64,
}

/// The stored rule of the path's project, parsed.
async fn stored_rule(
    state: &AppState,
    grant: &Grant,
    rule_id: i64,
) -> Result<(StoredRule, AlertRule), UiError> {
    let project = grant.project()?;
    let mut conn = state.db.read_latest().await?;
    let stored = rules::get(&mut conn.conn(), project.id, rule_id)
        .await?
        .ok_or_else(UiError::not_found)?;
    drop(conn);
    let parsed = serde_json::from_str::<Map<String, Value>>(&stored.data)
        .ok()
        .and_then(|body| AlertRule::from_sentry_json(&body).ok())
        .ok_or_else(|| UiError::internal(format!("rule {rule_id} no longer parses")))?;
    Ok((stored, parsed))
}

/// `POST /settings/{org}/projects/{project}/alerts/{rule}/test/`: the rule's actions, once,
/// now, for the project's latest issue; the outcome of each is flashed.
pub async fn send_test(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(RulePath { rule }): Path<RulePath>,
) -> UiResult {
    let (stored, parsed) = stored_rule(&state, &grant, rule).await?;
    let outcomes = alert_rules::send_test(&state, &grant, &stored.name, &parsed.actions).await?;
    let said: Vec<String> = outcomes
        .iter()
        .map(|o| match &o.error {
            None => format!("{}: sent ({})", o.action, o.plugin),
            Some(error) => format!("{}: not sent, {error}", o.action),
        })
        .collect();
    let page = format!(
        "/settings/{}/projects/{}/alerts/",
        grant.org.slug,
        grant.project()?.slug
    );
    flash_redirect(
        &user.session,
        &format!(
            "Test notification of “{}”. {}",
            stored.name,
            said.join("; ")
        ),
        &page,
    )
    .await
}

/// One issue of a preview.
pub struct PreviewRow {
    /// The issue's page.
    pub url: String,
    /// `SHOP-1A`
    pub short_id: String,
    /// Its title.
    pub title: String,
    /// How often the rule would have fired for it.
    pub fires: u64,
    /// The first fire.
    pub first: String,
    /// The last fire.
    pub last: String,
}

/// The issues of a preview, as the page lists them.
pub fn preview_rows(org_slug: &str, issues: Vec<PreviewedIssue>) -> Vec<PreviewRow> {
    issues
        .into_iter()
        .map(|i| PreviewRow {
            url: format!("/organizations/{org_slug}/issues/{}/", i.id),
            short_id: i.short_id,
            title: i.title,
            fires: i.fires,
            first: format::datetime(i.first_fire_ms),
            last: format::datetime(i.last_fire_ms),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "alerts_preview.html")]
struct PreviewPage {
    nav: Nav,
    name: String,
    base: String,
    tab: &'static str,
    rule_name: String,
    preview: FormPreview,
}

/// `GET /settings/{org}/projects/{project}/alerts/{rule}/preview/`: how often the rule would
/// have fired on the last 7 days of the project's events, and for which issues.
pub async fn preview(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(RulePath { rule }): Path<RulePath>,
) -> UiResult {
    let (stored, parsed) = stored_rule(&state, &grant, rule).await?;
    let (org, project) = grant.into_project()?;
    let report: PreviewReport = rule_preview::preview(&state, &project, &parsed, now_ms()).await?;
    let nav = Nav::new(&state, &user, &org, "settings", Some(project.id)).await?;
    Ok(PreviewPage {
        base: format!("/settings/{}/projects/{}/", org.slug, project.slug),
        nav,
        name: project.name,
        tab: "alerts",
        rule_name: stored.name,
        preview: FormPreview::of(&org.slug, report),
    }
    .into_response())
}
