//! Issues: lists with search, stats and pagination; details; grouping hashes. Lists and the
//! detail carry each issue's real workflow state as the caller sees it ([`issue_state`]).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use errhound_domain::time::{HOUR_MS, HourBuckets};
use errhound_store::issues::{self as issue_store, Issue, IssueFilter, IssueSort, TagFilter};
use errhound_store::orgs::Organization;
use errhound_store::projects::Project;
use errhound_store::users::User;
use errhound_store::viewer as store_viewer;
use errhound_store::{Conn, now_ms};
use serde_json::{Value, json};

use super::access::{self, ApiUser, Grant};
use super::pagination::{Cursor, finish_page, link_header, page_for};
use super::params::Params;
use super::{issue_state, search, views};
use crate::AppState;
use crate::error::ApiError;

const MAX_LIMIT: usize = 100;

/// A stats series: `(name, bucket hours, buckets)`, e.g. `("24h", 1, 24)` or `("14d", 24, 14)`.
#[derive(Clone, Copy)]
struct StatsPeriod {
    name: &'static str,
    bucket_hours: i64,
    buckets: i64,
}

const STATS_24H: StatsPeriod = StatsPeriod {
    name: "24h",
    bucket_hours: 1,
    buckets: 24,
};
const STATS_14D: StatsPeriod = StatsPeriod {
    name: "14d",
    bucket_hours: 24,
    buckets: 14,
};
const STATS_30D: StatsPeriod = StatsPeriod {
    name: "30d",
    bucket_hours: 24,
    buckets: 30,
};

/// `[[bucket start (Unix seconds), events], ...]` per issue, oldest bucket first, ending with
/// the bucket that holds now (Sentry's tsdb series).
async fn stats(
    conn: &mut Conn<'_>,
    issue_ids: &[i64],
    period: StatsPeriod,
) -> Result<HashMap<i64, Vec<[i64; 2]>>, ApiError> {
    let now = now_ms();
    let buckets = HourBuckets::new(period.bucket_hours, period.buckets);
    let rows = issue_store::bucketed_counts(
        conn,
        issue_ids,
        buckets.first_hour(now),
        period.bucket_hours,
    )
    .await?;
    let series = buckets.fill_by(
        now,
        issue_ids,
        rows.iter().map(|r| (r.issue_id, r.hour, r.count)),
    );
    Ok(series
        .into_iter()
        .map(|(id, s)| (id, s.into_iter().map(|(ms, n)| [ms / 1000, n]).collect()))
        .collect())
}

fn parse_limit(params: &Params) -> Result<usize, ApiError> {
    match params.get("limit").filter(|l| !l.is_empty()) {
        None => Ok(MAX_LIMIT),
        Some(text) => match text.parse::<usize>() {
            Ok(0) | Err(_) => Err(ApiError::bad_request("invalid limit")),
            Ok(n) => Ok(n.min(MAX_LIMIT)),
        },
    }
}

fn parse_sort(params: &Params) -> Result<IssueSort, ApiError> {
    match params.get("sort").unwrap_or("date") {
        "" | "date" => Ok(IssueSort::LastSeen),
        "new" => Ok(IssueSort::FirstSeen),
        "freq" => Ok(IssueSort::TimesSeen),
        "user" => Ok(IssueSort::UserCount),
        other => Err(ApiError::bad_request(format!(
            "Invalid sort: {other:?}. Valid choices are 'date', 'new', 'freq' and 'user'."
        ))),
    }
}

/// Parses a relative period like `24h`, `14d`, `90m`, `2w` into milliseconds.
fn parse_period(text: &str) -> Option<i64> {
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let number: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => HOUR_MS,
        "d" => 24 * HOUR_MS,
        "w" => 7 * 24 * HOUR_MS,
        _ => return None,
    };
    number.checked_mul(unit_ms)
}

/// The filter shared by both list endpoints: the search query (absent means `is:unresolved`,
/// empty means everything) as `user` sees it in `org`, and `environment` parameters.
async fn base_filter(
    state: &AppState,
    (org, user): (&Organization, &User),
    params: &Params,
    project_ids: Vec<i64>,
) -> Result<IssueFilter, ApiError> {
    let mut filter = IssueFilter {
        project_ids,
        ..IssueFilter::default()
    };
    let query = params.get("query").unwrap_or("is:unresolved");
    let mut conn = state.db.read().await?;
    search::apply(
        &mut conn.conn(),
        search::search_as(org, user),
        query,
        &mut filter,
    )
    .await?;
    let environments = params.all("environment");
    if !environments.is_empty() {
        filter.tags.push(TagFilter {
            key: "environment".to_owned(),
            values: environments,
            negate: false,
        });
    }
    Ok(filter)
}

struct ListRequest {
    filter: IssueFilter,
    stats: Option<StatsPeriod>,
}

async fn render_list(
    state: &AppState,
    viewer: &User,
    params: &Params,
    request: ListRequest,
    path: &str,
    org: &Organization,
    projects_by_id: &HashMap<i64, Project>,
) -> Result<Response, ApiError> {
    let limit = parse_limit(params)?;
    let sort = parse_sort(params)?;
    let cursor = Cursor::parse(params.get("cursor"))?;
    let mut conn = state.db.read().await?;
    let rows = issue_store::list(
        &mut conn.conn(),
        &request.filter,
        sort,
        page_for(cursor),
        limit as i64 + 1,
    )
    .await?;
    let (rows, links) = finish_page(rows, limit, cursor, |i: &Issue| (sort.key(i), i.id));
    // Only issues of the listed projects can match the filter; the check keeps rows and
    // projects aligned anyway.
    let rows: Vec<Issue> = rows
        .into_iter()
        .filter(|issue| projects_by_id.contains_key(&issue.project_id))
        .collect();
    let ids: Vec<i64> = rows.iter().map(|i| i.id).collect();
    let series = match request.stats {
        Some(period) => Some((period.name, stats(&mut conn.conn(), &ids, period).await?)),
        None => None,
    };
    let public_url = state.config.public_url();
    let mut body: Vec<Value> = rows
        .iter()
        .filter_map(|issue| {
            let project = projects_by_id.get(&issue.project_id)?;
            let mut value = views::issue(issue, project, org, &public_url);
            if let Some((name, series)) = &series {
                value["stats"] =
                    json!({ *name: series.get(&issue.id).cloned().unwrap_or_default() });
            }
            Some(value)
        })
        .collect();
    issue_state::decorate(&mut conn.conn(), viewer, &rows, &mut body).await?;
    let link = link_header(&format!("{public_url}{path}"), params.raw(), &links);
    Ok(([link], Json(body)).into_response())
}

/// `GET /api/0/projects/{org}/{project}/issues/`: `query`, `statsPeriod` (`24h` default, `14d`,
/// or empty for none), `sort`, `limit`, `cursor`, `environment`.
pub async fn list_for_project(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    params: Params,
) -> Result<Response, ApiError> {
    let project = grant.project()?.clone();
    let org = grant.org;
    let stats = match params.get("statsPeriod") {
        None | Some("24h") => Some(STATS_24H),
        Some("14d") => Some(STATS_14D),
        Some("") => None,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid stats_period. Valid choices are '', '24h', and '14d'",
            ));
        }
    };
    let filter = base_filter(&state, (&org, &user), &params, vec![project.id]).await?;
    let path = format!("/api/0/projects/{}/{}/issues/", org.slug, project.slug);
    let projects_by_id = HashMap::from([(project.id, project)]);
    render_list(
        &state,
        &user,
        &params,
        ListRequest { filter, stats },
        &path,
        &org,
        &projects_by_id,
    )
    .await
}

/// `GET /api/0/organizations/{org}/issues/`: as the project list, across the organization's
/// projects (or those named by `project=<id>`); `statsPeriod` (default `14d`) limits the list to
/// issues seen within it, `groupStatsPeriod` (`24h` default, `14d`, `auto`, or empty) picks the
/// stats series.
pub async fn list_for_org(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    params: Params,
) -> Result<Response, ApiError> {
    let mut conn = state.db.read().await?;
    let all = access::visible_projects(&mut conn.conn(), &grant.access, &grant.org).await?;
    drop(conn);
    let org = grant.org;
    // `project=-1` means every project, as in Sentry.
    let wanted: Vec<i64> = params
        .all("project")
        .iter()
        .map(|p| {
            p.parse::<i64>()
                .map_err(|_| ApiError::bad_request("invalid project id"))
        })
        .collect::<Result<_, _>>()?;
    let projects_by_id: HashMap<i64, Project> = all
        .into_iter()
        .filter(|p| wanted.is_empty() || wanted.contains(&-1) || wanted.contains(&p.id))
        .map(|p| (p.id, p))
        .collect();
    let project_ids = projects_by_id.keys().copied().collect();
    let mut filter = base_filter(&state, (&org, &user), &params, project_ids).await?;
    let window = match params.get("statsPeriod").filter(|p| !p.is_empty()) {
        None => 14 * 24 * HOUR_MS,
        Some(text) => parse_period(text)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid statsPeriod: {text:?}")))?,
    };
    filter.last_seen_after = Some(now_ms() - window);
    let stats = match params.get("groupStatsPeriod") {
        None | Some("24h" | "auto") => Some(STATS_24H),
        Some("14d") => Some(STATS_14D),
        Some("") => None,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid groupStatsPeriod: {other:?}"
            )));
        }
    };
    let path = format!("/api/0/organizations/{}/issues/", org.slug);
    render_list(
        &state,
        &user,
        &params,
        ListRequest { filter, stats },
        &path,
        &org,
        &projects_by_id,
    )
    .await
}

/// The issue detail as `viewer` sees it. Viewing the detail marks the issue seen (Sentry's
/// GroupSeen), so the answer already says `hasSeen: true`.
async fn render_detail(
    state: &AppState,
    viewer: &User,
    org: &Organization,
    project: &Project,
    issue: &Issue,
) -> Result<Json<Value>, ApiError> {
    let mut conn = state.db.write().await?;
    store_viewer::mark_seen(&mut conn.conn(), issue.id, viewer.id, now_ms()).await?;
    drop(conn);
    // The answer includes the mark just written, so it must not come from a lagging replica.
    let mut conn = state.db.read_latest().await?;
    let day = stats(&mut conn.conn(), &[issue.id], STATS_24H).await?;
    let month = stats(&mut conn.conn(), &[issue.id], STATS_30D).await?;
    let mut body = views::issue(issue, project, org, &state.config.public_url());
    let release = |r: &Option<String>| r.as_ref().map(|v| json!({"version": v}));
    body["firstRelease"] = release(&issue.first_release).unwrap_or(Value::Null);
    body["lastRelease"] = release(&issue.last_release).unwrap_or(Value::Null);
    body["stats"] = json!({
        "24h": day.get(&issue.id).cloned().unwrap_or_default(),
        "30d": month.get(&issue.id).cloned().unwrap_or_default(),
    });
    issue_state::decorate_detail(&mut conn.conn(), viewer, issue, &mut body).await?;
    body["participants"] = json!([]);
    body["pluginActions"] = json!([]);
    body["pluginIssues"] = json!([]);
    body["pluginContexts"] = json!([]);
    body["userReportCount"] = json!(0);
    Ok(Json(body))
}

/// `GET /api/0/issues/{issue}/` and `/api/0/organizations/{org}/issues/{issue}/` (also by short
/// id, e.g. `SHOP-1A`)
pub async fn detail(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
) -> Result<Json<Value>, ApiError> {
    render_detail(&state, &user, &grant.org, grant.project()?, grant.issue()?).await
}

/// `GET /api/0/issues/{issue}/hashes/` (and under `/organizations/{org}/`)
pub async fn hashes(State(state): State<AppState>, grant: Grant) -> Result<Json<Value>, ApiError> {
    let issue = grant.issue()?;
    let mut conn = state.db.read().await?;
    let hashes = issue_store::hashes(&mut conn.conn(), issue.id).await?;
    Ok(Json(Value::Array(
        hashes
            .into_iter()
            .map(|h| json!({"id": h, "latestEvent": null}))
            .collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(parse_period("24h"), Some(24 * HOUR_MS));
        assert_eq!(parse_period("14d"), Some(14 * 24 * HOUR_MS));
        assert_eq!(parse_period("0d"), None);
        assert_eq!(parse_period("d"), None);
        assert_eq!(parse_period("5y"), None);
    }
}
