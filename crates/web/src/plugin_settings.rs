//! Plugin settings, one rule for the API and the UI: per project, a plugin is enabled or
//! disabled and configured (values checked by [`Plugin::configure`], secrets sealed with the
//! server key before the store, each change audited as Sentry's plugin endpoints audit it:
//! `integration.add`, `integration.edit`, `integration.remove`); per user, alerts on or off for
//! each project they can see, workflow notices on or off, and for each notification plugin
//! their switch and its declared user settings.
//!
//! Plugins come from the registry the server started with ([`AppState::alerting`]); a server
//! state built without one (tests of the router alone) has no plugins.

use std::collections::BTreeMap;

use errhound_domain::AuditAction;
use errhound_domain::plugin::{
    PluginDescription, PluginKind, SettingErrors, SettingSpec, SettingValues, settings,
};
use errhound_notify::deliver::{enabled_in_project, settings_of};
use errhound_notify::registry::InvalidSettings;
use errhound_notify::{Plugin, PluginRegistry, PluginSource, SecretError, ServerKey};
use errhound_store::alerts::plugins::{self, ProjectPlugin};
use errhound_store::users::User;
use errhound_store::{StoreError, audit, now_ms, orgs};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::api::access::{self, Grant};
use crate::lifecycle::ChangeError;

/// Why a change of typed settings was not made: a plugin's here, an SSO provider's in
/// [`crate::sso_settings`].
#[derive(Debug, thiserror::Error)]
pub enum SettingsChangeError {
    /// Values are invalid: Sentry's `{"errors": {"option": "message"}}`.
    #[error("{0}")]
    Invalid(SettingErrors),
    /// The saved secrets do not open with this server's key (another key, or altered).
    #[error("the saved secrets cannot be opened: {0}")]
    Sealed(#[from] SecretError),
    /// Anything else (not found, the database).
    #[error(transparent)]
    Change(#[from] ChangeError),
}

impl From<StoreError> for SettingsChangeError {
    fn from(error: StoreError) -> SettingsChangeError {
        SettingsChangeError::Change(ChangeError::Store(error))
    }
}

/// Sentry's message for a plugin that does not exist.
pub(crate) const NO_PLUGIN: &str = "The requested resource does not exist";

/// A usable plugin and its state in one project.
#[derive(Debug, Clone)]
pub struct PluginState {
    /// The plugin.
    pub plugin: Plugin,
    /// Where it comes from.
    pub source: PluginSource,
    /// Whether it is on in the project.
    pub enabled: bool,
    /// Its stored settings (secret values sealed: never show them).
    pub values: SettingValues,
}

impl PluginState {
    /// What the plugin is.
    pub fn description(&self) -> &PluginDescription {
        self.plugin.describe()
    }

    /// The required settings without a value ("needs setup").
    pub fn missing(&self) -> Vec<&SettingSpec> {
        settings::missing(&self.description().project_settings, &self.values)
    }

    /// The settings as Sentry's plugin `config` list (secrets as `hasSavedValue` only).
    pub fn config(&self) -> Value {
        settings::shown(&self.description().project_settings, &self.values)
    }
}

/// An external plugin that failed to describe itself at start-up.
#[derive(Debug, Clone)]
pub struct BrokenPlugin {
    /// Its id (from the file name).
    pub id: String,
    /// Its executable.
    pub source: PluginSource,
    /// Why it is not usable.
    pub error: String,
}

/// Every plugin of the registry in one project.
#[derive(Debug, Clone, Default)]
pub struct ProjectPlugins {
    /// The usable ones, built-ins first.
    pub usable: Vec<PluginState>,
    /// External ones that failed to load.
    pub broken: Vec<BrokenPlugin>,
}

fn registry(state: &AppState) -> Option<(&PluginRegistry, &ServerKey)> {
    state
        .alerting
        .as_ref()
        .map(|sender| (sender.registry.as_ref(), sender.key.as_ref()))
}

fn state_of(plugin: &Plugin, source: &PluginSource, stored: Option<&ProjectPlugin>) -> PluginState {
    let id = &plugin.describe().id;
    PluginState {
        plugin: plugin.clone(),
        source: source.clone(),
        enabled: enabled_in_project(id, stored),
        values: stored
            .map(|row| settings_of(&row.settings))
            .unwrap_or_default(),
    }
}

/// Every plugin of the registry with its state in the project.
pub async fn list(state: &AppState, project_id: i64) -> Result<ProjectPlugins, StoreError> {
    let Some((registry, _)) = registry(state) else {
        return Ok(ProjectPlugins::default());
    };
    let mut conn = state.db.read_latest().await?;
    let rows: BTreeMap<String, ProjectPlugin> =
        plugins::project_plugins(&mut conn.conn(), project_id)
            .await?
            .into_iter()
            .map(|row| (row.plugin_id.clone(), row))
            .collect();
    let mut listed = ProjectPlugins::default();
    for entry in registry.list() {
        match &entry.plugin {
            Ok(plugin) => listed
                .usable
                .push(state_of(plugin, &entry.source, rows.get(&entry.id))),
            Err(error) => listed.broken.push(BrokenPlugin {
                id: entry.id.clone(),
                source: entry.source.clone(),
                error: error.clone(),
            }),
        }
    }
    Ok(listed)
}

/// One usable plugin with its state in the project.
pub async fn get(
    state: &AppState,
    project_id: i64,
    plugin_id: &str,
) -> Result<PluginState, SettingsChangeError> {
    let (plugin, source) = find(state, plugin_id)?;
    let mut conn = state.db.read_latest().await?;
    let stored = plugins::project_plugin(&mut conn.conn(), project_id, plugin_id).await?;
    Ok(state_of(&plugin, &source, stored.as_ref()))
}

fn find(state: &AppState, plugin_id: &str) -> Result<(Plugin, PluginSource), SettingsChangeError> {
    registry(state)
        .and_then(|(registry, _)| {
            registry
                .list()
                .iter()
                .find(|entry| entry.id == plugin_id)
                .and_then(|entry| {
                    entry
                        .plugin
                        .as_ref()
                        .ok()
                        .map(|p| (p.clone(), entry.source.clone()))
                })
        })
        .ok_or(SettingsChangeError::Change(ChangeError::NotFound(
            NO_PLUGIN,
        )))
}

fn path_project(grant: &Grant) -> Result<&errhound_store::projects::Project, ChangeError> {
    grant
        .project()
        .map_err(|_| ChangeError::NotFound("The requested project does not exist."))
}

/// Turns the plugin on or off in the path's project (Sentry's `POST`/`DELETE
/// .../plugins/{id}/`), with its audit entry. Enabling a plugin whose required settings are
/// missing is allowed, as in Sentry; the UI says it needs setup.
pub async fn set_enabled(
    state: &AppState,
    grant: &Grant,
    plugin_id: &str,
    enabled: bool,
) -> Result<(), SettingsChangeError> {
    let project = path_project(grant)?;
    find(state, plugin_id)?;
    let mut tx = state.db.begin().await?;
    plugins::set_enabled(&mut tx.conn(), project.id, plugin_id, enabled, now_ms()).await?;
    let action = if enabled {
        AuditAction::IntegrationAdd
    } else {
        AuditAction::IntegrationRemove
    };
    record(&mut tx, grant, action, plugin_id, &project.slug).await?;
    tx.commit().await?;
    tracing::info!(
        project.id = project.id,
        plugin.id = plugin_id,
        enabled,
        "plugin switched"
    );
    Ok(())
}

/// Configures the plugin in the path's project with `body`'s option values (Sentry's `PUT
/// .../plugins/{id}/`): checked by [`Plugin::configure`] on top of the saved values (an empty
/// secret keeps the saved one), secrets sealed, then stored with the audit entry.
pub async fn configure(
    state: &AppState,
    grant: &Grant,
    plugin_id: &str,
    body: &Map<String, Value>,
) -> Result<PluginState, SettingsChangeError> {
    let project = path_project(grant)?;
    let (plugin, source) = find(state, plugin_id)?;
    let Some((_, key)) = registry(state) else {
        return Err(ChangeError::NotFound(NO_PLUGIN).into());
    };
    let specs = &plugin.describe().project_settings;
    // Read, check (an external plugin's check runs a process: no transaction is held while it
    // runs, so ingest never waits on it), then write.
    let current = {
        let mut conn = state.db.read_latest().await?;
        plugins::project_plugin(&mut conn.conn(), project.id, plugin_id)
            .await?
            .map(|row| settings_of(&row.settings))
            .unwrap_or_default()
    };
    let opened = key.open_settings(specs, &current)?;
    let values = plugin
        .configure(&opened, body)
        .await
        .map_err(|invalid| match invalid {
            InvalidSettings::Values(errors) => SettingsChangeError::Invalid(errors),
            InvalidSettings::Plugin(error) => SettingsChangeError::Invalid(SettingErrors(
                BTreeMap::from([("__all__".to_owned(), error.to_string())]),
            )),
        })?;
    let sealed = key.seal_opened(specs, &values);
    let text = Value::Object(sealed.0.clone().into_iter().collect()).to_string();
    let mut tx = state.db.begin().await?;
    plugins::set_settings(&mut tx.conn(), project.id, plugin_id, &text, now_ms()).await?;
    record(
        &mut tx,
        grant,
        AuditAction::IntegrationEdit,
        plugin_id,
        &project.slug,
    )
    .await?;
    let stored = plugins::project_plugin(&mut tx.conn(), project.id, plugin_id).await?;
    tx.commit().await?;
    tracing::info!(
        project.id = project.id,
        plugin.id = plugin_id,
        "plugin configured"
    );
    Ok(state_of(&plugin, &source, stored.as_ref()))
}

async fn record(
    tx: &mut errhound_store::Tx,
    grant: &Grant,
    action: AuditAction,
    plugin_id: &str,
    project_slug: &str,
) -> Result<(), StoreError> {
    let project_id = grant.project().ok().map(|p| p.id);
    audit::record(
        &mut tx.conn(),
        grant.org.id,
        &grant.audit_actor(),
        action,
        project_id,
        &json!({"integration": plugin_id, "project": project_slug}),
        now_ms(),
    )
    .await
}

/// A project a user can see, with their alerts switch for it.
#[derive(Debug, Clone)]
pub struct ProjectChoice {
    /// The organization's slug.
    pub org_slug: String,
    /// The organization's name.
    pub org_name: String,
    /// The project's id.
    pub project_id: i64,
    /// Its slug.
    pub project_slug: String,
    /// Its name.
    pub project_name: String,
    /// Whether the user receives its alerts.
    pub alerts: bool,
}

/// A notification plugin with a user's switch and settings for it.
#[derive(Debug, Clone)]
pub struct PluginChoice {
    /// The plugin.
    pub plugin: Plugin,
    /// Whether the user receives its notifications.
    pub enabled: bool,
    /// Their settings for it.
    pub values: SettingValues,
}

/// The projects `user` can see, in every organization of theirs, oldest organization first.
async fn visible_projects(state: &AppState, user: &User) -> Result<Vec<ProjectChoice>, StoreError> {
    let mut conn = state.db.read_latest().await?;
    let muted = plugins::muted_projects(&mut conn.conn(), user.id).await?;
    let mut choices = Vec::new();
    for org in orgs::list_for_user(&mut conn.conn(), user.id, user.is_superuser).await? {
        let Some(reach) = access::user_access(&mut conn.conn(), user, &org, None).await? else {
            continue;
        };
        for project in access::visible_projects(&mut conn.conn(), &reach, &org).await? {
            choices.push(ProjectChoice {
                org_slug: org.slug.clone(),
                org_name: org.name.clone(),
                project_id: project.id,
                project_slug: project.slug,
                project_name: project.name,
                alerts: !muted.contains(&project.id),
            });
        }
    }
    Ok(choices)
}

/// What the account's notification page shows.
#[derive(Debug, Clone)]
pub struct UserChoices {
    /// The projects the user can see, with their alerts switch.
    pub projects: Vec<ProjectChoice>,
    /// Whether they receive workflow notices (assigned, comments, regressions of what they
    /// resolved).
    pub workflow: bool,
    /// Every notification plugin, with their switch and settings.
    pub plugins: Vec<PluginChoice>,
}

/// What the account's notification page shows: the projects `user` can see with their alerts
/// switch, their workflow switch, and every notification plugin with their switch and settings.
pub async fn user_choices(state: &AppState, user: &User) -> Result<UserChoices, StoreError> {
    let projects = visible_projects(state, user).await?;
    let mut conn = state.db.read_latest().await?;
    let workflow = plugins::workflow_notices(&mut conn.conn(), user.id).await?;
    let Some((registry, _)) = registry(state) else {
        return Ok(UserChoices {
            projects,
            workflow,
            plugins: Vec::new(),
        });
    };
    let rows: BTreeMap<String, plugins::UserPlugin> =
        plugins::plugins_of_user(&mut conn.conn(), user.id)
            .await?
            .into_iter()
            .map(|row| (row.plugin_id.clone(), row))
            .collect();
    let choices = registry
        .list()
        .iter()
        .filter_map(|entry| entry.plugin.as_ref().ok())
        .filter(|plugin| plugin.describe().kind == PluginKind::Notification)
        .map(|plugin| {
            let row = rows.get(&plugin.describe().id);
            PluginChoice {
                plugin: plugin.clone(),
                enabled: row.is_none_or(|r| r.enabled),
                values: row.map(|r| settings_of(&r.settings)).unwrap_or_default(),
            }
        })
        .collect();
    Ok(UserChoices {
        projects,
        workflow,
        plugins: choices,
    })
}

/// Turns `user`'s workflow notices on or off.
pub async fn set_workflow_notices(
    state: &AppState,
    user: &User,
    enabled: bool,
) -> Result<(), StoreError> {
    let mut conn = state.db.write().await?;
    plugins::set_workflow_notices(&mut conn.conn(), user.id, enabled).await?;
    tracing::info!(user.id = user.id, enabled, "workflow notices switched");
    Ok(())
}

/// Turns `user`'s alerts for a project they can see on or off (else not found).
pub async fn set_project_alerts(
    state: &AppState,
    user: &User,
    project_id: i64,
    enabled: bool,
) -> Result<ProjectChoice, SettingsChangeError> {
    let Some(mut project) = visible_projects(state, user)
        .await?
        .into_iter()
        .find(|p| p.project_id == project_id)
    else {
        return Err(ChangeError::NotFound("The requested project does not exist.").into());
    };
    let mut conn = state.db.write().await?;
    plugins::set_project_alerts(&mut conn.conn(), user.id, project_id, enabled).await?;
    tracing::info!(
        user.id = user.id,
        project.id = project_id,
        enabled,
        "project alerts switched"
    );
    project.alerts = enabled;
    Ok(project)
}

/// Saves `user`'s switch for a notification plugin and their settings for it (`body`,
/// checked against the plugin's declared user settings on top of the saved ones).
pub async fn set_user_plugin(
    state: &AppState,
    user: &User,
    plugin_id: &str,
    enabled: bool,
    body: &Map<String, Value>,
) -> Result<(), SettingsChangeError> {
    let (plugin, _) = find(state, plugin_id)?;
    if plugin.describe().kind != PluginKind::Notification {
        return Err(ChangeError::NotFound(NO_PLUGIN).into());
    }
    let Some((_, key)) = registry(state) else {
        return Err(ChangeError::NotFound(NO_PLUGIN).into());
    };
    let specs = &plugin.describe().user_settings;
    let mut conn = state.db.write().await?;
    let current = plugins::plugins_of_user(&mut conn.conn(), user.id)
        .await?
        .into_iter()
        .find(|row| row.plugin_id == plugin_id)
        .map(|row| settings_of(&row.settings))
        .unwrap_or_default();
    // A user's secrets (an external plugin may declare some) are sealed as a project's are.
    let current = key.open_settings(specs, &current)?;
    let values = settings::validate(specs, &current, body).map_err(SettingsChangeError::Invalid)?;
    let sealed = key.seal_opened(specs, &values);
    let text = Value::Object(sealed.0.into_iter().collect()).to_string();
    plugins::set_user_plugin(&mut conn.conn(), user.id, plugin_id, enabled, &text).await?;
    tracing::info!(
        user.id = user.id,
        plugin.id = plugin_id,
        enabled,
        "user plugin choice saved"
    );
    Ok(())
}
