//! A project's plugins: the list (enabled or not, "needs setup" while required settings are
//! missing, an external plugin's load error), and one plugin's page with its settings form
//! (secret fields blank, marked "saved" when one is) and its switch. Changes go through
//! [`crate::plugin_settings`], the rule the API calls; an invalid form is shown again with the
//! errors next to their fields (400), a saved one redirects (PRG).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::Scope;
use errhound_domain::plugin::{SettingErrors, SettingKind, SettingSpec, SettingValues};
use errhound_notify::PluginSource;
use serde_json::{Map, Value};

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;
use crate::api::access::Grant;
use crate::plugin_settings::{self, PluginState, SettingsChangeError};

impl From<SettingsChangeError> for UiError {
    fn from(error: SettingsChangeError) -> UiError {
        match error {
            SettingsChangeError::Invalid(errors) => UiError::bad_request(errors.to_string()),
            SettingsChangeError::Sealed(error) => UiError::internal(error),
            SettingsChangeError::Change(change) => UiError::from(change),
        }
    }
}

/// A plugin in the list.
pub struct PluginRow {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// `notification` or `issue-tracking`.
    pub kind: &'static str,
    /// Its version.
    pub version: String,
    /// `built-in` or its path.
    pub source: String,
    /// On in the project.
    pub enabled: bool,
    /// The labels of the required settings without a value.
    pub missing: String,
}

/// An external plugin that failed to load.
pub struct BrokenRow {
    /// Its id.
    pub id: String,
    /// Its path.
    pub source: String,
    /// Why.
    pub error: String,
}

fn source_text(source: &PluginSource) -> String {
    source.to_string()
}

fn missing_labels(state: &PluginState) -> String {
    state
        .missing()
        .iter()
        .map(|spec| spec.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Template, WebTemplate)]
#[template(path = "plugins.html")]
struct PluginsPage {
    nav: Nav,
    name: String,
    base: String,
    tab: &'static str,
    plugins: Vec<PluginRow>,
    broken: Vec<BrokenRow>,
}

/// `GET /settings/{org}/projects/{project}/plugins/`
pub async fn list(State(state): State<AppState>, user: UiUser, grant: Grant) -> UiResult {
    let (org, project) = grant.into_project()?;
    let nav = Nav::new(&state, &user, &org, "settings", Some(project.id)).await?;
    let listed = plugin_settings::list(&state, project.id).await?;
    let plugins = listed
        .usable
        .iter()
        .map(|p| PluginRow {
            id: p.description().id.clone(),
            title: p.description().title.clone(),
            kind: p.description().kind.as_str(),
            version: p.description().version.clone(),
            source: source_text(&p.source),
            enabled: p.enabled,
            missing: missing_labels(p),
        })
        .collect();
    let broken = listed
        .broken
        .into_iter()
        .map(|b| BrokenRow {
            id: b.id,
            source: source_text(&b.source),
            error: b.error,
        })
        .collect();
    Ok(PluginsPage {
        base: format!("/settings/{}/projects/{}/", org.slug, project.slug),
        nav,
        name: project.name,
        tab: "plugins",
        plugins,
        broken,
    }
    .into_response())
}

/// One field of a settings form.
pub struct FieldView {
    /// The option key (the input's name).
    pub key: String,
    /// Its label.
    pub label: String,
    /// Its help line.
    pub help: String,
    /// `text`, `textarea`, `password`, `url`, `email`, `checkbox` or `select`.
    pub input: &'static str,
    /// The value shown (always empty for a secret).
    pub value: String,
    /// For a checkbox: checked.
    pub checked: bool,
    /// Must have a value.
    pub required: bool,
    /// For a secret: one is saved.
    pub saved: bool,
    /// The error of the last submission.
    pub error: Option<String>,
    /// For a select: `(value, selected)`.
    pub choices: Vec<(String, bool)>,
}

/// The form fields of `specs` with `values` (stored, or as submitted), and `errors` by key.
pub fn fields(
    specs: &[SettingSpec],
    values: &SettingValues,
    saved: &SettingValues,
    errors: &SettingErrors,
) -> Vec<FieldView> {
    specs
        .iter()
        .map(|spec| {
            let text = match values.0.get(&spec.key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let input = match spec.kind {
                SettingKind::Text => "text",
                SettingKind::TextArea | SettingKind::UrlList => "textarea",
                SettingKind::Secret => "password",
                SettingKind::Url => "url",
                SettingKind::Email => "email",
                SettingKind::Bool => "checkbox",
                SettingKind::Choice(_) => "select",
            };
            let choices = match &spec.kind {
                SettingKind::Choice(choices) => {
                    choices.iter().map(|c| (c.clone(), *c == text)).collect()
                }
                _ => Vec::new(),
            };
            FieldView {
                key: spec.key.clone(),
                label: spec.label.clone(),
                help: spec.help.clone(),
                input,
                checked: values.flag(&spec.key),
                value: if spec.kind.is_secret() {
                    String::new()
                } else {
                    text
                },
                required: spec.required,
                saved: spec.kind.is_secret() && saved.text(&spec.key).is_some(),
                error: errors.0.get(&spec.key).cloned(),
                choices,
            }
        })
        .collect()
}

/// The option values a settings form posts for `specs`, as the API's JSON body: a checkbox
/// left unchecked is `false`, a field left empty clears it (a secret left empty keeps the saved
/// one). Keys the form has that `specs` do not declare are ignored.
pub fn form_body(specs: &[SettingSpec], form: &FormData) -> Map<String, Value> {
    specs
        .iter()
        .map(|spec| {
            let value = match spec.kind {
                SettingKind::Bool => Value::Bool(form.get(&spec.key).is_some()),
                _ => Value::String(form.get(&spec.key).unwrap_or_default().to_owned()),
            };
            (spec.key.clone(), value)
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "plugin.html")]
struct PluginPage {
    nav: Nav,
    name: String,
    base: String,
    tab: &'static str,
    id: String,
    title: String,
    kind: &'static str,
    version: String,
    source: String,
    enabled: bool,
    missing: String,
    fields: Vec<FieldView>,
    error: Option<String>,
    can_edit: bool,
    can_disable: bool,
}

/// The `{plugin}` of a path (a plugin's settings page, a user's switch for it, an issue's
/// ticket forms).
#[derive(serde::Deserialize)]
pub struct PluginPath {
    pub(super) plugin: String,
}

async fn render(
    state: &AppState,
    user: &UiUser,
    grant: &Grant,
    plugin: &PluginState,
    shown: &SettingValues,
    errors: &SettingErrors,
) -> UiResult {
    let project = grant.project()?;
    let nav = Nav::new(state, user, &grant.org, "settings", Some(project.id)).await?;
    let description = plugin.description();
    let status = if errors.0.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = PluginPage {
        base: format!("/settings/{}/projects/{}/", grant.org.slug, project.slug),
        nav,
        name: project.name.clone(),
        tab: "plugins",
        id: description.id.clone(),
        title: description.title.clone(),
        kind: description.kind.as_str(),
        version: description.version.clone(),
        source: source_text(&plugin.source),
        enabled: plugin.enabled,
        missing: missing_labels(plugin),
        fields: fields(&description.project_settings, shown, &plugin.values, errors),
        error: errors.0.get("__all__").cloned(),
        can_edit: grant.access.has(Scope::ProjectWrite),
        can_disable: grant.access.has(Scope::ProjectAdmin),
    };
    Ok((status, page).into_response())
}

/// `GET /settings/{org}/projects/{project}/plugins/{plugin}/`
pub async fn page(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(PluginPath { plugin }): Path<PluginPath>,
) -> UiResult {
    let project = grant.project()?;
    let plugin = plugin_settings::get(&state, project.id, &plugin).await?;
    render(
        &state,
        &user,
        &grant,
        &plugin,
        &plugin.values,
        &SettingErrors::default(),
    )
    .await
}

fn plugin_url(grant: &Grant, plugin_id: &str) -> Result<String, UiError> {
    let project = grant.project()?;
    Ok(format!(
        "/settings/{}/projects/{}/plugins/{plugin_id}/",
        grant.org.slug, project.slug
    ))
}

/// `POST /settings/{org}/projects/{project}/plugins/{plugin}/`: saves the settings form.
pub async fn configure(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(PluginPath { plugin }): Path<PluginPath>,
    body: String,
) -> UiResult {
    let project = grant.project()?;
    let current = plugin_settings::get(&state, project.id, &plugin).await?;
    let form = FormData::parse(&body);
    let options = form_body(&current.description().project_settings, &form);
    match plugin_settings::configure(&state, &grant, &plugin, &options).await {
        Ok(_) => {
            flash_redirect(
                &user.session,
                "Plugin settings saved.",
                &plugin_url(&grant, &plugin)?,
            )
            .await
        }
        Err(SettingsChangeError::Invalid(errors)) => {
            let submitted = SettingValues(options.into_iter().collect());
            render(&state, &user, &grant, &current, &submitted, &errors).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /settings/{org}/projects/{project}/plugins/{plugin}/enable/`
pub async fn enable(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(PluginPath { plugin }): Path<PluginPath>,
) -> UiResult {
    plugin_settings::set_enabled(&state, &grant, &plugin, true).await?;
    flash_redirect(
        &user.session,
        "Plugin enabled.",
        &plugin_url(&grant, &plugin)?,
    )
    .await
}

/// `POST /settings/{org}/projects/{project}/plugins/{plugin}/disable/`
pub async fn disable(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(PluginPath { plugin }): Path<PluginPath>,
) -> UiResult {
    plugin_settings::set_enabled(&state, &grant, &plugin, false).await?;
    flash_redirect(
        &user.session,
        "Plugin disabled.",
        &plugin_url(&grant, &plugin)?,
    )
    .await
}
