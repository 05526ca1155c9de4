//! What a logged-in user may see and change, through the API's access rules
//! ([`crate::api::access`]), with the UI's error pages: an organization the user is not a member
//! of is a 404 like a missing one.

use errhound_store::issues::Issue;
use errhound_store::orgs::Organization;
use errhound_store::projects::Project;
use errhound_store::users::User;

use super::error::{UiError, UiResult};
use crate::AppState;
use crate::api::access;

/// The organization `slug`, if the user may see it.
pub async fn organization(state: &AppState, user: &User, slug: &str) -> UiResult<Organization> {
    Ok(access::organization(state, user, slug).await?)
}

/// The project `org/project`, if the user may see it.
pub async fn project(
    state: &AppState,
    user: &User,
    org: &str,
    project: &str,
) -> UiResult<(Organization, Project)> {
    Ok(access::project(state, user, org, project).await?)
}

/// The issue (by id or short id) in organization `org`, if the user may see it.
pub async fn issue(
    state: &AppState,
    user: &User,
    org: &str,
    issue: &str,
) -> UiResult<(Organization, Project, Issue)> {
    Ok(access::issue(state, user, Some(org), issue).await?)
}

/// Refuses users who may not change the organization's settings (members without the admin,
/// manager or owner role).
pub async fn require_admin(state: &AppState, user: &User, org: &Organization) -> UiResult<()> {
    access::require_admin(state, user, org).await.map_err(|_| {
        UiError::forbidden("Only the organization's admins, managers and owners can do this.")
    })
}
