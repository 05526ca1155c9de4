//! Releases and environments of an organization's projects (all, or those in `project=`): first
//! and last seen, issues first seen in them, and events. Both are maintained by the ingest batch
//! writer, so the pages read one small table each.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use errhound_store::issues::Page;
use errhound_store::orgs::Organization;
use errhound_store::{now_ms, releases};

use super::error::UiResult;
use super::form::FormData;
use super::format;
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;
use crate::api::access::Grant;

/// Releases shown per project.
const RELEASES_PER_PROJECT: i64 = 100;

/// One row of either list.
pub struct Row {
    /// Release version or environment name.
    pub name: String,
    /// Project slug.
    pub project: String,
    /// Project id (for the issue list link).
    /// First seen, relative and absolute.
    pub first_seen: (String, String),
    /// Last seen, relative and absolute.
    pub last_seen: (String, String),
    /// Issues first seen in it.
    pub new_issues: i64,
    /// Events.
    pub events: String,
    /// Its issues in the issue list.
    pub href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "releases.html")]
struct ListPage {
    nav: Nav,
    title: &'static str,
    what: &'static str,
    rows: Vec<Row>,
}

fn selected(raw: Option<&str>) -> Vec<i64> {
    FormData::parse(raw.unwrap_or(""))
        .all("project")
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// `GET /organizations/{org}/releases/`
pub async fn releases(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    RawQuery(raw): RawQuery,
) -> UiResult {
    list(&state, user, &grant.org, raw.as_deref(), true).await
}

/// `GET /organizations/{org}/environments/`
pub async fn environments(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    RawQuery(raw): RawQuery,
) -> UiResult {
    list(&state, user, &grant.org, raw.as_deref(), false).await
}

async fn list(
    state: &AppState,
    user: UiUser,
    org: &Organization,
    raw: Option<&str>,
    is_releases: bool,
) -> UiResult {
    let wanted = selected(raw);
    let single = match wanted.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let section = if is_releases {
        "releases"
    } else {
        "environments"
    };
    let nav = Nav::new(state, &user, org, section, single).await?;
    let now = now_ms();
    let mut rows = Vec::new();
    let mut conn = state.db.read().await?;
    for project in nav
        .projects
        .iter()
        .filter(|p| wanted.is_empty() || wanted.contains(&p.id))
    {
        let issues = format!("/organizations/{}/issues/", org.slug);
        let row = |name: String,
                   first_seen: i64,
                   last_seen: i64,
                   new_issues: i64,
                   events: i64,
                   key: &str| {
            let query = format!("{key}:\"{}\"", name.replace('"', "\\\""));
            Row {
                href: super::form::url(
                    &issues,
                    &[
                        ("project", &project.id.to_string()),
                        ("query", &query),
                        ("statsPeriod", "90d"),
                    ],
                ),
                name,
                project: project.slug.clone(),
                first_seen: (
                    format::relative(first_seen, now),
                    format::datetime(first_seen),
                ),
                last_seen: (
                    format::relative(last_seen, now),
                    format::datetime(last_seen),
                ),
                new_issues,
                events: format::count(events),
            }
        };
        if is_releases {
            for r in releases::list(
                &mut conn.conn(),
                project.id,
                None,
                Page::First,
                RELEASES_PER_PROJECT,
            )
            .await?
            {
                rows.push(row(
                    r.version,
                    r.first_seen,
                    r.last_seen,
                    r.new_issues,
                    r.event_count,
                    "release",
                ));
            }
        } else {
            for e in releases::environments(&mut conn.conn(), project.id).await? {
                rows.push(row(
                    e.name,
                    e.first_seen,
                    e.last_seen,
                    e.new_issues,
                    e.event_count,
                    "environment",
                ));
            }
        }
    }
    Ok(ListPage {
        nav,
        title: if is_releases {
            "Releases"
        } else {
            "Environments"
        },
        what: if is_releases {
            "release"
        } else {
            "environment"
        },
        rows,
    }
    .into_response())
}
