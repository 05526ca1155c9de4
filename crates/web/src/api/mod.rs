//! The Sentry-compatible REST API under `/api/0/`.
//!
//! Paths, parameters and JSON shapes follow Sentry's (see `views`), so sentry-cli and scripts keep
//! working. Every route requires `Authorization: Bearer <token>` and resolves its resources
//! through [`access`], which enforces organization membership.

pub mod access;
mod activity;
mod events;
mod grouping;
pub mod issue_extras;
pub mod issue_state;
mod issue_updates;
mod issues;
pub mod keys;
mod members;
mod notes;
mod orgs;
pub mod pagination;
mod params;
mod projects;
mod releases;
mod request;
pub mod search;
mod teams;
pub mod views;

use axum::Router;
use axum::routing::{MethodRouter, get};

use crate::AppState;

/// Registers a route with and without its trailing slash (Sentry's paths end in `/`; some
/// clients drop it).
fn both(router: Router<AppState>, path: &str, handler: MethodRouter<AppState>) -> Router<AppState> {
    let bare = path.trim_end_matches('/');
    router.route(path, handler.clone()).route(bare, handler)
}

/// The API routes, relative to `/api/0`.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    r = both(r, "/organizations/", get(orgs::list));
    r = both(r, "/organizations/{org}/", get(orgs::detail));
    r = both(r, "/organizations/{org}/projects/", get(orgs::projects));
    r = both(r, "/organizations/{org}/issues/", get(issues::list_for_org));
    r = both(
        r,
        "/organizations/{org}/issues/{issue}/",
        get(issues::detail_in_org),
    );
    r = both(
        r,
        "/organizations/{org}/issues/{issue}/hashes/",
        get(issues::hashes_in_org),
    );
    r = both(
        r,
        "/organizations/{org}/issues/{issue}/events/",
        get(events::list_in_org),
    );
    r = both(
        r,
        "/organizations/{org}/issues/{issue}/events/{event}/",
        get(events::issue_event_in_org),
    );
    r = both(
        r,
        "/projects/{org}/{project}/issues/",
        get(issues::list_for_project),
    );
    r = both(
        r,
        "/projects/{org}/{project}/events/{event}/",
        get(events::project_event),
    );
    r = both(
        r,
        "/projects/{org}/{project}/events/{event}/json/",
        get(events::project_event_json),
    );
    r = both(r, "/issues/{issue}/", get(issues::detail));
    r = both(r, "/issues/{issue}/hashes/", get(issues::hashes));
    r = both(r, "/issues/{issue}/events/", get(events::list));
    r = both(
        r,
        "/issues/{issue}/events/{event}/",
        get(events::issue_event),
    );
    r.merge(projects::routes())
        .merge(grouping::routes())
        .merge(issue_updates::routes())
        .merge(notes::routes())
        .merge(activity::routes())
        .merge(teams::routes())
        .merge(members::routes())
        .merge(releases::routes())
        .merge(keys::routes())
}
