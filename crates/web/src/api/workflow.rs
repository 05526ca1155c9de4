//! The issue workflow through the API: status, assignment, bookmarks, comments, merges, the
//! activity timeline, and the lists the workflow needs (teams, members, releases, environments).
//!
//! Paths and bodies follow Sentry's:
//!
//! * `PUT /issues/{id}/` (and `/organizations/{org}/issues/{id}/`): `status` (`resolved`,
//!   `resolvedInNextRelease`, `unresolved`, `ignored`), `statusDetails` (`inRelease`,
//!   `inNextRelease`, `ignoreDuration` minutes, `ignoreUntil`, `ignoreCount`, `ignoreWindow`,
//!   `ignoreUserCount`, `ignoreUserWindow`), `assignedTo` (`user:ID`, `team:ID`, a user id, an
//!   e-mail, `#team-slug`, `me`, or `""`/`null` to unassign), `isBookmarked`, `hasSeen`,
//!   `isSubscribed` (see `issue_state`). `isPublic` is accepted and ignored. Answers the updated
//!   issue.
//! * `PUT /projects/{org}/{project}/issues/?id=1&id=2` (and `/organizations/{org}/issues/`): the
//!   same body for several issues (or, without `id`, for up to 1000 issues matching `query`),
//!   plus `merge: 1`. Answers what was applied, e.g. `{"status": "resolved", "statusDetails": {}}`
//!   or `{"merge": {"parent": "1", "children": ["2"]}}`.
//! * `PUT` or `DELETE /issues/{id}/hashes/?id=<hash>`: unmerge (202).
//! * `GET`/`POST /issues/{id}/notes/` (alias `comments`), `PUT`/`DELETE .../notes/{note}/`.
//! * `GET /issues/{id}/activities/`: `{"activity": [...]}`.
//! * `GET`/`POST /organizations/{org}/teams/`, `GET /organizations/{org}/members/`,
//!   `POST`/`DELETE /organizations/{org}/members/{member}/teams/{team}/`.
//! * `GET /projects/{org}/{project}/releases/` and `/environments/`.
//!
//! Every write runs in one transaction (`state.db.begin()`), so a request that changes status,
//! assignee and bookmark together either applies all of it or nothing.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use errhound_store::activity::{self as activity_store, UserRef};
use errhound_store::issues::{self as issue_store, Issue, IssueFilter, IssueSort, Page};
use errhound_store::orgs::{self as org_store, Organization};
use errhound_store::projects::{self as project_store, Project};
use errhound_store::releases::{self as release_store, Environment, Release};
use errhound_store::teams::{self as team_store, UserLookup};
use errhound_store::users::User;
use errhound_store::workflow::{
    self, AssigneeRef, IgnoreConditions, Merged, ResolutionKind, StatusChange,
};
use errhound_store::{Tx, now_ms};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::access::{self, ApiUser};
use super::issue_extras;
use super::issue_state;
use super::pagination::{Cursor, finish_page, link_header, page_for};
use super::params::Params;
use super::search::search_as;
use super::{search, views};
use crate::AppState;
use crate::error::ApiError;

/// Most issues one bulk update may touch (Sentry's `BULK_MUTATION_LIMIT`).
const BULK_LIMIT: i64 = 1000;
const MAX_PER_PAGE: usize = 100;

/// Registers a route with and without its trailing slash.
fn both(router: Router<AppState>, path: &str, handler: MethodRouter<AppState>) -> Router<AppState> {
    let bare = path.trim_end_matches('/');
    router.route(path, handler.clone()).route(bare, handler)
}

/// The issue a route names, `/issues/{issue}/...` or `/organizations/{org}/issues/{issue}/...`
/// (one handler serves both), and the comment of the comment routes.
#[derive(Debug, Deserialize)]
pub struct IssuePath {
    #[serde(default)]
    org: Option<String>,
    issue: String,
    #[serde(default)]
    note: Option<String>,
}

impl IssuePath {
    fn note(&self) -> &str {
        self.note.as_deref().unwrap_or_default()
    }
}

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    r = both(r, "/issues/{issue}/", put(update_issue));
    r = both(r, "/organizations/{org}/issues/{issue}/", put(update_issue));
    r = both(r, "/projects/{org}/{project}/issues/", put(bulk_in_project));
    r = both(r, "/organizations/{org}/issues/", put(bulk_in_org));
    r = both(r, "/issues/{issue}/hashes/", put(unmerge).delete(unmerge));
    r = both(
        r,
        "/organizations/{org}/issues/{issue}/hashes/",
        put(unmerge).delete(unmerge),
    );
    for name in ["notes", "comments"] {
        r = both(
            r,
            &format!("/issues/{{issue}}/{name}/"),
            get(list_notes).post(add_note),
        );
        r = both(
            r,
            &format!("/organizations/{{org}}/issues/{{issue}}/{name}/"),
            get(list_notes).post(add_note),
        );
        r = both(
            r,
            &format!("/issues/{{issue}}/{name}/{{note}}/"),
            put(edit_note).delete(delete_note),
        );
        r = both(
            r,
            &format!("/organizations/{{org}}/issues/{{issue}}/{name}/{{note}}/"),
            put(edit_note).delete(delete_note),
        );
    }
    r = both(r, "/issues/{issue}/activities/", get(activities));
    r = both(
        r,
        "/organizations/{org}/issues/{issue}/activities/",
        get(activities),
    );
    r = both(
        r,
        "/organizations/{org}/teams/",
        get(list_teams).post(create_team),
    );
    r = both(r, "/organizations/{org}/members/", get(list_members));
    r = both(
        r,
        "/organizations/{org}/members/{member}/teams/{team}/",
        post(join_team).delete(leave_team),
    );
    r = both(r, "/projects/{org}/{project}/releases/", get(list_releases));
    r = both(
        r,
        "/projects/{org}/{project}/environments/",
        get(list_environments),
    );
    r
}

// ------------------------------------------------------------------------------------------------
// Errors.

impl From<workflow::WorkflowError> for ApiError {
    fn from(error: workflow::WorkflowError) -> ApiError {
        use workflow::WorkflowError as E;
        match error {
            E::Store(e) => ApiError::from(e),
            E::NotFound("release") => ApiError::invalid_fields(json!({
                "statusDetails": {"inRelease": ["Unable to find the given release."]}
            })),
            E::NotFound(_) => ApiError::not_found(),
            E::Invalid(message) => ApiError::bad_request(message),
            E::Conflict(message) => ApiError::new(StatusCode::CONFLICT, message),
        }
    }
}

type Reply = Result<Response, ApiError>;

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Parses a JSON object body (an empty body is `{}`).
fn parse_body(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid data. Expected a dictionary.",
        )),
        Err(error) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("JSON parse error - {error}"),
        )),
    }
}

async fn begin(state: &AppState) -> Result<Tx, ApiError> {
    Ok(state.db.begin().await?)
}

async fn role_in(
    state: &AppState,
    org: &Organization,
    user: &User,
) -> Result<Option<String>, ApiError> {
    let mut conn = state.db.read().await?;
    Ok(org_store::member_role(&mut conn.conn(), org.id, user.id).await?)
}

fn is_admin_role(role: Option<&str>) -> bool {
    matches!(role, Some("admin" | "manager" | "owner"))
}

// ------------------------------------------------------------------------------------------------
// The update body.

/// How `assignedTo` names the assignee.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AssigneeSpec {
    UserId(i64),
    TeamId(i64),
    TeamSlug(String),
    Email(String),
    Me,
}

/// A parsed `PUT` body.
#[derive(Debug, Default)]
struct Update {
    status: Option<StatusChange>,
    /// `Some(None)` unassigns.
    assigned_to: Option<Option<AssigneeSpec>>,
    bookmarked: Option<bool>,
    merge: bool,
    viewer: issue_state::ViewerUpdate,
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.as_str(), "1" | "true" | "True"),
        _ => false,
    }
}

fn boolean(field: &str, value: &Value) -> Result<bool, ApiError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Ok(n.as_i64() == Some(1))
        }
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(ApiError::invalid_field(field, "Must be a valid boolean.")),
        },
        _ => Err(ApiError::invalid_field(field, "Must be a valid boolean.")),
    }
}

/// An optional integer field of `statusDetails` (numbers or numeric strings, as DRF accepts).
fn integer(details: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    let invalid = || {
        ApiError::invalid_fields(
            json!({ "statusDetails": { key: ["A valid integer is required."] } }),
        )
    };
    match details.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(invalid),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid()),
        Some(_) => Err(invalid()),
    }
}

/// `ignoreUntil`: an ISO 8601 date-time (UTC when it names no offset).
fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    let parsed = OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339))
        .ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).ok()
}

fn parse_assignee(value: &Value) -> Result<Option<AssigneeSpec>, ApiError> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim(),
        Value::Number(n) => {
            return n
                .as_i64()
                .map(|id| Some(AssigneeSpec::UserId(id)))
                .ok_or_else(|| ApiError::invalid_field("assignedTo", "Unknown actor input"));
        }
        _ => return Err(ApiError::invalid_field("assignedTo", "Unknown actor input")),
    };
    if text.is_empty() {
        return Ok(None);
    }
    let id = |s: &str| {
        s.parse::<i64>().map_err(|_| {
            ApiError::invalid_field("assignedTo", "Unable to resolve actor identifier")
        })
    };
    Ok(Some(if let Some(rest) = text.strip_prefix("user:") {
        AssigneeSpec::UserId(id(rest)?)
    } else if let Some(rest) = text.strip_prefix("team:") {
        AssigneeSpec::TeamId(id(rest)?)
    } else if let Some(slug) = text.strip_prefix('#') {
        AssigneeSpec::TeamSlug(slug.to_owned())
    } else if text == "me" {
        AssigneeSpec::Me
    } else if text.bytes().all(|b| b.is_ascii_digit()) {
        AssigneeSpec::UserId(id(text)?)
    } else {
        AssigneeSpec::Email(text.to_owned())
    }))
}

fn parse_update(body: &Map<String, Value>, now_ms: i64) -> Result<Update, ApiError> {
    let mut update = Update::default();
    let empty = Map::new();
    let details = match body.get("statusDetails") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(ApiError::invalid_fields(json!({
                "statusDetails": {"non_field_errors": ["Invalid data. Expected a dictionary."]}
            })));
        }
    };
    if details.get("untilEscalating").is_some_and(truthy)
        || body.get("substatus").and_then(Value::as_str) == Some("archived_until_escalating")
    {
        return Err(ApiError::invalid_field(
            "substatus",
            "Archiving until escalating is not supported; ignore with a count or a duration.",
        ));
    }
    if let Some(status) = body.get("status").filter(|s| !s.is_null()) {
        let Some(status) = status.as_str() else {
            return Err(ApiError::invalid_field("status", "Not a valid choice."));
        };
        update.status = Some(match status {
            "resolved" => match details.get("inRelease").filter(|v| !v.is_null()) {
                Some(Value::String(version)) if !version.trim().is_empty() => {
                    StatusChange::ResolveInRelease(version.trim().to_owned())
                }
                Some(_) => {
                    return Err(ApiError::invalid_fields(json!({
                        "statusDetails": {"inRelease": ["Unable to find the given release."]}
                    })));
                }
                None if details.get("inNextRelease").is_some_and(truthy) => {
                    StatusChange::ResolveInNextRelease
                }
                None => StatusChange::Resolve,
            },
            "resolvedInNextRelease" => StatusChange::ResolveInNextRelease,
            "unresolved" => StatusChange::Unresolve,
            "ignored" | "muted" => {
                let duration =
                    integer(details, "ignoreDuration")?.or(integer(details, "snoozeDuration")?);
                let until = match details.get("ignoreUntil") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(text)) if text.trim().is_empty() => None,
                    Some(Value::String(text)) => Some(parse_datetime(text).ok_or_else(|| {
                        ApiError::invalid_fields(json!({"statusDetails": {"ignoreUntil": [
                            "Datetime has wrong format. Use one of these formats instead: \
                             YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                        ]}}))
                    })?),
                    Some(_) => {
                        return Err(ApiError::invalid_fields(json!({
                            "statusDetails": {"ignoreUntil": ["Datetime has wrong format."]}
                        })));
                    }
                };
                let conditions = IgnoreConditions {
                    until_ms: match duration {
                        Some(minutes) if minutes > 0 => {
                            Some(now_ms.saturating_add(minutes.saturating_mul(60_000)))
                        }
                        _ => until,
                    },
                    duration_minutes: duration,
                    count: integer(details, "ignoreCount")?,
                    window_minutes: integer(details, "ignoreWindow")?,
                    user_count: integer(details, "ignoreUserCount")?,
                    user_window_minutes: integer(details, "ignoreUserWindow")?,
                };
                StatusChange::Ignore(conditions)
            }
            other => {
                return Err(ApiError::invalid_field(
                    "status",
                    format!("\"{other}\" is not a valid choice."),
                ));
            }
        });
    }
    if let Some(value) = body.get("assignedTo") {
        update.assigned_to = Some(parse_assignee(value)?);
    }
    if let Some(value) = body.get("isBookmarked").filter(|v| !v.is_null()) {
        update.bookmarked = Some(boolean("isBookmarked", value)?);
    }
    if let Some(value) = body.get("merge") {
        update.merge = truthy(value);
    }
    update.viewer = issue_state::parse_update(body)?;
    Ok(update)
}

/// Resolves an `assignedTo` within the organization.
async fn resolve_assignee(
    tx: &mut Tx,
    org: &Organization,
    caller: &User,
    spec: &AssigneeSpec,
) -> Result<AssigneeRef, ApiError> {
    let non_member = || ApiError::invalid_field("assignedTo", "Cannot assign to non-member");
    match spec {
        AssigneeSpec::UserId(id) => {
            team_store::find_org_user(&mut tx.conn(), org.id, UserLookup::Id(*id))
                .await?
                .map(|u| AssigneeRef::User(u.id))
                .ok_or_else(non_member)
        }
        AssigneeSpec::Me => {
            team_store::find_org_user(&mut tx.conn(), org.id, UserLookup::Id(caller.id))
                .await?
                .map(|u| AssigneeRef::User(u.id))
                .ok_or_else(non_member)
        }
        AssigneeSpec::Email(email) => {
            team_store::find_org_user(&mut tx.conn(), org.id, UserLookup::Email(email))
                .await?
                .map(|u| AssigneeRef::User(u.id))
                .ok_or_else(non_member)
        }
        AssigneeSpec::TeamId(id) => team_store::get(&mut tx.conn(), *id)
            .await?
            .filter(|t| t.organization_id == org.id)
            .map(|t| AssigneeRef::Team(t.id))
            .ok_or_else(|| ApiError::invalid_field("assignedTo", "Unknown team")),
        AssigneeSpec::TeamSlug(slug) => team_store::find_by_slug(&mut tx.conn(), org.id, slug)
            .await?
            .map(|t| AssigneeRef::Team(t.id))
            .ok_or_else(|| ApiError::invalid_field("assignedTo", "Unknown team")),
    }
}

/// Applies `update` to `issues` (all of one organization) in one transaction; returns Sentry's
/// result object.
async fn apply_update(
    state: &AppState,
    org: &Organization,
    caller: &User,
    issues: &[Issue],
    update: &Update,
    now: i64,
) -> Result<Map<String, Value>, ApiError> {
    let mut result = Map::new();
    let project_count = {
        let mut ids: Vec<i64> = issues.iter().map(|i| i.project_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let mut tx = begin(state).await?;
    let actor = Some(caller.id);
    let caller_json = issue_extras::user_json(&issue_extras::user_ref(caller));
    if let Some(change) = &update.status {
        if project_count > 1
            && matches!(
                change,
                StatusChange::ResolveInNextRelease | StatusChange::ResolveInRelease(_)
            )
        {
            let what = if matches!(change, StatusChange::ResolveInRelease(_)) {
                "Cannot set resolved in release for multiple projects."
            } else {
                "Cannot set resolved in next release for multiple projects."
            };
            return Err(ApiError::new(StatusCode::BAD_REQUEST, what));
        }
        let mut resolution = None;
        for issue in issues {
            let outcome = workflow::change_status(&mut tx, issue.id, change, actor, now).await?;
            resolution = resolution.or(outcome.resolution);
        }
        let (status, details) = match change {
            StatusChange::Resolve => ("resolved", json!({})),
            StatusChange::ResolveInNextRelease => match &resolution {
                Some(_) => (
                    "resolved",
                    json!({"inNextRelease": true, "actor": caller_json}),
                ),
                None => ("resolved", json!({"inNextRelease": true})),
            },
            StatusChange::ResolveInRelease(_) => match &resolution {
                Some((ResolutionKind::InRelease, version)) => (
                    "resolved",
                    json!({"inRelease": version, "actor": caller_json}),
                ),
                _ => ("resolved", json!({})),
            },
            StatusChange::Ignore(c) => {
                let mut details = Map::new();
                if !c.is_forever() {
                    for (key, value) in [
                        ("ignoreCount", c.count),
                        ("ignoreWindow", c.count.and(c.window_minutes)),
                        ("ignoreUserCount", c.user_count),
                        ("ignoreUserWindow", c.user_count.and(c.user_window_minutes)),
                    ] {
                        details.insert(key.into(), json!(value));
                    }
                    details.insert("ignoreUntil".into(), json!(c.until_ms.map(views::date)));
                    details.insert("actor".into(), caller_json.clone());
                }
                ("ignored", Value::Object(details))
            }
            StatusChange::Unresolve => ("unresolved", json!({})),
        };
        result.insert("status".into(), json!(status));
        result.insert("statusDetails".into(), details);
        if status != "unresolved" {
            result.insert("inbox".into(), Value::Null);
        }
    }
    if let Some(assignee) = &update.assigned_to {
        match assignee {
            None => {
                for issue in issues {
                    workflow::unassign(&mut tx, issue.id, actor, now).await?;
                }
                result.insert("assignedTo".into(), Value::Null);
            }
            Some(spec) => {
                let target = resolve_assignee(&mut tx, org, caller, spec).await?;
                for issue in issues {
                    workflow::assign(&mut tx, issue.id, target, actor, now).await?;
                }
                let states = workflow::issue_states(&mut tx.conn(), &issues[..1], None).await?;
                let shown = states
                    .get(&issues[0].id)
                    .and_then(|s| s.assignee.as_ref())
                    .map_or(Value::Null, issue_extras::actor_json);
                result.insert("assignedTo".into(), shown);
            }
        }
    }
    if let Some(bookmarked) = update.bookmarked {
        for issue in issues {
            workflow::set_bookmark(&mut tx, issue.id, caller.id, bookmarked, now).await?;
        }
        result.insert("isBookmarked".into(), json!(bookmarked));
    }
    issue_state::apply_update(
        &mut tx.conn(),
        issues,
        caller.id,
        update.viewer,
        now,
        &mut result,
    )
    .await?;
    if update.merge && issues.len() > 1 {
        if project_count > 1 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Merging across multiple projects is not supported",
            ));
        }
        let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
        let Merged { parent, children } = workflow::merge(&mut tx, &ids, actor, now).await?;
        result.insert(
            "merge".into(),
            json!({
                "parent": parent.to_string(),
                "children": children.iter().map(i64::to_string).collect::<Vec<_>>(),
            }),
        );
    }
    tx.commit().await?;
    Ok(result)
}

/// Renders one issue with its workflow fields and activity.
async fn render_issue(
    state: &AppState,
    caller: &User,
    org: &Organization,
    project: &Project,
    issue_id: i64,
) -> Result<Value, ApiError> {
    let mut conn = state.db.write().await?;
    let issue = issue_store::get(&mut conn.conn(), issue_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut value = views::issue(&issue, project, org, &state.config.public_url());
    issue_state::decorate_detail(&mut conn.conn(), caller, &issue, &mut value).await?;
    Ok(value)
}

async fn update_one(
    state: AppState,
    caller: User,
    org_slug: Option<&str>,
    issue_ref: &str,
    body: Bytes,
) -> Reply {
    let (org, project, issue) = access::issue(&state, &caller, org_slug, issue_ref).await?;
    let body = parse_body(&body)?;
    let now = now_ms();
    let update = parse_update(&body, now)?;
    let result = apply_update(
        &state,
        &org,
        &caller,
        std::slice::from_ref(&issue),
        &update,
        now,
    )
    .await?;
    let mut value = render_issue(&state, &caller, &org, &project, issue.id).await?;
    // The rendered issue is the state after the update; the result only adds what it lacks
    // (`inbox`).
    if let Some(object) = value.as_object_mut() {
        for (key, v) in result {
            object.entry(key).or_insert(v);
        }
    }
    Ok(json_response(StatusCode::OK, value))
}

/// `PUT /api/0/issues/{issue}/` and `/api/0/organizations/{org}/issues/{issue}/`
pub async fn update_issue(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(path): Path<IssuePath>,
    body: Bytes,
) -> Reply {
    update_one(state, user, path.org.as_deref(), &path.issue, body).await
}

/// The issues a bulk update names: `id=` parameters (ids outside `project_ids` are skipped, as
/// in Sentry), or else up to [`BULK_LIMIT`] issues matching `query` (default `is:unresolved`).
async fn bulk_targets(
    state: &AppState,
    (org, caller): (&Organization, &User),
    params: &Params,
    project_ids: Vec<i64>,
) -> Result<Vec<Issue>, ApiError> {
    let ids = params.all("id");
    let mut conn = state.db.read().await?;
    if !ids.is_empty() {
        let mut out = Vec::new();
        for id in ids {
            let Ok(id) = id.trim().parse::<i64>() else {
                return Err(ApiError::invalid_field(
                    "id",
                    "A valid integer is required.",
                ));
            };
            if let Some(issue) = issue_store::get(&mut conn.conn(), id).await?
                && project_ids.contains(&issue.project_id)
                && !out.iter().any(|i: &Issue| i.id == issue.id)
            {
                out.push(issue);
            }
        }
        return Ok(out);
    }
    let mut filter = IssueFilter {
        project_ids,
        ..IssueFilter::default()
    };
    let query = params.get("query").unwrap_or("is:unresolved");
    search::apply(&mut conn.conn(), search_as(org, caller), query, &mut filter).await?;
    Ok(issue_store::list(
        &mut conn.conn(),
        &filter,
        IssueSort::LastSeen,
        Page::First,
        BULK_LIMIT,
    )
    .await?)
}

async fn bulk(
    state: AppState,
    caller: User,
    org: Organization,
    project_ids: Vec<i64>,
    params: Params,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let now = now_ms();
    let update = parse_update(&body, now)?;
    let issues = bulk_targets(&state, (&org, &caller), &params, project_ids).await?;
    if issues.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let result = apply_update(&state, &org, &caller, &issues, &update, now).await?;
    Ok(json_response(StatusCode::OK, Value::Object(result)))
}

/// `PUT /api/0/projects/{org}/{project}/issues/?id=...`
pub async fn bulk_in_project(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((org, project)): Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> Reply {
    let (org, project) = access::project(&state, &user, &org, &project).await?;
    bulk(state, user, org, vec![project.id], params, body).await
}

/// `PUT /api/0/organizations/{org}/issues/?id=...` (`project=` narrows the projects).
pub async fn bulk_in_org(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(org): Path<String>,
    params: Params,
    body: Bytes,
) -> Reply {
    let org = access::organization(&state, &user, &org).await?;
    let mut conn = state.db.read().await?;
    let all = project_store::list_for_org(&mut conn.conn(), org.id).await?;
    drop(conn);
    let wanted: Vec<i64> = params
        .all("project")
        .iter()
        .map(|p| p.parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid project id"))?;
    let project_ids = all
        .iter()
        .map(|p| p.id)
        .filter(|id| wanted.is_empty() || wanted.contains(&-1) || wanted.contains(id))
        .collect();
    bulk(state, user, org, project_ids, params, body).await
}

// ------------------------------------------------------------------------------------------------
// Unmerge.

async fn do_unmerge(
    state: AppState,
    caller: User,
    org_slug: Option<&str>,
    issue_ref: &str,
    params: Params,
) -> Reply {
    let (_, _, issue) = access::issue(&state, &caller, org_slug, issue_ref).await?;
    let hashes = params.all("id");
    if hashes.is_empty() {
        // Sentry answers an empty 200 when no hash is named.
        return Ok(StatusCode::OK.into_response());
    }
    let mut tx = begin(&state).await?;
    workflow::unmerge(&mut tx, issue.id, &hashes, Some(caller.id), now_ms()).await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `PUT` (Sentry) or `DELETE` (older Sentry) `/api/0/issues/{issue}/hashes/?id=<hash>`, also under
/// `/api/0/organizations/{org}/`: unmerge
pub async fn unmerge(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(path): Path<IssuePath>,
    params: Params,
) -> Reply {
    do_unmerge(state, user, path.org.as_deref(), &path.issue, params).await
}

// ------------------------------------------------------------------------------------------------
// Comments and activity.

fn note_text(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("text") {
        None | Some(Value::Null) => Err(ApiError::invalid_field("text", "This field is required.")),
        Some(Value::String(text)) if text.trim().is_empty() => Err(ApiError::invalid_field(
            "text",
            "This field may not be blank.",
        )),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(ApiError::invalid_field("text", "Not a valid string.")),
    }
}

fn comment_error(error: workflow::WorkflowError) -> ApiError {
    match error {
        // Sentry answers a repeated comment with 400.
        workflow::WorkflowError::Conflict(message) => {
            ApiError::new(StatusCode::BAD_REQUEST, message)
        }
        workflow::WorkflowError::Invalid(message) => {
            let message = message
                .strip_prefix("text: ")
                .map(str::to_owned)
                .unwrap_or(message);
            ApiError::invalid_field("text", message)
        }
        other => ApiError::from(other),
    }
}

async fn notes_list(
    state: AppState,
    caller: User,
    org_slug: Option<&str>,
    issue_ref: &str,
    params: Params,
) -> Reply {
    let (_, _, issue) = access::issue(&state, &caller, org_slug, issue_ref).await?;
    let per_page = params.per_page(MAX_PER_PAGE)?;
    let cursor = Cursor::parse(params.get("cursor"))?;
    let mut conn = state.db.read().await?;
    let rows = activity_store::comments(
        &mut conn.conn(),
        issue.id,
        page_for(cursor),
        per_page as i64 + 1,
    )
    .await?;
    let (rows, links) = finish_page(rows, per_page, cursor, |a| (a.created_at, a.id));
    let path = match org_slug {
        Some(org) => format!("/api/0/organizations/{org}/issues/{issue_ref}/notes/"),
        None => format!("/api/0/issues/{issue_ref}/notes/"),
    };
    let link = link_header(
        &format!("{}{path}", state.config.public_url()),
        params.raw(),
        &links,
    );
    let body: Vec<Value> = rows.iter().map(issue_extras::activity_json).collect();
    Ok(([link], axum::Json(body)).into_response())
}

async fn notes_add(
    state: AppState,
    caller: User,
    org_slug: Option<&str>,
    issue_ref: &str,
    body: Bytes,
) -> Reply {
    let (_, _, issue) = access::issue(&state, &caller, org_slug, issue_ref).await?;
    let body = parse_body(&body)?;
    let text = note_text(&body)?;
    let mut tx = begin(&state).await?;
    let note = activity_store::add_comment(&mut tx, issue.id, caller.id, &text, now_ms())
        .await
        .map_err(comment_error)?;
    tx.commit().await?;
    Ok(json_response(
        StatusCode::CREATED,
        issue_extras::activity_json(&note),
    ))
}

fn note_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().map_err(|_| ApiError::not_found())
}

async fn notes_edit(
    state: AppState,
    caller: User,
    org_slug: Option<&str>,
    issue_ref: &str,
    note: &str,
    body: Bytes,
) -> Reply {
    let (_, _, issue) = access::issue(&state, &caller, org_slug, issue_ref).await?;
    let note = note_id(note)?;
    let body = parse_body(&body)?;
    let text = note_text(&body)?;
    let mut tx = begin(&state).await?;
    let note = activity_store::edit_comment(&mut tx, issue.id, note, caller.id, &text, now_ms())
        .await
        .map_err(comment_error)?;
    tx.commit().await?;
    Ok(json_response(
        StatusCode::OK,
        issue_extras::activity_json(&note),
    ))
}

async fn notes_delete(
    state: AppState,
    caller: User,
    org_slug: Option<&str>,
    issue_ref: &str,
    note: &str,
) -> Reply {
    let (_, _, issue) = access::issue(&state, &caller, org_slug, issue_ref).await?;
    let note = note_id(note)?;
    let mut tx = begin(&state).await?;
    activity_store::delete_comment(&mut tx, issue.id, note, caller.id)
        .await
        .map_err(comment_error)?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/0/issues/{issue}/notes/` (and under `/organizations/{org}/`): comments, newest first
/// (paginated).
pub async fn list_notes(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(path): Path<IssuePath>,
    params: Params,
) -> Reply {
    notes_list(state, user, path.org.as_deref(), &path.issue, params).await
}

/// `POST /api/0/issues/{issue}/notes/` (and under `/organizations/{org}/`) with
/// `{"text": "..."}`: 201 and the note.
pub async fn add_note(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(path): Path<IssuePath>,
    body: Bytes,
) -> Reply {
    notes_add(state, user, path.org.as_deref(), &path.issue, body).await
}

/// `PUT /api/0/issues/{issue}/notes/{note}/` with `{"text": "..."}` (the author only).
pub async fn edit_note(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(path): Path<IssuePath>,
    body: Bytes,
) -> Reply {
    notes_edit(
        state,
        user,
        path.org.as_deref(),
        &path.issue,
        path.note(),
        body,
    )
    .await
}

/// `DELETE /api/0/issues/{issue}/notes/{note}/` (the author only): 204.
pub async fn delete_note(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(path): Path<IssuePath>,
) -> Reply {
    notes_delete(state, user, path.org.as_deref(), &path.issue, path.note()).await
}

async fn activity_list(
    state: AppState,
    caller: User,
    org_slug: Option<&str>,
    issue_ref: &str,
) -> Reply {
    let (_, _, issue) = access::issue(&state, &caller, org_slug, issue_ref).await?;
    let mut conn = state.db.read().await?;
    let list =
        activity_store::timeline(&mut conn.conn(), issue.id, issue_extras::ACTIVITY_LIMIT).await?;
    let body: Vec<Value> = list.iter().map(issue_extras::activity_json).collect();
    Ok(json_response(StatusCode::OK, json!({ "activity": body })))
}

/// `GET /api/0/issues/{issue}/activities/` (and under `/organizations/{org}/`): the timeline.
pub async fn activities(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(path): Path<IssuePath>,
) -> Reply {
    activity_list(state, user, path.org.as_deref(), &path.issue).await
}

// ------------------------------------------------------------------------------------------------
// Teams and members.

/// `GET /api/0/organizations/{org}/teams/`
pub async fn list_teams(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(org): Path<String>,
) -> Reply {
    let org = access::organization(&state, &user, &org).await?;
    let mut conn = state.db.read().await?;
    let teams = team_store::list_for_org(&mut conn.conn(), org.id).await?;
    let mine = team_store::team_ids_of_user(&mut conn.conn(), org.id, user.id).await?;
    let body: Vec<Value> = teams
        .iter()
        .map(|t| issue_extras::team_json(t, mine.contains(&t.id)))
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}

fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').chars().take(50).collect()
}

/// `POST /api/0/organizations/{org}/teams/` with `{"slug": ..., "name": ...}` (organization
/// admins, managers and owners): 201 and the team.
pub async fn create_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(org): Path<String>,
    body: Bytes,
) -> Reply {
    let org = access::organization(&state, &user, &org).await?;
    let role = role_in(&state, &org, &user).await?;
    if !user.is_superuser && !is_admin_role(role.as_deref()) {
        return Err(ApiError::forbidden());
    }
    let body = parse_body(&body)?;
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let name = text("name");
    let slug = match (text("slug"), &name) {
        (Some(slug), _) => slug,
        (None, Some(name)) => slugify(name),
        (None, None) => return Err(ApiError::invalid_field("slug", "This field is required.")),
    };
    if !team_store::valid_slug(&slug) {
        return Err(ApiError::invalid_field(
            "slug",
            "Enter a valid slug consisting of lowercase letters, numbers, underscores or \
             hyphens. It cannot be entirely numeric.",
        ));
    }
    let name = name.unwrap_or_else(|| slug.clone());
    let mut tx = begin(&state).await?;
    let team = match team_store::create(&mut tx.conn(), org.id, &slug, &name, now_ms()).await {
        Ok(team) => team,
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "A team with this slug already exists.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    Ok(json_response(
        StatusCode::CREATED,
        issue_extras::team_json(&team, false),
    ))
}

/// `GET /api/0/organizations/{org}/members/`: who issues can be assigned to.
pub async fn list_members(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(org): Path<String>,
) -> Reply {
    let org = access::organization(&state, &user, &org).await?;
    let mut conn = state.db.read().await?;
    let members = team_store::org_members(&mut conn.conn(), org.id).await?;
    let body: Vec<Value> = members.iter().map(issue_extras::member_json).collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}

/// The member (`me` or a membership id) and team of a team-membership route, checking that the
/// caller may change it: admins for anyone, members for themselves.
async fn team_membership(
    state: &AppState,
    caller: &User,
    org: &str,
    member: &str,
    team: &str,
) -> Result<(UserRef, i64, Value), ApiError> {
    let org = access::organization(state, caller, org).await?;
    let mut conn = state.db.read().await?;
    let member = if member == "me" {
        team_store::find_org_user(&mut conn.conn(), org.id, UserLookup::Id(caller.id)).await?
    } else {
        let id = member.parse::<i64>().map_err(|_| ApiError::not_found())?;
        team_store::org_member(&mut conn.conn(), org.id, id)
            .await?
            .map(|m| m.user)
    }
    .ok_or_else(ApiError::not_found)?;
    let team = team_store::find_by_slug(&mut conn.conn(), org.id, team)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let role = org_store::member_role(&mut conn.conn(), org.id, caller.id).await?;
    if !(caller.is_superuser || is_admin_role(role.as_deref()) || member.id == caller.id) {
        return Err(ApiError::forbidden());
    }
    let mine = team_store::team_ids_of_user(&mut conn.conn(), org.id, caller.id).await?;
    let json = issue_extras::team_json(&team, mine.contains(&team.id));
    Ok((member, team.id, json))
}

/// `POST /api/0/organizations/{org}/members/{member}/teams/{team}/`: adds the member (`me` or a
/// member id) to the team; 201 (204 when already a member).
pub async fn join_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((org, member, team)): Path<(String, String, String)>,
) -> Reply {
    let (member, team_id, _) = team_membership(&state, &user, &org, &member, &team).await?;
    let mut tx = begin(&state).await?;
    let added = team_store::add_member(&mut tx.conn(), team_id, member.id, now_ms()).await?;
    tx.commit().await?;
    if !added {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut conn = state.db.write().await?;
    let team = team_store::get(&mut conn.conn(), team_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(json_response(
        StatusCode::CREATED,
        issue_extras::team_json(&team, member.id == user.id),
    ))
}

/// `DELETE /api/0/organizations/{org}/members/{member}/teams/{team}/`: 200 and the team.
pub async fn leave_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((org, member, team)): Path<(String, String, String)>,
) -> Reply {
    let (member, team_id, mut json) = team_membership(&state, &user, &org, &member, &team).await?;
    let mut tx = begin(&state).await?;
    team_store::remove_member(&mut tx.conn(), team_id, member.id).await?;
    tx.commit().await?;
    if member.id == user.id {
        json["isMember"] = json!(false);
    }
    Ok(json_response(StatusCode::OK, json))
}

// ------------------------------------------------------------------------------------------------
// Releases and environments.

fn release_json(release: &Release, project: &Project) -> Value {
    json!({
        "id": release.id,
        "version": release.version,
        "shortVersion": release.version,
        "versionInfo": null,
        "ref": null,
        "url": null,
        "dateReleased": null,
        "dateCreated": views::date(release.created_at),
        "data": {},
        "newGroups": release.new_issues,
        "owner": null,
        "commitCount": 0,
        "lastCommit": null,
        "deployCount": 0,
        "lastDeploy": null,
        "authors": [],
        "projects": [{
            "id": project.id,
            "slug": project.slug,
            "name": project.name,
            "newGroups": release.new_issues,
            "platform": project.platform,
            "platforms": project.platform.iter().collect::<Vec<_>>(),
            "hasHealthData": false,
        }],
        "firstEvent": views::date(release.first_seen),
        "lastEvent": views::date(release.last_seen),
        "currentProjectMeta": {},
        "userAgent": null,
        "status": "open",
        "eventCount": release.event_count,
    })
}

/// `GET /api/0/projects/{org}/{project}/releases/`: newest first by first event; `query`
/// filters versions; `per_page` and `cursor` paginate.
pub async fn list_releases(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((org, project)): Path<(String, String)>,
    params: Params,
) -> Reply {
    let (org, project) = access::project(&state, &user, &org, &project).await?;
    let per_page = params.per_page(MAX_PER_PAGE)?;
    let cursor = Cursor::parse(params.get("cursor"))?;
    let mut conn = state.db.read().await?;
    let rows = release_store::list(
        &mut conn.conn(),
        project.id,
        params.get("query"),
        page_for(cursor),
        per_page as i64 + 1,
    )
    .await?;
    let (rows, links) = finish_page(rows, per_page, cursor, |r| (r.first_seen, r.id));
    let path = format!("/api/0/projects/{}/{}/releases/", org.slug, project.slug);
    let link = link_header(
        &format!("{}{path}", state.config.public_url()),
        params.raw(),
        &links,
    );
    let body: Vec<Value> = rows.iter().map(|r| release_json(r, &project)).collect();
    Ok(([link], axum::Json(body)).into_response())
}

fn environment_json(environment: &Environment) -> Value {
    json!({
        "id": environment.id.to_string(),
        "name": environment.name,
        "isHidden": false,
        "firstSeen": views::date(environment.first_seen),
        "lastSeen": views::date(environment.last_seen),
        "eventCount": environment.event_count,
        "newIssues": environment.new_issues,
    })
}

/// `GET /api/0/projects/{org}/{project}/environments/`: by name (`visibility=hidden` lists none:
/// environments cannot be hidden yet).
pub async fn list_environments(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((org, project)): Path<(String, String)>,
    params: Params,
) -> Reply {
    let (_, project) = access::project(&state, &user, &org, &project).await?;
    if params.get("visibility") == Some("hidden") {
        return Ok(json_response(StatusCode::OK, json!([])));
    }
    let mut conn = state.db.read().await?;
    let list = release_store::environments(&mut conn.conn(), project.id).await?;
    let body: Vec<Value> = list.iter().map(environment_json).collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn status_bodies() {
        let now = 1_000_000;
        let u = parse_update(&body(r#"{"status": "resolved"}"#), now).unwrap();
        assert_eq!(u.status, Some(StatusChange::Resolve));
        let u = parse_update(
            &body(r#"{"status": "resolved", "statusDetails": {"inRelease": "1.2"}}"#),
            now,
        )
        .unwrap();
        assert_eq!(u.status, Some(StatusChange::ResolveInRelease("1.2".into())));
        let u = parse_update(
            &body(r#"{"status": "resolved", "statusDetails": {"inNextRelease": true}}"#),
            now,
        )
        .unwrap();
        assert_eq!(u.status, Some(StatusChange::ResolveInNextRelease));
        let u = parse_update(&body(r#"{"status": "resolvedInNextRelease"}"#), now).unwrap();
        assert_eq!(u.status, Some(StatusChange::ResolveInNextRelease));
        let u = parse_update(
            &body(r#"{"status": "ignored", "statusDetails": {"ignoreDuration": 30}}"#),
            now,
        )
        .unwrap();
        let Some(StatusChange::Ignore(c)) = u.status else {
            panic!("ignore");
        };
        assert_eq!(c.until_ms, Some(now + 30 * 60_000));
        assert_eq!(c.duration_minutes, Some(30));
        let u = parse_update(
            &body(
                r#"{"status": "ignored", "statusDetails": {"ignoreCount": "5", "ignoreWindow": 60,
                    "ignoreUntil": "2026-11-25T00:16:07Z"}}"#,
            ),
            now,
        )
        .unwrap();
        let Some(StatusChange::Ignore(c)) = u.status else {
            panic!("ignore");
        };
        assert_eq!((c.count, c.window_minutes), (Some(5), Some(60)));
        assert_eq!(c.until_ms, Some(1_795_565_767_000));
        assert!(parse_update(&body(r#"{"status": "bogus"}"#), now).is_err());
        assert!(
            parse_update(
                &body(r#"{"status": "ignored", "statusDetails": {"ignoreCount": "x"}}"#),
                now
            )
            .is_err()
        );
        assert!(
            parse_update(
                &body(r#"{"status": "ignored", "substatus": "archived_until_escalating"}"#),
                now
            )
            .is_err()
        );
    }

    #[test]
    fn assignee_bodies() {
        let parse = |v: Value| parse_assignee(&v).ok().flatten();
        assert_eq!(parse(json!("user:12")), Some(AssigneeSpec::UserId(12)));
        assert_eq!(parse(json!("team:3")), Some(AssigneeSpec::TeamId(3)));
        assert_eq!(parse(json!("7")), Some(AssigneeSpec::UserId(7)));
        assert_eq!(
            parse(json!("#backend")),
            Some(AssigneeSpec::TeamSlug("backend".into()))
        );
        assert_eq!(
            parse(json!("a@b.c")),
            Some(AssigneeSpec::Email("a@b.c".into()))
        );
        assert_eq!(parse(json!("me")), Some(AssigneeSpec::Me));
        assert_eq!(parse(json!("")), None);
        assert_eq!(parse(Value::Null), None);
        assert!(parse_assignee(&json!("user:x")).is_err());
        let u = parse_update(
            &body(r#"{"assignedTo": "", "isBookmarked": "true", "merge": 1}"#),
            0,
        )
        .unwrap();
        assert_eq!(u.assigned_to, Some(None));
        assert_eq!(u.bookmarked, Some(true));
        assert!(u.merge);
    }

    #[test]
    fn team_slugs_from_names() {
        assert_eq!(slugify("Backend Team"), "backend-team");
        assert_eq!(slugify("  Ops / SRE "), "ops-sre");
    }
}
