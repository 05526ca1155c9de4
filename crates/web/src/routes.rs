//! The route table: every route of the API and the UI is registered with the [`Rule`] that
//! decides who may call it, and a guard in front of its handler enforces the rule before the
//! handler runs. A route cannot be added without a rule, and [`Routes::table`] lists every route
//! with its rule, which the authorization-matrix test walks.
//!
//! The guard authenticates the caller (a bearer token on the API, the session in the UI), and for
//! a [`Rule::Scoped`] route resolves the organization its path names (`{org}`, or the
//! organization of `{issue}`), the caller's access there ([`access::org_access`]), and checks the
//! scope and that the caller reaches the project (`{project}`) or issue of the path. Handlers read
//! what it established through the [`access::Caller`] and [`access::Grant`] extractors.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use errhound_domain::Scope;
use errhound_store::{orgs, projects};

use crate::AppState;
use crate::api::access::{self, AccessError, Caller, ClientAddr, Grant, Merges};
use crate::error::ApiError;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone (login page, static files, `GET /api/0/` which describes the caller if any).
    Public,
    /// Any authenticated caller; the route names no organization.
    Authenticated,
    /// Superusers only (instance administration); with a token, one carrying `org:admin`.
    Superuser,
    /// A caller holding this scope in the organization of the path.
    Scoped(Scope),
}

impl From<Scope> for Rule {
    fn from(scope: Scope) -> Rule {
        Rule::Scoped(scope)
    }
}

/// Which side of the server a route table serves: it decides how callers authenticate and how a
/// refusal looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/api/0/`: bearer tokens, JSON errors; every path also answers without its trailing slash.
    /// Paths are given relative to `/api/0`.
    Api,
    /// The web UI: the session cookie, HTML error pages and login redirects.
    Ui,
}

/// One route of a table, as [`Routes::table`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// The HTTP method.
    pub method: Method,
    /// The full path pattern, e.g. `/api/0/organizations/{org}/issues/`.
    pub path: String,
    /// Who may call it.
    pub rule: Rule,
}

struct Entry {
    rule: RouteRule,
    handler: MethodRouter<AppState>,
}

/// A table of routes, each with its rule.
pub struct Routes {
    surface: Surface,
    entries: Vec<Entry>,
}

impl Routes {
    /// An empty table.
    pub fn new(surface: Surface) -> Routes {
        Routes {
            surface,
            entries: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, path: &str, rule: impl Into<Rule>, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
        let path = match self.surface {
            Surface::Api => format!("/api/0{path}"),
            Surface::Ui => path.to_owned(),
        };
        self.entries.push(Entry {
            rule: RouteRule {
                method,
                path,
                rule: rule.into(),
            },
            handler: on(filter, handler),
        });
        self
    }

    /// Adds a GET route (which also answers HEAD).
    pub fn get<H, T>(self, path: &str, rule: impl Into<Rule>, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, rule, handler)
    }

    /// Adds a POST route.
    pub fn post<H, T>(self, path: &str, rule: impl Into<Rule>, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, rule, handler)
    }

    /// Adds a PUT route.
    pub fn put<H, T>(self, path: &str, rule: impl Into<Rule>, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::PUT, path, rule, handler)
    }

    /// Adds a DELETE route.
    pub fn delete<H, T>(self, path: &str, rule: impl Into<Rule>, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::DELETE, path, rule, handler)
    }

    /// Adds every route of `other` (of the same surface).
    pub fn merge(mut self, other: Routes) -> Routes {
        assert_eq!(self.surface, other.surface, "one surface per table");
        self.entries.extend(other.entries);
        self
    }

    /// Every route with its rule, in registration order.
    pub fn table(&self) -> Vec<RouteRule> {
        self.entries.iter().map(|e| e.rule.clone()).collect()
    }

    /// The router: each handler behind a guard enforcing its rule.
    pub fn into_router(self, state: &AppState) -> Router<AppState> {
        let surface = self.surface;
        self.entries
            .into_iter()
            .fold(Router::new(), |router, Entry { rule, handler }| {
                let guard = Guard {
                    state: state.clone(),
                    rule: rule.rule,
                    surface,
                };
                let guarded = handler.route_layer(middleware::from_fn_with_state(guard, enforce));
                let bare = rule.path.trim_end_matches('/');
                let router = router.route(&rule.path, guarded.clone());
                if surface == Surface::Api && bare != rule.path {
                    router.route(bare, guarded)
                } else {
                    router
                }
            })
    }
}

#[derive(Clone)]
struct Guard {
    state: AppState,
    rule: Rule,
    surface: Surface,
}

async fn enforce(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match check(&guard, &mut parts).await {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => refusal,
    }
}

/// Runs the rule, recording the caller (and, for scoped routes, the grant) in the request.
async fn check(guard: &Guard, parts: &mut Parts) -> Result<(), Response> {
    if guard.rule == Rule::Public {
        return Ok(());
    }
    let refuse = |error: AccessError| refusal(guard.surface, error);
    let caller = match guard.surface {
        Surface::Api => {
            let token = access::bearer_token(&parts.headers)
                .map_err(refuse)?
                .to_owned();
            access::authenticate_bearer(&guard.state, &token)
                .await
                .map_err(refuse)?
        }
        Surface::Ui => crate::ui::session_caller(parts, &guard.state).await?,
    };
    parts.extensions.insert(caller.clone());
    match guard.rule {
        Rule::Public | Rule::Authenticated => Ok(()),
        // A superuser's token administers the instance only if it carries org:admin.
        Rule::Superuser
            if caller.user().is_some_and(|u| u.is_superuser)
                && caller
                    .token_scopes()
                    .is_none_or(|s| s.expanded().contains(Scope::OrgAdmin)) =>
        {
            Ok(())
        }
        Rule::Superuser => Err(refuse(AccessError::NotSuperuser)),
        Rule::Scoped(scope) => {
            let params = path_params(parts).await;
            let client_addr = ClientAddr::of(parts).0;
            let mut grant = resolve(&guard.state, caller, &params)
                .await
                .map_err(refuse)?;
            grant.client_addr = client_addr;
            if !grant.access.has(scope) {
                return Err(refuse(AccessError::MissingScope(scope)));
            }
            if guard.surface == Surface::Ui {
                crate::ui::sso::require_sso(&guard.state, parts, &grant).await?;
            }
            parts.extensions.insert(grant);
            Ok(())
        }
    }
}

async fn path_params(parts: &mut Parts) -> HashMap<String, String> {
    match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        Err(_) => HashMap::new(),
    }
}

/// The organization of the path and the caller's access there, checking that the caller reaches
/// the path's project or issue.
async fn resolve(
    state: &AppState,
    caller: Caller,
    params: &HashMap<String, String>,
) -> Result<Grant, AccessError> {
    let mut conn = state.db.read().await?;
    let org_slug = params.get("org").map(String::as_str);
    if let Some(issue_ref) = params.get("issue") {
        let (org, project, issue, access) = access::caller_issue(
            &mut conn.conn(),
            &caller,
            org_slug,
            issue_ref,
            Merges::Follow,
        )
        .await?;
        return Ok(Grant {
            caller,
            org,
            access,
            project: Some(project),
            issue: Some(issue),
            client_addr: None,
        });
    }
    let org = orgs::find_by_slug(&mut conn.conn(), org_slug.ok_or(AccessError::Misrouted)?)
        .await?
        .ok_or(AccessError::NotFound)?;
    let access = access::org_access(&mut conn.conn(), &caller, &org)
        .await?
        .ok_or(AccessError::Forbidden)?;
    let project = match params.get("project") {
        Some(slug) => {
            let project = projects::find_by_slug(&mut conn.conn(), org.id, slug)
                .await?
                .ok_or(AccessError::NotFound)?;
            if !access::sees_project(&mut conn.conn(), &access, project.id).await? {
                return Err(AccessError::Forbidden);
            }
            Some(project)
        }
        None => None,
    };
    Ok(Grant {
        caller,
        org,
        access,
        project,
        issue: None,
        client_addr: None,
    })
}

fn refusal(surface: Surface, error: AccessError) -> Response {
    match surface {
        Surface::Api => ApiError::from(error).into_response(),
        Surface::Ui => crate::ui::refusal(error),
    }
}
