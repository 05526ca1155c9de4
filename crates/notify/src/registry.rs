//! The one registry of plugins, built once at start-up: the built-ins, then the external
//! executables found on `plugins.path` (each asked to `describe` itself).
//!
//! An external plugin that cannot describe itself is listed with its error (and logged), not
//! fatal; one whose id is already taken is skipped with a warning (a built-in always wins, then
//! the first directory of the path).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use errhound_config::Config;
use errhound_domain::plugin::{
    IssueTrackingPlugin, NotificationPlugin, PluginDescription, PluginError, SettingErrors,
    SettingValues, settings,
};
use serde_json::{Map, Value};

use crate::Mailer;
use crate::external::{EXECUTABLE_PREFIX, ExternalPlugin, id_of};
use crate::http::HttpClient;
use crate::plugins::{discord, jira, mail, signed_chat, slack, webhooks};

/// Sentry's message for a required setting left without a value.
pub const REQUIRED: &str = "This field is required.";

/// A plugin of either kind.
#[derive(Clone)]
pub enum Plugin {
    /// Tells people about issues.
    Notification(Arc<dyn NotificationPlugin>),
    /// Creates and links tickets.
    IssueTracking(Arc<dyn IssueTrackingPlugin>),
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plugin({})", self.describe().id)
    }
}

/// Why settings were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSettings {
    /// Values are invalid: Sentry's `{"errors": {...}}` (a 400).
    #[error("{0}")]
    Values(SettingErrors),
    /// The plugin could not check them (an external plugin failed).
    #[error("{0}")]
    Plugin(PluginError),
}

impl Plugin {
    /// What it is.
    pub fn describe(&self) -> &PluginDescription {
        match self {
            Plugin::Notification(p) => p.describe(),
            Plugin::IssueTracking(p) => p.describe(),
        }
    }

    /// The new project settings of `body` (a `PUT .../plugins/{id}/` or the settings form) on
    /// top of `current` (opened, not sealed): the declared checks, then every required setting
    /// must have a value (Sentry's "This field is required."), then the plugin's own checks. The
    /// one rule the API and the UI both call.
    pub async fn configure(
        &self,
        current: &SettingValues,
        body: &Map<String, Value>,
    ) -> Result<SettingValues, InvalidSettings> {
        let specs = &self.describe().project_settings;
        let values = settings::validate(specs, current, body).map_err(InvalidSettings::Values)?;
        let missing = settings::missing(specs, &values);
        if !missing.is_empty() {
            return Err(InvalidSettings::Values(SettingErrors(
                missing
                    .into_iter()
                    .map(|spec| (spec.key.clone(), REQUIRED.to_owned()))
                    .collect(),
            )));
        }
        let errors = match self {
            Plugin::Notification(p) => p.validate(&values).await,
            Plugin::IssueTracking(p) => p.validate(&values).await,
        }
        .map_err(InvalidSettings::Plugin)?;
        if errors.0.is_empty() {
            Ok(values)
        } else {
            Err(InvalidSettings::Values(errors))
        }
    }
}

/// Where a plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Compiled into Errhound.
    BuiltIn,
    /// An executable.
    External(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::BuiltIn => f.write_str("built-in"),
            PluginSource::External(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One registered plugin, or an external one that failed to describe itself.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The id (from the file name when `describe` failed).
    pub id: String,
    /// Where it comes from.
    pub source: PluginSource,
    /// The plugin, or why it is not usable.
    pub plugin: Result<Plugin, String>,
}

/// What the registry is built from.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// The mailer of `[mail]`, if configured.
    pub mailer: Option<Mailer>,
    /// The shared outbound client.
    pub http: HttpClient,
    /// Directories searched for external plugins (`plugins.path`).
    pub plugin_dirs: Vec<PathBuf>,
    /// Time limit of one external plugin request (`plugins.timeout_s`).
    pub timeout: Duration,
}

impl RegistryOptions {
    /// The options of `config` with `mailer`.
    pub fn from_config(config: &Config, mailer: Option<Mailer>) -> Result<RegistryOptions, String> {
        Ok(RegistryOptions {
            mailer,
            http: HttpClient::new(config.notify.allow_private_targets)?,
            plugin_dirs: config.plugins.dirs(),
            timeout: Duration::from_secs(config.plugins.timeout_s),
        })
    }
}

/// Every plugin, by id.
#[derive(Debug, Clone)]
pub struct PluginRegistry {
    entries: Vec<PluginEntry>,
}

/// The built-in plugins.
pub fn builtins(mailer: Option<Mailer>, http: &HttpClient) -> Vec<Plugin> {
    vec![
        Plugin::Notification(Arc::new(mail::MailPlugin::new(mailer))),
        Plugin::Notification(Arc::new(webhooks::WebhooksPlugin::new(http.clone()))),
        Plugin::Notification(Arc::new(slack::SlackPlugin::new(http.clone()))),
        Plugin::Notification(Arc::new(discord::DiscordPlugin::new(http.clone()))),
        Plugin::Notification(Arc::new(signed_chat::SignedChatPlugin::new(http.clone()))),
        Plugin::IssueTracking(Arc::new(jira::JiraPlugin::new(http.clone()))),
    ]
}

/// Whether `path` is a file its owner, group or others may execute.
fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The `errhound-plugin-*` executables of `dirs`, in order (by name within a directory).
pub fn discover(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(plugins.dir = %dir.display(), error = %e, "cannot read a plugin directory");
                continue;
            }
        };
        let mut here: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(EXECUTABLE_PREFIX))
            })
            .filter(|p| is_executable(p))
            .collect();
        here.sort();
        found.extend(here);
    }
    found
}

impl PluginRegistry {
    /// The built-ins and the external plugins of `options.plugin_dirs` (described
    /// concurrently, each within the time limit).
    pub async fn start(options: RegistryOptions) -> PluginRegistry {
        let mut entries: Vec<PluginEntry> = builtins(options.mailer, &options.http)
            .into_iter()
            .map(|plugin| PluginEntry {
                id: plugin.describe().id.clone(),
                source: PluginSource::BuiltIn,
                plugin: Ok(plugin),
            })
            .collect();
        let paths = discover(&options.plugin_dirs);
        let described = futures_util::future::join_all(
            paths
                .iter()
                .map(|path| ExternalPlugin::describe_at(path, options.timeout)),
        )
        .await;
        let mut taken: BTreeSet<String> = entries.iter().map(|e| e.id.clone()).collect();
        for (path, outcome) in paths.into_iter().zip(described) {
            let id = id_of(&path).unwrap_or_else(|| path.display().to_string());
            if taken.contains(&id) {
                tracing::warn!(plugin.id = %id, plugin.path = %path.display(), "an external plugin has the id of a plugin already registered; it is ignored");
                continue;
            }
            taken.insert(id.clone());
            let plugin = match outcome {
                Ok(external) => {
                    let external = Arc::new(external);
                    tracing::info!(plugin.id = %id, plugin.path = %path.display(), "registered an external plugin");
                    Ok(match external.description().kind {
                        errhound_domain::plugin::PluginKind::Notification => {
                            Plugin::Notification(external)
                        }
                        errhound_domain::plugin::PluginKind::IssueTracking => {
                            Plugin::IssueTracking(external)
                        }
                    })
                }
                Err(message) => {
                    tracing::error!(plugin.id = %id, plugin.path = %path.display(), error = %message, "an external plugin failed to describe itself; it is listed but not usable");
                    Err(message)
                }
            };
            entries.push(PluginEntry {
                id,
                source: PluginSource::External(path),
                plugin,
            });
        }
        PluginRegistry { entries }
    }

    /// The registry for `config` (see [`PluginRegistry::start`]).
    pub async fn from_config(
        config: &Config,
        mailer: Option<Mailer>,
    ) -> Result<PluginRegistry, String> {
        Ok(PluginRegistry::start(RegistryOptions::from_config(config, mailer)?).await)
    }

    /// Every plugin, built-ins first, with failed external ones.
    pub fn list(&self) -> &[PluginEntry] {
        &self.entries
    }

    /// The usable plugin `id`.
    pub fn get(&self, id: &str) -> Option<&Plugin> {
        self.entries
            .iter()
            .find(|e| e.id == id)
            .and_then(|e| e.plugin.as_ref().ok())
    }

    /// The notification plugin `id`.
    pub fn notification(&self, id: &str) -> Option<Arc<dyn NotificationPlugin>> {
        match self.get(id) {
            Some(Plugin::Notification(p)) => Some(p.clone()),
            _ => None,
        }
    }

    /// The issue-tracking plugin `id`.
    pub fn issue_tracking(&self, id: &str) -> Option<Arc<dyn IssueTrackingPlugin>> {
        match self.get(id) {
            Some(Plugin::IssueTracking(p)) => Some(p.clone()),
            _ => None,
        }
    }
}
