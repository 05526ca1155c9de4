//! Who is calling the API, and what they may see.
//!
//! Every API request carries `Authorization: Bearer <token>` (tokens from
//! `errhound token create`). A user sees the organizations they are a member of (a superuser sees
//! all); everything else is reached through an organization, so each handler resolves its
//! resources through these functions and never reads a row the caller may not see.
//! Unknown resources are 404; an organization the caller is not a member of is 403 (as in Sentry);
//! an issue or event outside the caller's organizations is 404, so ids cannot be probed.
//!
//! The checks answer an [`AccessError`], which the API and the UI each turn into their
//! response (crates.io's `AuthCheck` style): a refusal is a 401/403/404, a database failure
//! always a 500, never a refusal.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use errhound_store::issues::Issue;
use errhound_store::orgs::{self, Organization};
use errhound_store::projects::{self, Project};
use errhound_store::users::{self, User};
use errhound_store::{StoreError, issues, now_ms};

use errhound_domain::Role;

use crate::AppState;
use crate::error::ApiError;

/// Why an access check refused, or could not decide.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// No valid credentials (the message says which problem).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The resource does not exist, or the caller may not know that it does.
    #[error("not found")]
    NotFound,
    /// The caller may see the resource but not do this.
    #[error("forbidden")]
    Forbidden,
    /// The database failed: nothing was decided.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> ApiError {
        match error {
            AccessError::Unauthenticated(detail) => ApiError::new(StatusCode::UNAUTHORIZED, detail)
                .with_header(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("xBasic realm=\"api\""),
                ),
            AccessError::NotFound => ApiError::not_found(),
            AccessError::Forbidden => ApiError::forbidden(),
            AccessError::Store(error) => ApiError::from(error),
        }
    }
}

impl IntoResponse for AccessError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// The authenticated caller.
pub struct ApiUser(pub User);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = AccessError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AccessError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(AccessError::Unauthenticated(
                "Authentication credentials were not provided.",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AccessError::Unauthenticated("Invalid token"))?;
        let mut conn = state.db.read().await?;
        match users::authenticate_token(&mut conn.conn(), token, now_ms()).await? {
            Some(user) => Ok(ApiUser(user)),
            None => {
                tracing::info!("API request with an invalid token");
                Err(AccessError::Unauthenticated("Invalid token"))
            }
        }
    }
}

/// The organization with `slug`, if the caller may see it.
pub async fn organization(
    state: &AppState,
    user: &User,
    slug: &str,
) -> Result<Organization, AccessError> {
    let mut conn = state.db.read().await?;
    let org = orgs::find_by_slug(&mut conn.conn(), slug)
        .await?
        .ok_or(AccessError::NotFound)?;
    if user.is_superuser
        || orgs::member_role(&mut conn.conn(), org.id, user.id)
            .await?
            .is_some()
    {
        Ok(org)
    } else {
        Err(AccessError::Forbidden)
    }
}

/// The project `org_slug/project_slug`, if the caller may see it.
pub async fn project(
    state: &AppState,
    user: &User,
    org_slug: &str,
    project_slug: &str,
) -> Result<(Organization, Project), AccessError> {
    let org = organization(state, user, org_slug).await?;
    let mut conn = state.db.read().await?;
    let project = projects::find_by_slug(&mut conn.conn(), org.id, project_slug)
        .await?
        .ok_or(AccessError::NotFound)?;
    Ok((org, project))
}

/// An issue by numeric id (or, within an organization, by short id like `SHOP-1A`), if the
/// caller may see it. `org_slug` restricts the lookup to that organization.
pub async fn issue(
    state: &AppState,
    user: &User,
    org_slug: Option<&str>,
    issue_ref: &str,
) -> Result<(Organization, Project, Issue), AccessError> {
    let mut conn = state.db.read().await?;
    let found = if let Ok(id) = issue_ref.parse::<i64>() {
        issues::get(&mut conn.conn(), id).await?
    } else if let (Some(org_slug), Some((project_slug, number))) =
        (org_slug, super::views::parse_short_id(issue_ref))
    {
        let org = orgs::find_by_slug(&mut conn.conn(), org_slug)
            .await?
            .ok_or(AccessError::NotFound)?;
        let project = projects::find_by_slug(&mut conn.conn(), org.id, &project_slug)
            .await?
            .ok_or(AccessError::NotFound)?;
        issues::get_by_short_id(&mut conn.conn(), project.id, number).await?
    } else {
        None
    };
    let issue = found.ok_or(AccessError::NotFound)?;
    let project = projects::get(&mut conn.conn(), issue.project_id)
        .await?
        .ok_or(AccessError::NotFound)?;
    let org = orgs::get(&mut conn.conn(), project.organization_id)
        .await?
        .ok_or(AccessError::NotFound)?;
    if org_slug.is_some_and(|slug| slug != org.slug) {
        return Err(AccessError::NotFound);
    }
    let allowed = user.is_superuser
        || orgs::member_role(&mut conn.conn(), org.id, user.id)
            .await?
            .is_some();
    if !allowed {
        return Err(AccessError::NotFound);
    }
    Ok((org, project, issue))
}

/// Whether the caller may change the organization's settings, projects and teams: a superuser
/// or a member whose role administers ([`Role::can_administer`]).
pub async fn can_administer(
    state: &AppState,
    user: &User,
    org: &Organization,
) -> Result<bool, AccessError> {
    if user.is_superuser {
        return Ok(true);
    }
    let mut conn = state.db.read().await?;
    let role = orgs::member_role(&mut conn.conn(), org.id, user.id).await?;
    Ok(role.is_some_and(Role::can_administer))
}

/// Refuses ([`AccessError::Forbidden`]) callers who may not administer the organization (see
/// [`can_administer`]).
pub async fn require_admin(
    state: &AppState,
    user: &User,
    org: &Organization,
) -> Result<(), AccessError> {
    if can_administer(state, user, org).await? {
        Ok(())
    } else {
        Err(AccessError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_errors_map_to_sentry_statuses_and_a_database_failure_to_500() {
        let status = |e: AccessError| ApiError::from(e).status;
        assert_eq!(status(AccessError::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(AccessError::Forbidden), StatusCode::FORBIDDEN);
        let unauthenticated = ApiError::from(AccessError::Unauthenticated("Invalid token"));
        assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
        assert!(
            unauthenticated
                .headers
                .iter()
                .any(|(name, _)| name == header::WWW_AUTHENTICATE)
        );
        let failed = AccessError::Store(StoreError::CorruptPayload("connection lost".into()));
        assert_eq!(status(failed), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
