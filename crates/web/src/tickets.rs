//! Tickets in issue trackers, one rule for the API (Sentry's legacy
//! `/issues/{id}/plugins/{plugin}/create|link|unlink/`) and the issue page: the fields of the
//! create and link forms ([`form`]), create a ticket for an issue or link an existing one through
//! an issue-tracking plugin enabled in the issue's project, and store the link (one per plugin per
//! issue; linking again replaces it, see [`errhound_store::tickets`]); unlink it.
//!
//! The plugin is called with no transaction open (a slow tracker never holds SQLite's writer);
//! the link and its activity are written afterwards in one. A refusal of the tracker (a wrong
//! token, a missing project, its own validation) is a [`TicketError::Plugin`] the caller shows,
//! never a server error.

use std::sync::Arc;

use errhound_domain::plugin::{IssueTrackingPlugin, PluginError, PluginKind, Ticket};
use errhound_store::issues::Issue;
use errhound_store::projects::Project;
use errhound_store::tickets::{self, LinkActivity, TicketLink};
use errhound_store::users::User;
use errhound_store::{StoreError, events, now_ms};

use crate::AppState;
use crate::lifecycle::ChangeError;
use crate::plugin_settings::{self, NO_PLUGIN};

/// Longest description sent to a tracker (Jira refuses more than 32,767 characters).
pub const MAX_DESCRIPTION_CHARS: usize = 30_000;

/// A form's field, in the shape of Sentry's legacy issue plugins (`GET .../create/`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FormField {
    /// The request's key (`title`).
    pub name: &'static str,
    /// What it is called (`Title`); a missing value is "{label} is a required field.".
    pub label: &'static str,
    /// The value a form starts with.
    pub default: String,
    /// `text` or `textarea`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Whether it may be left empty.
    pub required: bool,
    /// A hint shown with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<&'static str>,
}

const TITLE: (&str, &str) = ("title", "Title");
const DESCRIPTION: (&str, &str) = ("description", "Description");
const KEY: (&str, &str) = ("issue_id", "Issue");

/// Which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create a ticket.
    Create,
    /// Link an existing ticket.
    Link,
}

/// The fields of `action`'s form for `issue`: a title (the issue's) and a description for a new
/// ticket, the key of an existing one. The plugin adds the link to the issue itself, so the
/// description starts empty.
fn fields(action: Action, issue: &Issue) -> Vec<FormField> {
    let field = |(name, label): (&'static str, &'static str), kind, required| FormField {
        name,
        label,
        default: String::new(),
        kind,
        required,
        help: None,
    };
    match action {
        Action::Create => vec![
            FormField {
                default: issue.title.clone(),
                ..field(TITLE, "text", true)
            },
            FormField {
                help: Some("A link to this issue is added."),
                ..field(DESCRIPTION, "textarea", false)
            },
        ],
        Action::Link => vec![FormField {
            help: Some("The key of the ticket, like OPS-12."),
            ..field(KEY, "text", true)
        }],
    }
}

/// The form of `action` through `plugin_id` for `issue` (of `project`): the plugin must be an
/// issue tracker (else [`ChangeError::NotFound`]) that is on and set up in the project (else a
/// [`TicketError::Plugin`] with a [`PluginError::Config`]), as Sentry checks before answering.
pub async fn form(
    state: &AppState,
    project: &Project,
    issue: &Issue,
    plugin_id: &str,
    action: Action,
) -> Result<Vec<FormField>, TicketError> {
    let plugin = plugin(state, plugin_id)?;
    let Some(sender) = state.alerting.as_ref() else {
        return Err(ChangeError::NotFound(NO_PLUGIN).into());
    };
    let mut conn = state.db.read_latest().await?;
    let opened = sender
        .opened_settings(&mut conn.conn(), project.id, plugin.describe())
        .await?;
    drop(conn);
    if let Err(error) = opened {
        return Err(TicketError::Plugin {
            plugin: plugin.describe().title.clone(),
            error,
        });
    }
    Ok(fields(action, issue))
}

/// What to link.
#[derive(Debug, Clone, Copy)]
pub enum TicketRequest<'a> {
    /// A new ticket with this title and description.
    Create {
        /// Its title (the issue's title is the form's default).
        title: &'a str,
        /// Its description.
        description: &'a str,
    },
    /// The existing ticket with this key (`OPS-12`).
    Link {
        /// Its key.
        key: &'a str,
    },
}

/// Why no ticket was linked.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// A field of the request is invalid (`title`, `description`, `issue_id`).
    #[error("{message}")]
    Invalid {
        /// The field, as Sentry's plugin forms name it.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The plugin is off or not set up in the project, or the tracker refused or failed.
    #[error("{plugin}: {error}")]
    Plugin {
        /// The plugin's name shown to people.
        plugin: String,
        /// What went wrong.
        error: PluginError,
    },
    /// No such plugin, or the database failed.
    #[error(transparent)]
    Change(#[from] ChangeError),
}

impl From<StoreError> for TicketError {
    fn from(error: StoreError) -> TicketError {
        TicketError::Change(ChangeError::Store(error))
    }
}

/// An issue-tracking plugin enabled in a project with every required setting: one the issue
/// page offers.
#[derive(Debug, Clone)]
pub struct Tracker {
    /// Its id (`jira`).
    pub id: String,
    /// Its name (`Jira`).
    pub title: String,
}

/// The issue-tracking plugins the project has enabled and set up.
pub async fn trackers(state: &AppState, project_id: i64) -> Result<Vec<Tracker>, StoreError> {
    Ok(plugin_settings::list(state, project_id)
        .await?
        .usable
        .into_iter()
        .filter(|p| {
            p.description().kind == PluginKind::IssueTracking && p.enabled && p.missing().is_empty()
        })
        .map(|p| Tracker {
            id: p.description().id.clone(),
            title: p.description().title.clone(),
        })
        .collect())
}

/// The tickets of an issue and the trackers its page offers.
#[derive(Debug, Clone, Default)]
pub struct IssueTickets {
    /// The linked tickets, each with its plugin's name (its id when no longer installed).
    pub linked: Vec<(TicketLink, String)>,
    /// The trackers a ticket can be created or linked with.
    pub offered: Vec<Tracker>,
}

/// What the issue page shows of `issue_id`'s tickets.
pub async fn of_issue(
    state: &AppState,
    project_id: i64,
    issue_id: i64,
) -> Result<IssueTickets, StoreError> {
    let offered = trackers(state, project_id).await?;
    let mut conn = state.db.read_latest().await?;
    let links = tickets::of_issues(&mut conn.conn(), &[issue_id]).await?;
    drop(conn);
    let linked = links
        .into_values()
        .flatten()
        .map(|link| {
            let name = state
                .alerting
                .as_ref()
                .and_then(|s| s.registry.get(&link.plugin_id))
                .map_or_else(|| link.plugin_id.clone(), |p| p.describe().title.clone());
            (link, name)
        })
        .collect();
    Ok(IssueTickets { linked, offered })
}

fn plugin(state: &AppState, plugin_id: &str) -> Result<Arc<dyn IssueTrackingPlugin>, ChangeError> {
    state
        .alerting
        .as_ref()
        .and_then(|sender| sender.registry.issue_tracking(plugin_id))
        .ok_or(ChangeError::NotFound(NO_PLUGIN))
}

fn check(request: &TicketRequest<'_>) -> Result<(), TicketError> {
    let invalid = |(field, _): (&'static str, &str), message: String| {
        Err(TicketError::Invalid { field, message })
    };
    // Sentry's `validate_form` message.
    let required = |(field, label): (&'static str, &str)| {
        invalid((field, label), format!("{label} is a required field."))
    };
    match request {
        TicketRequest::Create { title, .. } if title.trim().is_empty() => required(TITLE),
        TicketRequest::Create { description, .. }
            if description.chars().count() > MAX_DESCRIPTION_CHARS =>
        {
            invalid(
                DESCRIPTION,
                format!(
                    "{} has more than {MAX_DESCRIPTION_CHARS} characters.",
                    DESCRIPTION.1
                ),
            )
        }
        TicketRequest::Link { key } if key.trim().is_empty() => required(KEY),
        _ => Ok(()),
    }
}

/// Creates or finds the ticket `request` names through `plugin_id` for `issue` (of `project`)
/// and links it, recording `user` in the issue's activity.
pub async fn link(
    state: &AppState,
    project: &Project,
    issue: &Issue,
    user: &User,
    plugin_id: &str,
    request: TicketRequest<'_>,
) -> Result<TicketLink, TicketError> {
    let plugin = plugin(state, plugin_id)?;
    let Some(sender) = state.alerting.as_ref() else {
        return Err(ChangeError::NotFound(NO_PLUGIN).into());
    };
    check(&request)?;
    let title = plugin.describe().title.clone();
    let refused = |error: PluginError| {
        tracing::warn!(plugin.id = plugin_id, issue.id = issue.id, error = %error, "the issue tracker did not link a ticket");
        TicketError::Plugin {
            plugin: title.clone(),
            error,
        }
    };
    let mut conn = state.db.read_latest().await?;
    let settings = sender
        .opened_settings(&mut conn.conn(), project.id, plugin.describe())
        .await?
        .map_err(refused)?;
    let notification = match request {
        TicketRequest::Create { .. } => {
            let latest = events::edge_of_issue(&mut conn.conn(), issue.id, true).await?;
            let event_id = latest.map(|e| e.event_id).unwrap_or_default();
            sender
                .issue_notification(&mut conn.conn(), project.id, issue.id, &event_id, now_ms())
                .await?
        }
        TicketRequest::Link { .. } => None,
    };
    drop(conn);
    let ticket = match request {
        TicketRequest::Create { title, description } => {
            let Some(notification) = notification else {
                return Err(ChangeError::NotFound("The requested issue does not exist.").into());
            };
            plugin
                .create_ticket(&notification, &settings, title.trim(), description)
                .await
        }
        TicketRequest::Link { key } => plugin.find_ticket(&settings, key.trim()).await,
    }
    .and_then(checked)
    .map_err(refused)?;
    let link = TicketLink {
        issue_id: issue.id,
        plugin_id: plugin_id.to_owned(),
        key: ticket.key,
        url: ticket.url,
        created_at: now_ms(),
    };
    let by = LinkActivity {
        user_id: user.id,
        provider: &title,
        title: match request {
            TicketRequest::Create { title, .. } => Some(title.trim()),
            TicketRequest::Link { .. } => None,
        },
    };
    let mut tx = state.db.begin().await?;
    tickets::link(&mut tx, &link, &by).await?;
    tx.commit().await?;
    tracing::info!(
        plugin.id = plugin_id,
        issue.id = issue.id,
        ticket = %link.key,
        "ticket linked"
    );
    Ok(link)
}

/// A ticket is shown as a link: an external plugin's answer must be a web page with a key.
fn checked(ticket: Ticket) -> Result<Ticket, PluginError> {
    let web = ticket.url.starts_with("https://") || ticket.url.starts_with("http://");
    if ticket.key.trim().is_empty() || ticket.key.len() > 200 || !web {
        return Err(PluginError::Misbehaved(format!(
            "the ticket it answered is not a key and a web page: {:?} at {:?}",
            ticket.key, ticket.url
        )));
    }
    Ok(ticket)
}

/// Removes the link of `plugin_id` from `issue` (the tracker is not called: its ticket stays);
/// the link removed, `None` when there was none. A plugin since uninstalled can still be
/// unlinked; an unknown one with nothing linked is [`ChangeError::NotFound`].
pub async fn unlink(
    state: &AppState,
    issue: &Issue,
    plugin_id: &str,
) -> Result<Option<TicketLink>, TicketError> {
    let mut conn = state.db.write().await?;
    let removed = tickets::unlink(&mut conn.conn(), issue.id, plugin_id).await?;
    drop(conn);
    match &removed {
        Some(link) => {
            tracing::info!(plugin.id = plugin_id, issue.id = issue.id, ticket = %link.key, "ticket unlinked");
        }
        None => {
            plugin(state, plugin_id)?;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(key: &str, url: &str) -> Ticket {
        Ticket {
            key: key.to_owned(),
            url: url.to_owned(),
        }
    }

    #[test]
    fn a_plugins_ticket_must_be_a_key_and_a_web_page() {
        let good = ticket("OPS-1", "https://acme.atlassian.net/browse/OPS-1");
        assert_eq!(checked(good.clone()).ok(), Some(good));
        assert!(checked(ticket("OPS-1", "http://jira.local/browse/OPS-1")).is_ok());
        for bad in [
            ticket("OPS-1", "javascript:alert(1)"),
            ticket("OPS-1", "/browse/OPS-1"),
            ticket(" ", "https://acme.atlassian.net/browse/OPS-1"),
            ticket(&"K".repeat(201), "https://acme.atlassian.net/browse/K"),
        ] {
            assert!(
                matches!(checked(bad.clone()), Err(PluginError::Misbehaved(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn missing_fields_get_sentrys_messages_by_the_forms_labels() {
        let message = |request| match check(&request) {
            Err(TicketError::Invalid { field, message }) => Some((field, message)),
            _ => None,
        };
        assert_eq!(
            message(TicketRequest::Create {
                title: "  ",
                description: ""
            }),
            Some(("title", "Title is a required field.".to_owned()))
        );
        assert_eq!(
            message(TicketRequest::Link { key: "" }),
            Some(("issue_id", "Issue is a required field.".to_owned()))
        );
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert_eq!(
            message(TicketRequest::Create {
                title: "KeyError",
                description: &long
            })
            .map(|(field, _)| field),
            Some("description")
        );
        let fine = "x".repeat(MAX_DESCRIPTION_CHARS);
        assert!(
            check(&TicketRequest::Create {
                title: "KeyError",
                description: &fine
            })
            .is_ok()
        );
        assert!(check(&TicketRequest::Link { key: "OPS-2" }).is_ok());
    }
}
