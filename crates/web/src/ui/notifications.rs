//! The account's notification choices (`/settings/account/notifications/`): for each project
//! the user can see, alerts on or off; workflow notices (assigned to me, comments, regressions
//! of what I resolved) on or off; for each notification plugin, on or off for them and their
//! own settings for it (a chat handle, another address). The rule is
//! [`crate::plugin_settings`]; each form posts and redirects back (PRG), an invalid value is
//! shown next to its field.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::plugin::{SettingErrors, SettingValues};

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::UiUser;
use super::plugins::{FieldView, PluginPath, fields, form_body};
use crate::AppState;
use crate::plugin_settings::{self, ProjectChoice, SettingsChangeError};

/// A notification plugin with the user's choice.
pub struct PluginChoiceView {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// On for the user.
    pub enabled: bool,
    /// Its user settings.
    pub fields: Vec<FieldView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    nav: Nav,
    projects: Vec<ProjectChoice>,
    workflow: bool,
    plugins: Vec<PluginChoiceView>,
}

const PAGE: &str = "/settings/account/notifications/";

async fn render(
    state: &AppState,
    user: &UiUser,
    invalid: Option<(&str, &SettingValues, &SettingErrors)>,
) -> UiResult {
    let nav = Nav::outside_org(state, user, "account").await?;
    let choices = plugin_settings::user_choices(state, &user.user).await?;
    let plugins = choices
        .plugins
        .iter()
        .map(|choice| {
            let description = choice.plugin.describe();
            let (shown, errors) = match invalid {
                Some((id, submitted, errors)) if *id == description.id => (submitted, errors),
                _ => (&choice.values, &SettingErrors::default()),
            };
            PluginChoiceView {
                id: description.id.clone(),
                title: description.title.clone(),
                enabled: choice.enabled,
                fields: fields(&description.user_settings, shown, &choice.values, errors),
            }
        })
        .collect();
    let status = if invalid.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        NotificationsPage {
            nav,
            projects: choices.projects,
            workflow: choices.workflow,
            plugins,
        },
    )
        .into_response())
}

/// `GET /settings/account/notifications/`
pub async fn page(State(state): State<AppState>, user: UiUser) -> UiResult {
    render(&state, &user, None).await
}

/// `POST /settings/account/notifications/projects/`: `project` (an id) and `alerts`
/// (`on`/`off`).
pub async fn set_project(State(state): State<AppState>, user: UiUser, body: String) -> UiResult {
    let form = FormData::parse(&body);
    let project_id = form
        .text("project")
        .and_then(|p| p.parse::<i64>().ok())
        .ok_or_else(|| UiError::bad_request("Which project?"))?;
    let enabled = on_off(&form, "alerts")?;
    let project =
        plugin_settings::set_project_alerts(&state, &user.user, project_id, enabled).await?;
    let message = if enabled {
        format!("You receive the alerts of {} again.", project.project_name)
    } else {
        format!(
            "You no longer receive the alerts of {}.",
            project.project_name
        )
    };
    flash_redirect(
        &user.session,
        &message,
        &format!("{PAGE}#project-{project_id}"),
    )
    .await
}

/// `POST /settings/account/notifications/workflow/`: `workflow` (`on`/`off`).
pub async fn set_workflow(State(state): State<AppState>, user: UiUser, body: String) -> UiResult {
    let enabled = on_off(&FormData::parse(&body), "workflow")?;
    plugin_settings::set_workflow_notices(&state, &user.user, enabled).await?;
    let message = if enabled {
        "Workflow notifications are on for you."
    } else {
        "Workflow notifications are off for you."
    };
    flash_redirect(&user.session, message, &format!("{PAGE}#workflow")).await
}

fn on_off(form: &FormData, name: &str) -> Result<bool, UiError> {
    match form.text(name) {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        _ => Err(UiError::bad_request(format!("{name} must be on or off."))),
    }
}

/// `POST /settings/account/notifications/plugins/{plugin}/`: `enabled` (`on`/`off`) and the
/// plugin's user settings.
pub async fn set_plugin(
    State(state): State<AppState>,
    user: UiUser,
    Path(PluginPath { plugin }): Path<PluginPath>,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let enabled = on_off(&form, "enabled")?;
    let choices = plugin_settings::user_choices(&state, &user.user).await?;
    let Some(choice) = choices
        .plugins
        .iter()
        .find(|c| c.plugin.describe().id == plugin)
    else {
        return Err(UiError::not_found());
    };
    let options = form_body(&choice.plugin.describe().user_settings, &form);
    match plugin_settings::set_user_plugin(&state, &user.user, &plugin, enabled, &options).await {
        Ok(()) => {
            let title = &choice.plugin.describe().title;
            let message = if enabled {
                format!("{title} notifications are on for you.")
            } else {
                format!("{title} notifications are off for you.")
            };
            flash_redirect(&user.session, &message, &format!("{PAGE}#plugin-{plugin}")).await
        }
        Err(SettingsChangeError::Invalid(errors)) => {
            let submitted = SettingValues(options.into_iter().collect());
            render(&state, &user, Some((&plugin, &submitted, &errors))).await
        }
        Err(other) => Err(other.into()),
    }
}
