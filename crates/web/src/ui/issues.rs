//! The issue list of an organization (all projects, or those in `project=`), with search, sort,
//! environment, time range, sparklines, keyset pagination and bulk actions.
//!
//! The URL holds the whole view, in Sentry's parameter names:
//! `/organizations/{org}/issues/?project=ID&query=...&sort=date|new|freq|user&statsPeriod=24h|7d|14d|30d|90d&environment=...&cursor=...`.
//! `query` absent means `is:unresolved`; present and empty means every issue.
//!
//! Counts are the stored counters, read at request time (never cached): events and users of the
//! whole issue, and the sparkline's events per bucket of the chosen period. The environment and
//! the period select issues; the hourly counts behind sparklines are not split by environment.

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect};
use errhound_domain::time::HourBuckets;
use errhound_domain::{IssueStatus, Substatus};
use errhound_store::issues::{self as issue_store, Issue, IssueFilter, IssueSort, TagFilter};
use errhound_store::projects::{self, Project, ProjectKey};
use errhound_store::workflow::{self, Assignee, IssueState};
use errhound_store::{Conn, now_ms, releases};

use super::error::{UiError, UiResult};
use super::form::{self, FormData};
use super::format::{self, Series};
use super::issue::{self as issue_page, AssignOption};
use super::layout::Nav;
use super::login::UiUser;
use super::query;
use crate::AppState;
use crate::api::access::{self, Grant};
use crate::api::pagination::{Cursor, finish_page, page_for};

/// Issues per page.
pub const PAGE_SIZE: usize = 25;

/// A time range of the list: its name, length and sparkline buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// `statsPeriod` value.
    pub name: &'static str,
    /// Label in the picker.
    pub label: &'static str,
    /// Hours per sparkline bucket.
    pub bucket_hours: i64,
    /// Sparkline buckets.
    pub buckets: i64,
}

/// The periods offered (the default is 14 days, as Sentry's).
pub const PERIODS: [Period; 5] = [
    Period {
        name: "24h",
        label: "Last 24 hours",
        bucket_hours: 1,
        buckets: 24,
    },
    Period {
        name: "7d",
        label: "Last 7 days",
        bucket_hours: 6,
        buckets: 28,
    },
    Period {
        name: "14d",
        label: "Last 14 days",
        bucket_hours: 24,
        buckets: 14,
    },
    Period {
        name: "30d",
        label: "Last 30 days",
        bucket_hours: 24,
        buckets: 30,
    },
    Period {
        name: "90d",
        label: "Last 90 days",
        bucket_hours: 48,
        buckets: 45,
    },
];

/// The sort orders offered: `(sort value, label)`.
pub const SORTS: [(&str, &str); 4] = [
    ("date", "Last seen"),
    ("new", "First seen"),
    ("freq", "Events"),
    ("user", "Users"),
];

/// The list's parameters, parsed from the URL.
#[derive(Debug, Clone)]
pub struct ListParams {
    /// Selected projects (empty: all).
    pub projects: Vec<i64>,
    /// The search query.
    pub query: String,
    /// `date`, `new`, `freq` or `user`.
    pub sort: &'static str,
    /// The time range.
    pub period: Period,
    /// Environment, if one is selected.
    pub environment: String,
    /// Page cursor.
    pub cursor: Option<Cursor>,
}

impl ListParams {
    /// Parses a query string; unknown sorts and periods fall back to the defaults.
    pub fn parse(raw: Option<&str>) -> Result<ListParams, UiError> {
        let params = FormData::parse(raw.unwrap_or(""));
        let projects = params
            .all("project")
            .iter()
            .filter_map(|p| p.parse::<i64>().ok())
            .filter(|p| *p > 0)
            .collect();
        let sort = SORTS
            .iter()
            .map(|(s, _)| *s)
            .find(|s| Some(*s) == params.get("sort"))
            .unwrap_or("date");
        let period = PERIODS
            .iter()
            .copied()
            .find(|p| Some(p.name) == params.get("statsPeriod"))
            .unwrap_or(PERIODS[2]);
        let cursor = Cursor::parse(params.get("cursor"))
            .map_err(|_| UiError::bad_request("The page link is invalid."))?;
        Ok(ListParams {
            projects,
            query: params.get("query").unwrap_or("is:unresolved").to_owned(),
            sort,
            period,
            environment: params.text("environment").unwrap_or("").to_owned(),
            cursor,
        })
    }

    fn issue_sort(&self) -> IssueSort {
        match self.sort {
            "new" => IssueSort::FirstSeen,
            "freq" => IssueSort::TimesSeen,
            "user" => IssueSort::UserCount,
            _ => IssueSort::LastSeen,
        }
    }

    /// The list URL with these parameters (`cursor` as given).
    pub fn url(&self, org: &str, sort: &str, cursor: Option<&str>) -> String {
        let projects: Vec<String> = self.projects.iter().map(i64::to_string).collect();
        let mut pairs: Vec<(&str, &str)> =
            projects.iter().map(|p| ("project", p.as_str())).collect();
        let query = self.query.as_str();
        pairs.push(("environment", &self.environment));
        pairs.push(("statsPeriod", self.period.name));
        pairs.push(("sort", sort));
        pairs.push(("cursor", cursor.unwrap_or("")));
        let mut url = form::url(&format!("/organizations/{org}/issues/"), &pairs);
        // `query` is kept even when empty: an empty query means "every issue".
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("query={}", form::encode(query)));
        url
    }
}

/// One row of the list.
pub struct IssueRow {
    /// Issue id.
    pub id: i64,
    /// `PROJECT-1A`.
    pub short_id: String,
    /// Project slug.
    pub project: String,
    /// Title.
    pub title: String,
    /// Culprit.
    pub culprit: String,
    /// Level.
    pub level: String,
    /// Badges: `(css class, text)`.
    pub badges: Vec<(&'static str, String)>,
    /// Who it is assigned to.
    pub assignee: String,
    /// Comments.
    pub comments: i64,
    /// Bookmarked by the viewer.
    pub bookmarked: bool,
    /// First seen, relative and absolute.
    pub first_seen: (String, String),
    /// Last seen, relative and absolute.
    pub last_seen: (String, String),
    /// Events (compact).
    pub events: String,
    /// Users (compact).
    pub users: String,
    /// Events in the period.
    pub period_events: i64,
    /// Sparkline SVG.
    pub spark: String,
    /// Link to the issue.
    pub href: String,
}

/// Status badges of an issue.
pub fn badges(issue: &Issue, state: Option<&IssueState>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match (issue.status, issue.substatus) {
        (IssueStatus::Resolved, _) => out.push(("badge-resolved", "Resolved".to_owned())),
        (IssueStatus::Ignored, _) => out.push(("badge-ignored", "Ignored".to_owned())),
        (_, Some(Substatus::New)) => out.push(("badge-new", "New".to_owned())),
        (_, Some(Substatus::Regressed)) => out.push(("badge-regressed", "Regressed".to_owned())),
        (_, Some(Substatus::Escalating)) => out.push(("badge-escalating", "Escalating".to_owned())),
        _ => {}
    }
    if let Some(resolution) = state.and_then(|s| s.resolution.as_ref()) {
        out.push(("badge-muted", format!("in {}", resolution.version)));
    }
    out
}

/// Who an issue is assigned to, as text.
pub fn assignee_name(assignee: Option<&Assignee>) -> String {
    match assignee {
        Some(Assignee::User(u)) => u.display_name().to_owned(),
        Some(Assignee::Team { slug, .. }) => format!("#{slug}"),
        None => String::new(),
    }
}

/// Events per bucket of `period` for each issue, oldest bucket first, ending now.
pub async fn series(
    conn: &mut Conn<'_>,
    issue_ids: &[i64],
    bucket_hours: i64,
    buckets: i64,
) -> Result<HashMap<i64, Series>, errhound_store::StoreError> {
    let now = now_ms();
    let buckets = HourBuckets::new(bucket_hours, buckets);
    let rows = issue_store::bucketed_counts(conn, issue_ids, buckets.first_hour(now), bucket_hours)
        .await?;
    Ok(buckets.fill_by(
        now,
        issue_ids,
        rows.iter().map(|r| (r.issue_id, r.hour, r.count)),
    ))
}

/// How to send a first event: shown on an empty list of a project without events.
pub struct Onboarding {
    /// The project.
    pub project: String,
    /// Its DSN.
    pub dsn: String,
    /// Settings page (keys).
    pub settings: String,
}

/// The DSN of a key.
pub fn dsn(key: &ProjectKey, public_url: &str) -> String {
    let (scheme, host) = public_url.split_once("://").unwrap_or(("http", public_url));
    format!("{scheme}://{}@{host}/{}", key.public_key, key.project_id)
}

#[derive(Template)]
#[template(path = "issue_results.html")]
struct Results {
    rows: Vec<IssueRow>,
    error: Option<String>,
    period: Period,
    previous: Option<String>,
    next: Option<String>,
    onboarding: Option<Onboarding>,
    sort_links: Vec<(&'static str, String, bool)>,
    /// Where bulk actions return to: this view.
    back: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "issues.html")]
struct IssuesPage {
    nav: Nav,
    params: ListParams,
    environments: Vec<String>,
    periods: Vec<(&'static str, &'static str, bool)>,
    sorts: Vec<(&'static str, &'static str, bool)>,
    assign_options: Vec<AssignOption>,
    results: String,
}

impl IssuesPage {
    fn is_env(&self, name: &str) -> bool {
        self.params.environment == name
    }
}

/// `GET /organizations/{org}/issues/`
pub async fn list(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> UiResult {
    let org = grant.org;
    let params = ListParams::parse(raw.as_deref())?;
    let single = match params.projects.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let nav = Nav::new(&state, &user, &org, "issues", single).await?;
    let selected: Vec<&Project> = nav
        .projects
        .iter()
        .filter(|p| params.projects.is_empty() || params.projects.contains(&p.id))
        .collect();
    let mut filter = IssueFilter {
        project_ids: selected.iter().map(|p| p.id).collect(),
        ..IssueFilter::default()
    };
    let mut conn = state.db.read().await?;
    let error = query::apply(
        &mut conn.conn(),
        org.id,
        user.user.id,
        &params.query,
        &mut filter,
    )
    .await?
    .err()
    .map(|e| e.0);
    if !params.environment.is_empty() {
        filter.tags.push(TagFilter {
            key: "environment".to_owned(),
            values: vec![params.environment.clone()],
            negate: false,
        });
    }
    let now = now_ms();
    filter.last_seen_after =
        Some(now - HourBuckets::new(params.period.bucket_hours, params.period.buckets).span_ms());
    let sort = params.issue_sort();
    let rows = if error.is_some() {
        Vec::new()
    } else {
        issue_store::list(
            &mut conn.conn(),
            &filter,
            sort,
            page_for(params.cursor),
            PAGE_SIZE as i64 + 1,
        )
        .await?
    };
    let (rows, links) = finish_page(rows, PAGE_SIZE, params.cursor, |i: &Issue| {
        (sort.key(i), i.id)
    });
    let ids: Vec<i64> = rows.iter().map(|i| i.id).collect();
    let spark = series(
        &mut conn.conn(),
        &ids,
        params.period.bucket_hours,
        params.period.buckets,
    )
    .await?;
    let states = workflow::issue_states(&mut conn.conn(), &rows, Some(user.user.id)).await?;
    let slugs: HashMap<i64, &str> = nav
        .projects
        .iter()
        .map(|p| (p.id, p.slug.as_str()))
        .collect();
    let rows: Vec<IssueRow> = rows
        .iter()
        .map(|issue| {
            let state = states.get(&issue.id);
            let slug = slugs.get(&issue.project_id).copied().unwrap_or("?");
            let series = spark.get(&issue.id).cloned().unwrap_or_default();
            IssueRow {
                id: issue.id,
                short_id: crate::api::views::short_id(slug, issue.short_id),
                project: slug.to_owned(),
                title: issue.title.clone(),
                culprit: issue.culprit.clone(),
                level: issue.level.clone(),
                badges: badges(issue, state),
                assignee: assignee_name(state.and_then(|s| s.assignee.as_ref())),
                comments: state.map_or(0, |s| s.num_comments),
                bookmarked: state.is_some_and(|s| s.bookmarked),
                first_seen: (
                    format::relative(issue.first_seen, now),
                    format::datetime(issue.first_seen),
                ),
                last_seen: (
                    format::relative(issue.last_seen, now),
                    format::datetime(issue.last_seen),
                ),
                events: format::count(issue.times_seen),
                users: format::count(issue.user_count),
                period_events: series.iter().map(|(_, c)| c).sum(),
                spark: format::sparkline(&series, 96, 22),
                href: format!("/organizations/{}/issues/{}/", org.slug, issue.id),
            }
        })
        .collect();
    let mut environments = BTreeSet::new();
    for project in &selected {
        for env in releases::environments(&mut conn.conn(), project.id).await? {
            environments.insert(env.name);
        }
    }
    let onboarding = if rows.is_empty() && params.cursor.is_none() {
        onboarding(
            &mut conn.conn(),
            &selected,
            &org.slug,
            &state.config.public_url(),
        )
        .await?
    } else {
        None
    };
    let assign_options = issue_page::assign_options(&mut conn.conn(), org.id).await?;
    drop(conn);
    let cursor_text = |c: Cursor| format!("{}:{}:{}", c.key, c.id, u8::from(c.is_prev));
    let previous = links
        .previous
        .1
        .then(|| params.url(&org.slug, params.sort, Some(&cursor_text(links.previous.0))));
    let next = links
        .next
        .1
        .then(|| params.url(&org.slug, params.sort, Some(&cursor_text(links.next.0))));
    let sort_links = SORTS
        .iter()
        .map(|(value, label)| {
            (
                *label,
                params.url(&org.slug, value, None),
                *value == params.sort,
            )
        })
        .collect();
    let back = params.url(&org.slug, params.sort, None);
    let results = Results {
        back,
        rows,
        error,
        period: params.period,
        previous,
        next,
        onboarding,
        sort_links,
    }
    .render()?;
    // htmx asks for the results only when the filters change in place.
    if headers.get("hx-target").is_some_and(|t| t == "results") {
        return Ok(Html(results).into_response());
    }
    Ok(IssuesPage {
        periods: PERIODS
            .iter()
            .map(|p| (p.name, p.label, p.name == params.period.name))
            .collect(),
        sorts: SORTS
            .iter()
            .map(|(v, l)| (*v, *l, *v == params.sort))
            .collect(),
        environments: environments.into_iter().collect(),
        nav,
        params,
        assign_options,
        results,
    }
    .into_response())
}

/// The first-event help for the selected projects, when none of them has any event yet.
async fn onboarding(
    conn: &mut Conn<'_>,
    selected: &[&Project],
    org: &str,
    public_url: &str,
) -> Result<Option<Onboarding>, errhound_store::StoreError> {
    if selected.iter().any(|p| p.first_event_at.is_some()) {
        return Ok(None);
    }
    let Some(project) = selected.first() else {
        return Ok(None);
    };
    let keys = projects::list_keys(conn, project.id).await?;
    let Some(key) = keys.iter().find(|k| k.is_active) else {
        return Ok(None);
    };
    Ok(Some(Onboarding {
        project: project.slug.clone(),
        dsn: dsn(key, public_url),
        settings: format!("/settings/{org}/projects/{}/", project.slug),
    }))
}

/// The list URL to return to after a bulk action: only a list URL of this organization.
pub fn safe_back(back: Option<&str>, org: &str) -> String {
    let prefix = format!("/organizations/{org}/issues/");
    match back {
        Some(b)
            if b.starts_with(&prefix) && !b.contains('\\') && !b.chars().any(char::is_control) =>
        {
            b.to_owned()
        }
        _ => prefix,
    }
}

/// `POST /organizations/{org}/issues/`: a bulk action on the selected issues (`id` fields):
/// `action` = `resolve`, `unresolve`, `ignore` (with the ignore fields), `assign` (with
/// `assignee`), `bookmark`, `unbookmark` or `merge`.
pub async fn bulk(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    session: tower_sessions::Session,
    body: String,
) -> UiResult {
    let org = grant.org;
    let form = FormData::parse(&body);
    let back = safe_back(form.get("back"), &org.slug);
    let mut ids: Vec<i64> = form
        .all("id")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        issue_page::flash(&session, "Select at least one issue first.").await;
        return Ok(Redirect::to(&back).into_response());
    }
    if ids.len() > 100 {
        return Err(UiError::bad_request("Select at most 100 issues at once."));
    }
    let mut issues = Vec::with_capacity(ids.len());
    let mut conn = state.db.read().await?;
    for id in &ids {
        let issue =
            access::user_issue(&mut conn.conn(), &user.user, &org.slug, &id.to_string()).await?;
        issues.push(issue);
    }
    drop(conn);
    let action = form.text("action").unwrap_or("");
    let message = issue_page::outcome(
        issue_page::apply_action(&state, &org, &user.user, &issues, action, &form).await,
    )?;
    issue_page::flash_redirect(&session, &message, &back).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip_through_the_url() {
        let params = ListParams::parse(Some(
            "project=3&query=is%3Aunresolved+level%3Aerror&sort=freq&statsPeriod=24h&environment=prod&cursor=5:9:0",
        ))
        .unwrap();
        assert_eq!(params.projects, vec![3]);
        assert_eq!(params.query, "is:unresolved level:error");
        assert_eq!(params.sort, "freq");
        assert_eq!(params.period.name, "24h");
        assert_eq!(params.environment, "prod");
        assert!(params.cursor.is_some());
        let url = params.url("acme", "new", None);
        assert_eq!(
            url,
            "/organizations/acme/issues/?project=3&environment=prod&statsPeriod=24h&sort=new&query=is%3Aunresolved%20level%3Aerror"
        );
        let again = ListParams::parse(url.split_once('?').map(|(_, q)| q)).unwrap();
        assert_eq!(again.query, params.query);
        assert_eq!(again.sort, "new");
    }

    #[test]
    fn defaults_and_empty_query() {
        let params = ListParams::parse(None).unwrap();
        assert_eq!(params.query, "is:unresolved");
        assert_eq!(params.sort, "date");
        assert_eq!(params.period.name, "14d");
        assert_eq!(ListParams::parse(Some("query=")).unwrap().query, "");
        assert!(ListParams::parse(Some("cursor=garbage")).is_err());
    }

    #[test]
    fn bulk_returns_only_to_this_organizations_list() {
        assert_eq!(
            safe_back(Some("/organizations/a/issues/?query=x"), "a"),
            "/organizations/a/issues/?query=x"
        );
        assert_eq!(
            safe_back(Some("https://evil.example/"), "a"),
            "/organizations/a/issues/"
        );
        assert_eq!(
            safe_back(Some("/organizations/b/issues/"), "a"),
            "/organizations/a/issues/"
        );
    }
}
