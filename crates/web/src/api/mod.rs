//! The Sentry-compatible REST API under `/api/0/`.
//!
//! Paths, parameters and JSON shapes follow Sentry's (see `views`), so sentry-cli and scripts keep
//! working. Every route is declared with the scope it needs ([`crate::routes`]); callers send
//! `Authorization: Bearer <token>`, and handlers resolve their resources through [`access`].

pub mod access;
mod activity;
mod audit;
mod auth;
mod auth_provider;
mod events;
mod grouping;
pub mod issue_extras;
mod issue_plugins;
pub mod issue_state;
mod issue_updates;
mod issues;
pub mod keys;
mod members;
mod notes;
mod orgs;
pub mod pagination;
mod params;
pub mod plugins;
mod project_create;
pub(crate) mod projects;
mod releases;
pub mod request;
pub mod rules;
pub mod search;
pub(crate) mod teams;
mod tokens;
pub mod views;

use errhound_domain::Scope;

use crate::routes::{Routes, Rule, Surface};

/// The API routes, relative to `/api/0`, each with the scope it needs.
pub fn routes() -> Routes {
    let read = Scope::EventRead;
    let issue = "/organizations/{org}/issues/{issue}";
    Routes::new(Surface::Api)
        .get("/", Rule::Public, auth::index)
        .get("/organizations/", Rule::Authenticated, orgs::list)
        .post("/organizations/", Rule::Superuser, orgs::create)
        .get("/organizations/{org}/", Scope::OrgRead, orgs::detail)
        .put("/organizations/{org}/", Scope::OrgWrite, orgs::update)
        .delete("/organizations/{org}/", Scope::OrgAdmin, orgs::remove)
        .get(
            "/organizations/{org}/projects/",
            Scope::OrgRead,
            orgs::projects,
        )
        .post(
            "/organizations/{org}/projects/",
            Scope::ProjectWrite,
            project_create::create_in_org,
        )
        .post(
            "/teams/{org}/{team}/projects/",
            Scope::ProjectWrite,
            project_create::create_in_team,
        )
        .get("/organizations/{org}/issues/", read, issues::list_for_org)
        .get(&format!("{issue}/"), read, issues::detail)
        .get(&format!("{issue}/hashes/"), read, issues::hashes)
        .get(&format!("{issue}/events/"), read, events::list_in_org)
        .get(
            &format!("{issue}/events/{{event}}/"),
            read,
            events::issue_event,
        )
        .get(
            "/projects/{org}/{project}/issues/",
            read,
            issues::list_for_project,
        )
        .get(
            "/projects/{org}/{project}/events/{event}/",
            read,
            events::project_event,
        )
        .get(
            "/projects/{org}/{project}/events/{event}/json/",
            read,
            events::project_event_json,
        )
        .get("/issues/{issue}/", read, issues::detail)
        .get("/issues/{issue}/hashes/", read, issues::hashes)
        .get("/issues/{issue}/events/", read, events::list)
        .get("/issues/{issue}/events/{event}/", read, events::issue_event)
        .merge(projects::routes())
        .merge(grouping::routes())
        .merge(issue_updates::routes())
        .merge(notes::routes())
        .merge(activity::routes())
        .merge(teams::routes())
        .merge(members::routes())
        .merge(releases::routes())
        .merge(rules::routes())
        .merge(plugins::routes())
        .merge(auth_provider::routes())
        .merge(issue_plugins::routes())
        .merge(audit::routes())
        .merge(keys::routes())
        .merge(tokens::routes())
}
