//! Plugins, as Sentry's legacy plugin model: a **notification plugin** tells people about issues
//! (mail, webhooks, chat), an **issue-tracking plugin** creates or links a ticket (Jira). Each
//! declares an id, a title, a version and the settings it needs per project and per user
//! ([`settings`]); the `notify` crate holds the implementations (built-in, and external
//! executables speaking a JSON protocol) and one registry of them.
//!
//! What a plugin is given ([`Notification`], [`Recipient`]) is built by the worker from one
//! project's data only, so a plugin never sees another project's data.

pub mod settings;

use std::future::Future;
use std::pin::Pin;

use crate::alerts::Reason;
use crate::level::Level;
pub use settings::{SettingErrors, SettingKind, SettingSpec, SettingValues};

/// A future a plugin returns (the traits are object-safe, so the registry holds `dyn` plugins).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a plugin does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// Tells people about issues.
    Notification,
    /// Creates and links tickets in an issue tracker.
    IssueTracking,
}

impl PluginKind {
    /// The name shown by `errhound plugins list` and the API (`type` in Sentry's plugin JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Notification => "notification",
            PluginKind::IssueTracking => "issue-tracking",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<PluginKind> {
        match name {
            "notification" => Some(PluginKind::Notification),
            "issue-tracking" => Some(PluginKind::IssueTracking),
            _ => None,
        }
    }
}

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDescription {
    /// The id in paths and rules (`mail`, `webhooks`, ...): see [`is_valid_id`].
    pub id: String,
    /// The name shown to people.
    pub title: String,
    /// The plugin's own version.
    pub version: String,
    /// What it does.
    pub kind: PluginKind,
    /// Settings per project.
    pub project_settings: Vec<SettingSpec>,
    /// Settings per user (e.g. their chat handle).
    pub user_settings: Vec<SettingSpec>,
}

/// Longest plugin id.
pub const MAX_ID_CHARS: usize = 40;

/// Whether `id` is a plugin id: 1 to 40 of `a-z`, `0-9` and `-`, starting with a letter (it
/// becomes part of a path and of the executable's name `errhound-plugin-<id>`).
pub fn is_valid_id(id: &str) -> bool {
    id.len() <= MAX_ID_CHARS
        && id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The project an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSummary {
    /// Its id.
    pub id: i64,
    /// Its slug.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// The slug of its organization.
    pub org_slug: String,
}

/// A frame shown in a notification (the top in-app frames, innermost first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSummary {
    /// The function, if known.
    pub function: Option<String>,
    /// The file or module.
    pub filename: Option<String>,
    /// The line.
    pub lineno: Option<u64>,
}

/// One issue in a notification, with the event that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifiedIssue {
    /// The issue's id.
    pub id: i64,
    /// Its short id (`SHOP-1A`).
    pub short_id: String,
    /// Its title.
    pub title: String,
    /// Its culprit.
    pub culprit: String,
    /// Its level.
    pub level: Level,
    /// Its page in the UI.
    pub url: String,
    /// How often it has been seen.
    pub times_seen: u64,
    /// Why it is sent: what happened to the issue (an alert), or what a person did (a
    /// workflow notice, sent by mail only).
    pub reason: Reason,
    /// Who did it (a workflow notice's actor, by name); `None` for alerts and the system.
    pub actor: Option<String>,
    /// A workflow notice's detail: the comment's text (`Commented`), the slug of the team
    /// the issue went to (`Assigned` to a team).
    pub detail: Option<String>,
    /// The names of the rules that fired.
    pub rules: Vec<String>,
    /// The event's id (32 hex digits).
    pub event_id: String,
    /// The event's environment.
    pub environment: Option<String>,
    /// The event's release.
    pub release: Option<String>,
    /// The event's tags.
    pub tags: Vec<(String, String)>,
    /// The top in-app frames.
    pub frames: Vec<FrameSummary>,
}

/// What a notification plugin sends: one issue, or a digest of several of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The project.
    pub project: ProjectSummary,
    /// The issues, oldest first.
    pub issues: Vec<NotifiedIssue>,
}

/// Someone a notification is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Their user id.
    pub user_id: i64,
    /// Their e-mail address.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Their settings for this plugin.
    pub settings: SettingValues,
}

/// Why a plugin could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// Its settings do not allow it (missing or refused values): retrying will not help.
    #[error("not configured: {0}")]
    Config(String),
    /// The target could not be reached or did not answer in time: retried later.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The target answered with a refusal (`retry` tells whether trying again may help, as for
    /// a 429 or a 5xx).
    #[error("refused: {detail}")]
    Refused {
        /// What the target said.
        detail: String,
        /// Whether a later attempt may succeed.
        retry: bool,
    },
    /// An external plugin broke its protocol (crashed, hung, printed something else).
    #[error("the plugin misbehaved: {0}")]
    Misbehaved(String),
}

impl PluginError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            PluginError::Config(_) => false,
            PluginError::Unreachable(_) | PluginError::Misbehaved(_) => true,
            PluginError::Refused { retry, .. } => *retry,
        }
    }
}

/// A ticket in an issue tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Its key (`OPS-12`).
    pub key: String,
    /// Its page.
    pub url: String,
}

/// The answer of the default `validate` hooks: no errors beyond [`settings::validate`]'s.
fn no_more_checks<'a>() -> BoxFuture<'a, Result<SettingErrors, PluginError>> {
    Box::pin(std::future::ready(Ok(SettingErrors::default())))
}

/// A plugin that tells people about issues.
pub trait NotificationPlugin: Send + Sync {
    /// What it is.
    fn describe(&self) -> &PluginDescription;

    /// The plugin's own checks of project settings that already passed
    /// [`settings::validate`]: errors by key (as Sentry's `{"errors": {...}}`), empty when
    /// fine. The default has none.
    fn validate<'a>(
        &'a self,
        _settings: &'a SettingValues,
    ) -> BoxFuture<'a, Result<SettingErrors, PluginError>> {
        no_more_checks()
    }

    /// Sends `notification` to `recipients` with the project's `settings`. `idempotency_key`
    /// is the same for every attempt of one delivery, so a target that honours it (a header or
    /// a message id) drops a repeat after a crash mid-send.
    fn notify<'a>(
        &'a self,
        notification: &'a Notification,
        settings: &'a SettingValues,
        recipients: &'a [Recipient],
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), PluginError>>;
}

/// A plugin that creates or links tickets.
pub trait IssueTrackingPlugin: Send + Sync {
    /// What it is.
    fn describe(&self) -> &PluginDescription;

    /// The plugin's own checks of project settings, as [`NotificationPlugin::validate`].
    fn validate<'a>(
        &'a self,
        _settings: &'a SettingValues,
    ) -> BoxFuture<'a, Result<SettingErrors, PluginError>> {
        no_more_checks()
    }

    /// Creates a ticket for `issue` (a [`Notification`] of one issue) with `title` and
    /// `description`.
    fn create_ticket<'a>(
        &'a self,
        issue: &'a Notification,
        settings: &'a SettingValues,
        title: &'a str,
        description: &'a str,
    ) -> BoxFuture<'a, Result<Ticket, PluginError>>;

    /// Looks up the existing ticket `key`, to link it.
    fn find_ticket<'a>(
        &'a self,
        settings: &'a SettingValues,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Ticket, PluginError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_ids_are_safe_in_paths_and_file_names() {
        for good in ["mail", "webhooks", "signed-chat", "jira2"] {
            assert!(is_valid_id(good), "{good}");
        }
        for bad in ["", "Mail", "2fa", "../x", "a b", "a_b", &"x".repeat(41)] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn only_lasting_failures_are_not_retried() {
        assert!(!PluginError::Config("no url".into()).is_retryable());
        assert!(PluginError::Unreachable("timeout".into()).is_retryable());
        assert!(
            !PluginError::Refused {
                detail: "400".into(),
                retry: false
            }
            .is_retryable()
        );
        assert!(PluginError::Misbehaved("garbage".into()).is_retryable());
        assert_eq!(
            PluginKind::parse(PluginKind::IssueTracking.as_str()),
            Some(PluginKind::IssueTracking)
        );
    }
}
