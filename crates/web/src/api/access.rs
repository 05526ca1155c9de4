//! Who is calling, and what they may see.
//!
//! Every API request carries `Authorization: Bearer <token>`: a personal token (a user's, limited
//! to its scopes) or an organization token. The route table ([`crate::routes`]) authenticates the
//! caller and checks the scope each route declares, in the caller's role in the organization the
//! path names ([`org_access`], the one rule); handlers then resolve their resources through the
//! functions here, which check membership and which projects the caller's teams own, and never
//! read a row the caller may not see.
//! Unknown resources are 404; an organization the caller is not a member of, or a project none of
//! their teams owns, is 403 (as in Sentry); an issue or event the caller may not see is 404, so
//! ids cannot be probed.
//!
//! The checks answer an [`AccessError`], which the API and the UI each turn into their
//! response (crates.io's `AuthCheck` style): a refusal is a 401/403/404, a database failure
//! always a 500, never a refusal.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use errhound_domain::{OrgAccess, Role, ScopeSet};
use errhound_store::audit::Actor;
use errhound_store::issues::Issue;
use errhound_store::orgs::{self, Organization};
use errhound_store::projects::{self, Project};
use errhound_store::tokens::{Bearer, OrgToken, PersonalToken};
use errhound_store::users::User;
use errhound_store::{Conn, StoreError, issues, teams, tokens, workflow};

use crate::AppState;
use crate::error::ApiError;

/// Who is calling: a user (through the UI session or a personal token) or an organization token.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A user.
    User {
        /// The account.
        user: User,
        /// The personal token of the request; `None` in the UI.
        token: Option<PersonalToken>,
    },
    /// An organization token.
    Organization(OrgToken),
}

impl Caller {
    /// Who this is, for log lines (`user 3`, `organization token 2`); never a secret.
    pub fn label(&self) -> String {
        match self {
            Caller::User { user, .. } => format!("user {}", user.id),
            Caller::Organization(token) => format!("organization token {}", token.id),
        }
    }

    /// The user, unless an organization token calls.
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::User { user, .. } => Some(user),
            Caller::Organization(_) => None,
        }
    }

    /// The scopes the caller's token is limited to (`None`: not limited by a token).
    pub fn token_scopes(&self) -> Option<ScopeSet> {
        match self {
            Caller::User { token, .. } => token.as_ref().map(|t| t.scopes),
            Caller::Organization(token) => Some(token.scopes),
        }
    }
}

/// The caller's access in `org`: `None` when they may not see the organization at all.
/// This is the one access rule: the route guard, the API and the UI all ask it.
pub async fn org_access(
    conn: &mut Conn<'_>,
    caller: &Caller,
    org: &Organization,
) -> Result<Option<OrgAccess>, StoreError> {
    match caller {
        Caller::User { user, token } => {
            user_access(conn, user, org, token.as_ref().map(|t| t.scopes)).await
        }
        Caller::Organization(token) => Ok((token.organization_id == org.id)
            .then(|| OrgAccess::for_organization_token(token.scopes))),
    }
}

/// A user's access in `org` (see [`org_access`]).
pub async fn user_access(
    conn: &mut Conn<'_>,
    user: &User,
    org: &Organization,
    token_scopes: Option<ScopeSet>,
) -> Result<Option<OrgAccess>, StoreError> {
    let membership = orgs::membership(conn, org.id, user.id).await?;
    Ok(OrgAccess::for_user(
        membership.as_ref(),
        user.is_superuser,
        org.open_membership,
        token_scopes,
    ))
}

/// Whether `access` reaches the project (its teams, or global access).
pub async fn sees_project(
    conn: &mut Conn<'_>,
    access: &OrgAccess,
    project_id: i64,
) -> Result<bool, StoreError> {
    if access.is_global() {
        return Ok(true);
    }
    let owners = teams::teams_of_project(conn, project_id).await?;
    Ok(access.sees_project(&owners))
}

/// The organization's projects `access` reaches, by slug.
pub async fn visible_projects(
    conn: &mut Conn<'_>,
    access: &OrgAccess,
    org: &Organization,
) -> Result<Vec<Project>, StoreError> {
    let all = projects::list_for_org(conn, org.id).await?;
    if access.is_global() {
        return Ok(all);
    }
    let reachable = teams::projects_of_teams(conn, access.teams()).await?;
    Ok(all
        .into_iter()
        .filter(|p| reachable.contains(&p.id))
        .collect())
}

/// Authenticates a bearer token (the value after `Bearer `), recording its use at most once a
/// minute.
pub async fn authenticate_bearer(state: &AppState, token: &str) -> Result<Caller, AccessError> {
    let now = errhound_store::now_ms();
    let mut conn = state.db.read().await?;
    let Some(bearer) = tokens::authenticate(&mut conn.conn(), token, now).await? else {
        tracing::info!("API request with an invalid token");
        return Err(AccessError::Unauthenticated("Invalid token"));
    };
    drop(conn);
    let last_used = match &bearer {
        Bearer::Personal { token, .. } => token.last_used_at,
        Bearer::Organization(token) => token.last_used_at,
    };
    if tokens::needs_touch(last_used, now) {
        let mut conn = state.db.write().await?;
        tokens::touch(&mut conn.conn(), &bearer, now).await?;
    }
    Ok(match bearer {
        Bearer::Personal { user, token } => Caller::User {
            user,
            token: Some(token),
        },
        Bearer::Organization(token) => Caller::Organization(token),
    })
}

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AccessError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(AccessError::Unauthenticated(
            "Authentication credentials were not provided.",
        ));
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AccessError::Unauthenticated("Invalid token"))
}

/// The client's address: the connection's peer (never a forwarded header, which a client can
/// write). `None` where the server runs without connection info (tests of the router alone).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub Option<String>);

impl ClientAddr {
    /// The address of the request `parts` came with.
    pub fn of(parts: &Parts) -> ClientAddr {
        ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip().to_string()),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr::of(parts))
    }
}

/// What the route guard established for a route that names an organization: the caller, the
/// organization and the caller's access in it.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Who calls.
    pub caller: Caller,
    /// The organization of the path.
    pub org: Organization,
    /// The caller's access in it.
    pub access: OrgAccess,
    /// The project of the path (`{project}`, or the project of `{issue}`), which the caller
    /// reaches.
    pub project: Option<Project>,
    /// The issue of the path (`{issue}`), which the caller reaches.
    pub issue: Option<PathIssue>,
    /// The client's address (the connection's peer), for the audit log.
    pub client_addr: Option<String>,
}

impl Grant {
    /// The highest role the caller may give or take away: their own role, or `None` (no limit)
    /// for a superuser.
    pub fn role_ceiling(&self) -> Option<Role> {
        match self.caller.user() {
            Some(user) if user.is_superuser => None,
            // Members have a role; an organization token has none and gives none.
            _ => Some(self.access.role().unwrap_or(Role::Member)),
        }
    }

    /// The caller as the audit log names them.
    pub fn audit_actor(&self) -> Actor {
        let (user_id, label) = match &self.caller {
            Caller::User { user, .. } => (Some(user.id), user.email.clone()),
            Caller::Organization(token) => (None, format!("organization token \"{}\"", token.name)),
        };
        Actor {
            user_id,
            label,
            ip_address: self.client_addr.clone(),
        }
    }

    /// The project of the path ([`AccessError::Misrouted`] on a route without one).
    pub fn project(&self) -> Result<&Project, AccessError> {
        self.project.as_ref().ok_or(AccessError::Misrouted)
    }

    /// The organization and the project of the path, owned.
    pub fn into_project(self) -> Result<(Organization, Project), AccessError> {
        let project = self.project.ok_or(AccessError::Misrouted)?;
        Ok((self.org, project))
    }

    /// The issue of the path; the id of an issue merged into another is gone
    /// ([`AccessError::NotFound`]), as Sentry's API answers.
    pub fn issue(&self) -> Result<&Issue, AccessError> {
        match self.path_issue()? {
            PathIssue {
                merged_away: true, ..
            } => Err(AccessError::NotFound),
            PathIssue { issue, .. } => Ok(issue),
        }
    }

    /// The issue of the path, also when the path named an issue merged into it (pages redirect
    /// there).
    pub fn path_issue(&self) -> Result<&PathIssue, AccessError> {
        self.issue.as_ref().ok_or(AccessError::Misrouted)
    }
}

impl FromRequestParts<AppState> for Grant {
    type Rejection = AccessError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AccessError> {
        parts
            .extensions
            .get::<Grant>()
            .cloned()
            .ok_or(AccessError::Misrouted)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AccessError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AccessError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(AccessError::Misrouted)
    }
}

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
    /// The caller lacks the scope the route needs.
    #[error("missing scope {0}")]
    MissingScope(errhound_domain::Scope),
    /// The route administers the instance, and the caller is no superuser (or their token
    /// lacks `org:admin`).
    #[error("superusers only")]
    NotSuperuser,
    /// A handler asked for what its route's rule does not establish (a bug in the route table).
    #[error("the route's access rule does not establish what its handler needs")]
    Misrouted,
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
            AccessError::Forbidden | AccessError::NotSuperuser => ApiError::forbidden(),
            AccessError::MissingScope(scope) => {
                tracing::debug!(%scope, "API request refused: missing scope");
                ApiError::forbidden()
            }
            AccessError::Misrouted => ApiError::internal(AccessError::Misrouted),
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
        match Caller::from_request_parts(parts, state).await? {
            Caller::User { user, .. } => Ok(ApiUser(user)),
            // What a user does (assign, comment, ...) needs a user.
            Caller::Organization(_) => Err(AccessError::Forbidden),
        }
    }
}

/// An issue by numeric id (or, within an organization, by short id like `SHOP-1A`), found for
/// an access check. `org_slug` restricts the lookup to that organization.
async fn find_issue(
    conn: &mut Conn<'_>,
    org_slug: Option<&str>,
    issue_ref: &str,
    merges: Merges,
) -> Result<(Organization, Project, PathIssue), AccessError> {
    let follow = merges == Merges::Follow;
    let mut merged_away = false;
    let found = if let Ok(id) = issue_ref.parse::<i64>() {
        match issues::get(conn, id).await? {
            Some(issue) => Some(issue),
            None if !follow => None,
            None => match workflow::redirect(conn, id).await? {
                Some(target) => {
                    merged_away = true;
                    issues::get(conn, target).await?
                }
                None => None,
            },
        }
    } else if let (Some(org_slug), Some((project_slug, number))) =
        (org_slug, super::views::parse_short_id(issue_ref))
    {
        let org = orgs::find_by_slug(conn, org_slug)
            .await?
            .ok_or(AccessError::NotFound)?;
        let project = projects::find_by_slug(conn, org.id, &project_slug)
            .await?
            .ok_or(AccessError::NotFound)?;
        match issues::get_by_short_id(conn, project.id, number).await? {
            Some(issue) => Some(issue),
            None if !follow => None,
            None => match workflow::redirect_short_id(conn, project.id, number).await? {
                Some(target) => {
                    merged_away = true;
                    issues::get(conn, target).await?
                }
                None => None,
            },
        }
    } else {
        None
    };
    let issue = found.ok_or(AccessError::NotFound)?;
    let project = projects::get(conn, issue.project_id)
        .await?
        .ok_or(AccessError::NotFound)?;
    let org = orgs::get(conn, project.organization_id)
        .await?
        .ok_or(AccessError::NotFound)?;
    if org_slug.is_some_and(|slug| slug != org.slug) {
        return Err(AccessError::NotFound);
    }
    Ok((org, project, PathIssue { issue, merged_away }))
}

/// The issue a path's `{issue}` led to.
#[derive(Debug, Clone)]
pub struct PathIssue {
    /// The issue.
    pub issue: Issue,
    /// The path named an issue since merged into this one (pages redirect; everything else
    /// treats the merged id as gone).
    pub merged_away: bool,
}

/// Whether an issue reference leads through a merge to the issue it was merged into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merges {
    /// A merged issue's id finds the issue it was merged into (pages redirect there; the route
    /// guard decides access on it).
    Follow,
    /// A merged issue's id finds nothing (the API answers 404, as for any gone issue).
    Stop,
}

/// The issue `issue_ref` and the caller's access in its organization, if the caller may see it
/// (an issue they may not see is [`AccessError::NotFound`], so ids cannot be probed).
pub async fn caller_issue(
    conn: &mut Conn<'_>,
    caller: &Caller,
    org_slug: Option<&str>,
    issue_ref: &str,
    merges: Merges,
) -> Result<(Organization, Project, PathIssue, OrgAccess), AccessError> {
    let (org, project, issue) = find_issue(conn, org_slug, issue_ref, merges).await?;
    let access = org_access(conn, caller, &org)
        .await?
        .ok_or(AccessError::NotFound)?;
    if !sees_project(conn, &access, project.id).await? {
        return Err(AccessError::NotFound);
    }
    Ok((org, project, issue, access))
}

/// The issue `issue_ref` within organization `org_slug`, if the user may see it (for checks
/// beyond the path's own issue, such as the issues a merge names).
pub async fn user_issue(
    conn: &mut Conn<'_>,
    user: &User,
    org_slug: &str,
    issue_ref: &str,
) -> Result<Issue, AccessError> {
    let caller = Caller::User {
        user: user.clone(),
        token: None,
    };
    let (_, _, found, _) =
        caller_issue(conn, &caller, Some(org_slug), issue_ref, Merges::Stop).await?;
    Ok(found.issue)
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
