//! Project details and settings: `GET`/`PUT /api/0/projects/{org}/{project}/`, with Sentry's field
//! names for the grouping config, fingerprinting rules (`fingerprintingRules`), stack trace rules
//! (`groupingEnhancements`) and data scrubbing (`dataScrubber`, `sensitiveFields`, ...).
//!
//! Settings other than the project row live in `project_options` under the keys of
//! [`errhound_domain::settings`]; rule texts are stored as written (comments included) and
//! validated before they are saved, so the ingest worker never meets a rule it cannot parse.

use crate::routes::{Routes, Surface};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use errhound_domain::Scope;
use errhound_domain::grouping::fingerprint_rules::FingerprintingRules;
use errhound_domain::grouping::stack_rules::Enhancements;
use errhound_domain::scrub::ScrubbingConfig;
use errhound_domain::settings::{
    ENHANCEMENTS_KEY, FINGERPRINTING_RULES_KEY, RuleError, SCRUBBING_KEY, SECONDARY_GROUPING_KEY,
    SecondaryGrouping,
};
use errhound_domain::slug::{INVALID_SLUG_MESSAGE, is_valid_slug};
use errhound_store::orgs::Organization;
use errhound_store::projects::{self, Project, ProjectChanges};
use errhound_store::{StoreError, now_ms, options};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::Grant;
use super::views;
use crate::AppState;
use crate::error::ApiError;

/// How long the previous grouping config keeps finding existing issues after a project moves to
/// a newer one (Sentry's `SENTRY_GROUPING_UPDATE_MIGRATION_PHASE`).
pub const GROUPING_TRANSITION_MS: i64 = 30 * 24 * 3600 * 1000;
/// Largest accepted rule text.
const MAX_RULES_BYTES: usize = 64 * 1024;
/// Most extra sensitive or safe field names.
const MAX_FIELD_NAMES: usize = 1000;
/// Longest project name or field name.
const MAX_NAME_CHARS: usize = 200;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    Routes::new(Surface::Api)
        .get("/projects/{org}/{project}/", Scope::ProjectRead, detail)
        .put("/projects/{org}/{project}/", Scope::ProjectWrite, update)
        .delete("/projects/{org}/{project}/", Scope::ProjectAdmin, remove)
}

/// `DELETE /api/0/projects/{org}/{project}/`: 204. The project is gone from every read and its
/// DSN keys are refused at once; its data goes in the background.
async fn remove(State(state): State<AppState>, grant: Grant) -> Result<StatusCode, ApiError> {
    crate::lifecycle::delete_project(&state, &grant, grant.project()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A project's settings as stored.
#[derive(Debug, Default)]
struct StoredSettings {
    secondary: Option<SecondaryGrouping>,
    fingerprinting_rules: String,
    enhancements: String,
    scrubbing: ScrubbingConfig,
}

async fn load(state: &AppState, project: &Project) -> Result<StoredSettings, ApiError> {
    let mut conn = state.db.read_latest().await?;
    let mut stored = StoredSettings::default();
    for option in options::list(&mut conn.conn(), project.id).await? {
        let value = option.value.as_str();
        // Every value was validated when saved; one that no longer reads (a downgrade, a hand
        // edit) shows as its default rather than failing the whole page.
        match option.key.as_str() {
            SECONDARY_GROUPING_KEY => stored.secondary = serde_json::from_str(value).ok(),
            FINGERPRINTING_RULES_KEY => {
                stored.fingerprinting_rules = serde_json::from_str(value).unwrap_or_default();
            }
            ENHANCEMENTS_KEY => {
                stored.enhancements = serde_json::from_str(value).unwrap_or_default()
            }
            SCRUBBING_KEY => stored.scrubbing = serde_json::from_str(value).unwrap_or_default(),
            _ => {}
        }
    }
    Ok(stored)
}

/// The project as Sentry's project details endpoint shows it.
fn render(
    org: &Organization,
    project: &Project,
    stored: &StoredSettings,
    public_url: &str,
) -> Value {
    let mut body = views::project(project);
    body["organization"] = views::organization(org, public_url);
    let secondary = stored.secondary.as_ref();
    let fields = json!({
        "groupingConfig": project.grouping_config,
        "secondaryGroupingConfig": secondary.map(|s| s.config.as_str()),
        "secondaryGroupingExpiry": secondary.map(|s| s.expires_ms.div_euclid(1000)),
        "fingerprintingRules": stored.fingerprinting_rules,
        "groupingEnhancements": stored.enhancements,
        "dataScrubber": stored.scrubbing.enabled,
        "dataScrubberDefaults": stored.scrubbing.use_defaults,
        "sensitiveFields": stored.scrubbing.sensitive_fields,
        "safeFields": stored.scrubbing.safe_fields,
        "scrubIPAddresses": stored.scrubbing.scrub_ip_addresses,
    });
    if let (Value::Object(body), Value::Object(fields)) = (&mut body, fields) {
        body.extend(fields);
    }
    body
}

/// `GET /api/0/projects/{org}/{project}/`
async fn detail(State(state): State<AppState>, grant: Grant) -> Result<Json<Value>, ApiError> {
    let (org, project) = (&grant.org, grant.project()?);
    let stored = load(&state, project).await?;
    Ok(Json(render(
        org,
        project,
        &stored,
        &state.config.public_url(),
    )))
}

/// The fields `PUT` accepts; absent fields keep their value. Unknown fields are ignored, as
/// Sentry does, so its clients' fuller bodies are accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProjectUpdate {
    name: Option<String>,
    slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    platform: Option<Option<String>>,
    grouping_config: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    secondary_grouping_config: Option<Option<String>>,
    /// Unix seconds.
    secondary_grouping_expiry: Option<i64>,
    fingerprinting_rules: Option<String>,
    grouping_enhancements: Option<String>,
    data_scrubber: Option<bool>,
    data_scrubber_defaults: Option<bool>,
    sensitive_fields: Option<Vec<String>>,
    safe_fields: Option<Vec<String>>,
    #[serde(rename = "scrubIPAddresses")]
    scrub_ip_addresses: Option<bool>,
}

impl ProjectUpdate {
    /// A change of the name and slug only (each `None` keeps its value).
    pub(crate) fn rename(name: Option<String>, slug: Option<String>) -> ProjectUpdate {
        ProjectUpdate {
            name,
            slug,
            ..ProjectUpdate::default()
        }
    }
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// What an update writes.
#[derive(Debug)]
struct Plan {
    name: String,
    slug: String,
    platform: Option<String>,
    grouping_config: String,
    secondary: Option<SecondaryGrouping>,
    fingerprinting_rules: String,
    enhancements: String,
    scrubbing: ScrubbingConfig,
}

/// Validates an update against the current settings and computes the new ones.
fn plan(
    update: ProjectUpdate,
    project: &Project,
    stored: StoredSettings,
    now_ms: i64,
) -> Result<Plan, ApiError> {
    let name = match update.name {
        Some(name) => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
                return Err(ApiError::invalid_field(
                    "name",
                    format!("The name must be 1 to {MAX_NAME_CHARS} characters long."),
                ));
            }
            name
        }
        None => project.name.clone(),
    };
    let slug = match update.slug {
        Some(slug) => {
            if !is_valid_slug(&slug) {
                return Err(ApiError::invalid_field("slug", INVALID_SLUG_MESSAGE));
            }
            slug
        }
        None => project.slug.clone(),
    };
    let platform = match update.platform {
        Some(Some(platform)) if platform.is_empty() => None,
        Some(Some(platform)) => {
            if platform.len() > 64
                || !platform
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                return Err(ApiError::invalid_field("platform", "Invalid platform."));
            }
            Some(platform)
        }
        Some(None) => None,
        None => project.platform.clone(),
    };

    let mut secondary = stored.secondary.filter(|s| s.expires_ms > now_ms);
    let grouping_config = match update.grouping_config {
        Some(config) if config != project.grouping_config => {
            if !errhound_domain::settings::is_known_grouping_config(&config) {
                return Err(ApiError::invalid_field(
                    "groupingConfig",
                    format!("Unknown grouping config: {config}"),
                ));
            }
            // Moving to another config: the old one keeps finding existing issues for a while.
            secondary = Some(SecondaryGrouping {
                config: project.grouping_config.clone(),
                expires_ms: now_ms + GROUPING_TRANSITION_MS,
            });
            config
        }
        _ => project.grouping_config.clone(),
    };
    match update.secondary_grouping_config {
        Some(None) => secondary = None,
        Some(Some(config)) => {
            if !errhound_domain::settings::is_known_grouping_config(&config) {
                return Err(ApiError::invalid_field(
                    "secondaryGroupingConfig",
                    format!("Unknown grouping config: {config}"),
                ));
            }
            let expires_ms = secondary
                .as_ref()
                .map_or(now_ms + GROUPING_TRANSITION_MS, |s| s.expires_ms);
            secondary = Some(SecondaryGrouping { config, expires_ms });
        }
        None => {}
    }
    if let Some(expiry) = update.secondary_grouping_expiry {
        match secondary.as_mut() {
            Some(s) => s.expires_ms = expiry.saturating_mul(1000),
            None => {
                return Err(ApiError::invalid_field(
                    "secondaryGroupingExpiry",
                    "There is no secondary grouping config to expire.",
                ));
            }
        }
    }
    let secondary = secondary.filter(|s| s.config != grouping_config && s.expires_ms > now_ms);

    let fingerprinting_rules = match update.fingerprinting_rules {
        Some(text) => {
            check_rules("fingerprintingRules", &text, FingerprintingRules::parse)?;
            text
        }
        None => stored.fingerprinting_rules,
    };
    let enhancements = match update.grouping_enhancements {
        Some(text) => {
            check_rules("groupingEnhancements", &text, Enhancements::parse)?;
            text
        }
        None => stored.enhancements,
    };

    let mut scrubbing = stored.scrubbing;
    if let Some(enabled) = update.data_scrubber {
        scrubbing.enabled = enabled;
    }
    if let Some(use_defaults) = update.data_scrubber_defaults {
        scrubbing.use_defaults = use_defaults;
    }
    if let Some(fields) = update.sensitive_fields {
        scrubbing.sensitive_fields = field_names("sensitiveFields", fields)?;
    }
    if let Some(fields) = update.safe_fields {
        scrubbing.safe_fields = field_names("safeFields", fields)?;
    }
    if let Some(scrub_ips) = update.scrub_ip_addresses {
        scrubbing.scrub_ip_addresses = scrub_ips;
    }

    Ok(Plan {
        name,
        slug,
        platform,
        grouping_config,
        secondary,
        fingerprinting_rules,
        enhancements,
        scrubbing,
    })
}

/// The project as `plan` leaves it.
fn planned(project: &Project, plan: &Plan) -> Project {
    Project {
        name: plan.name.clone(),
        slug: plan.slug.clone(),
        platform: plan.platform.clone(),
        grouping_config: plan.grouping_config.clone(),
        ..project.clone()
    }
}

/// The settings as `plan` leaves them.
fn planned_settings(plan: &Plan) -> StoredSettings {
    StoredSettings {
        secondary: plan.secondary.clone(),
        fingerprinting_rules: plan.fingerprinting_rules.clone(),
        enhancements: plan.enhancements.clone(),
        scrubbing: plan.scrubbing.clone(),
    }
}

fn check_rules<T>(
    field: &'static str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, RuleError>,
) -> Result<(), ApiError> {
    if text.len() > MAX_RULES_BYTES {
        return Err(ApiError::invalid_field(
            field,
            format!("The rules may not exceed {} KiB.", MAX_RULES_BYTES / 1024),
        ));
    }
    parse(text).map(drop).map_err(|error| {
        tracing::debug!(field, %error, "rejected project rules");
        ApiError::invalid_field(
            field,
            format!("Invalid rule on line {}: {}", error.line, error.message),
        )
    })
}

/// Trims, drops empty entries and checks the size of a field name list.
fn field_names(field: &'static str, names: Vec<String>) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> = names
        .into_iter()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    if names.len() > MAX_FIELD_NAMES || names.iter().any(|n| n.chars().count() > MAX_NAME_CHARS) {
        return Err(ApiError::invalid_field(
            field,
            format!("At most {MAX_FIELD_NAMES} names of at most {MAX_NAME_CHARS} characters."),
        ));
    }
    Ok(names)
}

/// `PUT /api/0/projects/{org}/{project}/`: changes the given fields and answers the project as
/// `GET` does (under its new slug after a rename). Requires `project:write`.
async fn update(
    State(state): State<AppState>,
    grant: Grant,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let update: ProjectUpdate = match serde_json::from_slice::<Value>(&body) {
        Ok(value @ Value::Object(_)) => serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request(format!("Invalid data: {e}")))?,
        Ok(_) => {
            return Err(ApiError::bad_request(
                "Invalid data. Expected a dictionary.",
            ));
        }
        Err(e) => return Err(ApiError::bad_request(format!("JSON parse error - {e}"))),
    };
    let project = apply(&state, &grant, update).await?;
    let stored = load(&state, &project).await?;
    Ok(Json(render(
        &grant.org,
        &project,
        &stored,
        &state.config.public_url(),
    )))
}

/// Validates and saves a change of the project of `grant` with its `project.edit` audit
/// entry: the one rule of the API's `PUT` and the settings page. Answers the project as saved.
pub(crate) async fn apply(
    state: &AppState,
    grant: &Grant,
    update: ProjectUpdate,
) -> Result<Project, ApiError> {
    let project = grant.project()?;
    let stored = load(state, project).await?;
    let now = now_ms();
    let before = render(&grant.org, project, &stored, "");
    let plan = plan(update, project, stored, now)?;
    save(state, grant, project, &plan, &before, now).await?;
    (state.settings_changed)(project.id);
    tracing::info!(
        project.id = project.id,
        caller = %grant.caller.label(),
        "project settings changed"
    );
    let mut conn = state.db.read_latest().await?;
    projects::get(&mut conn.conn(), project.id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The fields whose value differs between two renderings of a project: the audit entry's data.
fn changed_fields(before: &Value, after: &Value) -> Value {
    let mut changed = serde_json::Map::new();
    if let (Value::Object(before), Value::Object(after)) = (before, after) {
        for (key, value) in after {
            if key != "organization" && before.get(key) != Some(value) {
                changed.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(changed)
}

async fn save(
    state: &AppState,
    grant: &Grant,
    project: &Project,
    plan: &Plan,
    before: &Value,
    now: i64,
) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    let changes = ProjectChanges {
        name: &plan.name,
        slug: &plan.slug,
        platform: plan.platform.as_deref(),
        grouping_config: &plan.grouping_config,
    };
    match projects::update(&mut tx.conn(), project.id, &changes).await {
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Another project is already using that slug.",
            ));
        }
        other => other?,
    }
    // Defaults are stored as no row, so a later change of a default reaches every project
    // that never chose otherwise.
    let values = [
        (
            SECONDARY_GROUPING_KEY,
            plan.secondary.as_ref().map(serde_json::to_string),
        ),
        (
            FINGERPRINTING_RULES_KEY,
            (!plan.fingerprinting_rules.trim().is_empty())
                .then(|| serde_json::to_string(&plan.fingerprinting_rules)),
        ),
        (
            ENHANCEMENTS_KEY,
            (!plan.enhancements.trim().is_empty())
                .then(|| serde_json::to_string(&plan.enhancements)),
        ),
        (
            SCRUBBING_KEY,
            (plan.scrubbing != ScrubbingConfig::default())
                .then(|| serde_json::to_string(&plan.scrubbing)),
        ),
    ];
    for (key, value) in values {
        match value.transpose().map_err(ApiError::internal)? {
            Some(value) => options::set(&mut tx.conn(), project.id, key, &value, now).await?,
            None => options::remove(&mut tx.conn(), project.id, key).await?,
        }
    }
    let after = render(
        &grant.org,
        &planned(project, plan),
        &planned_settings(plan),
        "",
    );
    let changed = changed_fields(before, &after);
    if changed.as_object().is_some_and(|c| !c.is_empty()) {
        crate::lifecycle::record_project_edit(&mut tx, grant, project.id, &changed).await?;
    }
    tx.commit().await?;
    Ok(())
}
