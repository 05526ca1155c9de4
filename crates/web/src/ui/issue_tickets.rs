//! The issue page's tickets: "Create {tracker} issue" (title and description), "Link existing
//! {tracker} issue" (a key) and "Unlink", for the issue-tracking plugins the project has enabled
//! and set up. Each form POSTs and comes back to the page with a message; a tracker's refusal
//! (a wrong token, no such ticket) is that message, never an error page. The rule is
//! [`crate::tickets`], which the API calls too.

use axum::extract::{Path, State};
use errhound_domain::plugin::PluginError;

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::issue::flash_redirect;
use super::login::UiUser;
use super::plugins::PluginPath;
use crate::AppState;
use crate::api::access::Grant;
use crate::tickets::{self, TicketError, TicketRequest};

/// The message of a refusal the user can act on; other errors stay errors.
fn refusal(error: TicketError, doing: &str) -> UiResult<String> {
    match error {
        TicketError::Invalid { message, .. } => {
            Ok(format!("The ticket was not {doing}: {message}"))
        }
        TicketError::Plugin { plugin, error } => {
            let why = match error {
                PluginError::Refused { detail, .. } => detail,
                other => other.to_string(),
            };
            Ok(format!("The {plugin} issue was not {doing}: {why}"))
        }
        TicketError::Change(change) => Err(UiError::from(change)),
    }
}

async fn linked(
    state: &AppState,
    user: &UiUser,
    grant: &Grant,
    plugin_id: &str,
    request: TicketRequest<'_>,
) -> UiResult {
    let (project, issue) = (grant.project()?, grant.issue()?);
    let doing = match request {
        TicketRequest::Create { .. } => "created",
        TicketRequest::Link { .. } => "linked",
    };
    let message = match tickets::link(state, project, issue, &user.user, plugin_id, request).await {
        Ok(link) => format!("Issue {} {doing}.", link.key),
        Err(error) => refusal(error, doing)?,
    };
    back(user, grant, &message).await
}

async fn back(user: &UiUser, grant: &Grant, message: &str) -> UiResult {
    let page = format!(
        "/organizations/{}/issues/{}/#tickets",
        grant.org.slug,
        grant.issue()?.id
    );
    flash_redirect(&user.session, message, &page).await
}

/// `POST .../plugins/{plugin}/create/`: `title`, `description`.
pub async fn create(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(PluginPath { plugin }): Path<PluginPath>,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let request = TicketRequest::Create {
        title: form.get("title").unwrap_or(""),
        description: form.get("description").unwrap_or(""),
    };
    linked(&state, &user, &grant, &plugin, request).await
}

/// `POST .../plugins/{plugin}/link/`: `key`.
pub async fn link(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(PluginPath { plugin }): Path<PluginPath>,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let request = TicketRequest::Link {
        key: form.get("key").unwrap_or(""),
    };
    linked(&state, &user, &grant, &plugin, request).await
}

/// `POST .../plugins/{plugin}/unlink/`: the ticket stays in the tracker.
pub async fn unlink(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(PluginPath { plugin }): Path<PluginPath>,
) -> UiResult {
    let message = match tickets::unlink(&state, grant.issue()?, &plugin).await {
        Ok(Some(link)) => format!("Issue {} unlinked.", link.key),
        Ok(None) => "Nothing was linked.".to_owned(),
        Err(error) => refusal(error, "unlinked")?,
    };
    back(&user, &grant, &message).await
}
