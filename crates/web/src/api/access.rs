//! Who is calling the API, and what they may see.
//!
//! Every API request carries `Authorization: Bearer <token>` (tokens from
//! `errhound token create`). A user sees the organizations they are a member of (a superuser sees
//! all); everything else is reached through an organization, so each handler resolves its
//! resources through these functions and never reads a row the caller may not see.
//! Unknown resources are 404; an organization the caller is not a member of is 403 (as in Sentry);
//! an issue or event outside the caller's organizations is 404, so ids cannot be probed.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use errhound_store::issues::Issue;
use errhound_store::orgs::{self, Organization};
use errhound_store::projects::{self, Project};
use errhound_store::users::{self, User};
use errhound_store::{issues, now_ms};

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller.
pub struct ApiUser(pub User);

fn unauthorized(detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, detail).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("xBasic realm=\"api\""),
    )
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
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
            .ok_or_else(|| unauthorized("Invalid token"))?;
        let mut conn = state.db.read().await?;
        match users::authenticate_token(&mut conn.conn(), token, now_ms()).await? {
            Some(user) => Ok(ApiUser(user)),
            None => {
                tracing::info!("API request with an invalid token");
                Err(unauthorized("Invalid token"))
            }
        }
    }
}

/// The organization with `slug`, if the caller may see it.
pub async fn organization(
    state: &AppState,
    user: &User,
    slug: &str,
) -> Result<Organization, ApiError> {
    let mut conn = state.db.read().await?;
    let org = orgs::find_by_slug(&mut conn.conn(), slug)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if user.is_superuser
        || orgs::member_role(&mut conn.conn(), org.id, user.id)
            .await?
            .is_some()
    {
        Ok(org)
    } else {
        Err(ApiError::forbidden())
    }
}

/// The project `org_slug/project_slug`, if the caller may see it.
pub async fn project(
    state: &AppState,
    user: &User,
    org_slug: &str,
    project_slug: &str,
) -> Result<(Organization, Project), ApiError> {
    let org = organization(state, user, org_slug).await?;
    let mut conn = state.db.read().await?;
    let project = projects::find_by_slug(&mut conn.conn(), org.id, project_slug)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((org, project))
}

/// An issue by numeric id (or, within an organization, by short id like `SHOP-1A`), if the
/// caller may see it. `org_slug` restricts the lookup to that organization.
pub async fn issue(
    state: &AppState,
    user: &User,
    org_slug: Option<&str>,
    issue_ref: &str,
) -> Result<(Organization, Project, Issue), ApiError> {
    let mut conn = state.db.read().await?;
    let found = if let Ok(id) = issue_ref.parse::<i64>() {
        issues::get(&mut conn.conn(), id).await?
    } else if let (Some(org_slug), Some((project_slug, number))) =
        (org_slug, super::views::parse_short_id(issue_ref))
    {
        let org = orgs::find_by_slug(&mut conn.conn(), org_slug)
            .await?
            .ok_or_else(ApiError::not_found)?;
        let project = projects::find_by_slug(&mut conn.conn(), org.id, &project_slug)
            .await?
            .ok_or_else(ApiError::not_found)?;
        issues::get_by_short_id(&mut conn.conn(), project.id, number).await?
    } else {
        None
    };
    let issue = found.ok_or_else(ApiError::not_found)?;
    let project = projects::get(&mut conn.conn(), issue.project_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let org = orgs::get(&mut conn.conn(), project.organization_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if org_slug.is_some_and(|slug| slug != org.slug) {
        return Err(ApiError::not_found());
    }
    let allowed = user.is_superuser
        || orgs::member_role(&mut conn.conn(), org.id, user.id)
            .await?
            .is_some();
    if !allowed {
        return Err(ApiError::not_found());
    }
    Ok((org, project, issue))
}

/// Whether the caller may change the organization's settings and projects: a superuser or a
/// member with the `admin`, `manager` or `owner` role (Sentry's `project:write`).
pub async fn require_admin(
    state: &AppState,
    user: &User,
    org: &Organization,
) -> Result<(), ApiError> {
    if user.is_superuser {
        return Ok(());
    }
    let mut conn = state.db.read().await?;
    let role = orgs::member_role(&mut conn.conn(), org.id, user.id).await?;
    if matches!(role.as_deref(), Some("admin" | "manager" | "owner")) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}
