//! Issue updates through the API: status, assignment, bookmarks and merges of one issue or
//! many, and unmerge.
//!
//! Paths and bodies follow Sentry's:
//!
//! * `PUT /issues/{id}/` (and `/organizations/{org}/issues/{id}/`): `status` (`resolved`,
//!   `resolvedInNextRelease`, `unresolved`, `ignored`), `statusDetails` (`inRelease`,
//!   `inNextRelease`, `ignoreDuration` minutes, `ignoreUntil`, `ignoreCount`, `ignoreWindow`,
//!   `ignoreUserCount`, `ignoreUserWindow`), `assignedTo` (`user:ID`, `team:ID`, a user id, an
//!   e-mail, `#team-slug`, `me`, or `""`/`null` to unassign), `isBookmarked`, `hasSeen`,
//!   `isSubscribed` (the caller's own view, see `issue_state`). `isPublic` is accepted and
//!   ignored. Answers the updated issue.
//! * `PUT /projects/{org}/{project}/issues/?id=1&id=2` (and `/organizations/{org}/issues/`): the
//!   same body for several issues (or, without `id`, for up to 1000 issues matching `query`),
//!   plus `merge: 1`. Answers what was applied, e.g. `{"status": "resolved", "statusDetails": {}}`
//!   or `{"merge": {"parent": "1", "children": ["2"]}}`.
//! * `PUT` or `DELETE /issues/{id}/hashes/?id=<hash>`: unmerge (202).
//!
//! Every write runs in one transaction (`state.db.begin()`), so a request that changes status,
//! assignee and bookmark together either applies all of it or nothing.

use crate::routes::{Routes, Surface};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::Scope;
use errhound_store::issues::{self as issue_store, Issue, IssueFilter, IssueSort, Page};
use errhound_store::now_ms;
use errhound_store::orgs::Organization;
use errhound_store::projects::Project;
use errhound_store::users::User;
use errhound_store::workflow::{
    self, AssigneeName, ChangeError, IgnoreConditions, IssueChange, Merged, ResolutionKind,
    StatusChange,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::access::{self, ApiUser, Grant};
use super::issue_extras;
use super::issue_state;
use super::params::Params;
use super::request::{Reply, begin, json_response, parse_body};
use super::search::search_as;
use super::{search, views};
use crate::AppState;
use crate::error::ApiError;

/// Most issues one bulk update may touch (Sentry's `BULK_MUTATION_LIMIT`).
const BULK_LIMIT: i64 = 1000;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    let write = Scope::EventWrite;
    Routes::new(Surface::Api)
        .put("/issues/{issue}/", write, update_issue)
        .put("/organizations/{org}/issues/{issue}/", write, update_issue)
        .put("/projects/{org}/{project}/issues/", write, bulk_in_project)
        .put("/organizations/{org}/issues/", write, bulk_in_org)
        .put("/issues/{issue}/hashes/", write, unmerge)
        .delete("/issues/{issue}/hashes/", write, unmerge)
        .put(
            "/organizations/{org}/issues/{issue}/hashes/",
            write,
            unmerge,
        )
        .delete(
            "/organizations/{org}/issues/{issue}/hashes/",
            write,
            unmerge,
        )
}

// ------------------------------------------------------------------------------------------------
// The update body.

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

fn parse_assignee(value: &Value) -> Result<Option<AssigneeName>, ApiError> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim(),
        Value::Number(n) => {
            return n
                .as_i64()
                .map(|id| Some(AssigneeName::UserId(id)))
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
        AssigneeName::UserId(id(rest)?)
    } else if let Some(rest) = text.strip_prefix("team:") {
        AssigneeName::TeamId(id(rest)?)
    } else if let Some(slug) = text.strip_prefix('#') {
        AssigneeName::TeamSlug(slug.to_owned())
    } else if text == "me" {
        AssigneeName::Me
    } else if text.bytes().all(|b| b.is_ascii_digit()) {
        AssigneeName::UserId(id(text)?)
    } else {
        AssigneeName::Email(text.to_owned())
    }))
}

/// The change a `PUT` body asks for.
fn parse_update(body: &Map<String, Value>, now_ms: i64) -> Result<IssueChange, ApiError> {
    let mut update = IssueChange::default();
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
        update.assignee = Some(parse_assignee(value)?);
    }
    if let Some(value) = body.get("isBookmarked").filter(|v| !v.is_null()) {
        update.bookmarked = Some(boolean("isBookmarked", value)?);
    }
    if let Some(value) = body.get("merge") {
        update.merge = truthy(value);
    }
    Ok(update)
}

/// How a refused change reads in Sentry's API.
fn change_error(error: ChangeError) -> ApiError {
    match error {
        ChangeError::ReleaseAcrossProjects { next: false } => {
            ApiError::bad_request("Cannot set resolved in release for multiple projects.")
        }
        ChangeError::ReleaseAcrossProjects { next: true } => {
            ApiError::bad_request("Cannot set resolved in next release for multiple projects.")
        }
        ChangeError::MergeAcrossProjects => {
            ApiError::bad_request("Merging across multiple projects is not supported")
        }
        ChangeError::MergeNeedsTwoIssues => {
            ApiError::bad_request("Only multiple issues can be merged.")
        }
        ChangeError::NotAMember => {
            ApiError::invalid_field("assignedTo", "Cannot assign to non-member")
        }
        ChangeError::UnknownTeam => ApiError::invalid_field("assignedTo", "Unknown team"),
        ChangeError::Workflow(error) => ApiError::from(error),
    }
}

/// Applies `update` to `issues` (all of one organization) in one transaction; returns Sentry's
/// result object.
async fn apply_update(
    state: &AppState,
    org: &Organization,
    caller: &User,
    issues: &[Issue],
    (update, viewer): (&IssueChange, issue_state::ViewerUpdate),
    now: i64,
) -> Result<Map<String, Value>, ApiError> {
    let mut tx = begin(state).await?;
    let outcome = workflow::apply_changes(&mut tx, org.id, caller.id, issues, update, now)
        .await
        .map_err(change_error)?;
    let mut result = Map::new();
    issue_state::apply_update(&mut tx.conn(), issues, caller.id, viewer, now, &mut result).await?;
    let caller_json = issue_extras::user_json(&issue_extras::user_ref(caller));
    if let Some(change) = &update.status {
        let (status, details) = match change {
            StatusChange::Resolve => ("resolved", json!({})),
            StatusChange::ResolveInNextRelease => match &outcome.resolution {
                Some(_) => (
                    "resolved",
                    json!({"inNextRelease": true, "actor": caller_json}),
                ),
                None => ("resolved", json!({"inNextRelease": true})),
            },
            StatusChange::ResolveInRelease(_) => match &outcome.resolution {
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
    if update.assignee.is_some() {
        let shown = match (outcome.assignee, issues.first()) {
            (Some(_), Some(first)) => {
                let states =
                    workflow::issue_states(&mut tx.conn(), std::slice::from_ref(first), None)
                        .await?;
                states
                    .get(&first.id)
                    .and_then(|s| s.assignee.as_ref())
                    .map_or(Value::Null, issue_extras::actor_json)
            }
            _ => Value::Null,
        };
        result.insert("assignedTo".into(), shown);
    }
    if let Some(bookmarked) = update.bookmarked {
        result.insert("isBookmarked".into(), json!(bookmarked));
    }
    if let Some(Merged { parent, children }) = &outcome.merged {
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
    let mut conn = state.db.read_latest().await?;
    let issue = issue_store::get(&mut conn.conn(), issue_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut value = views::issue(&issue, project, org, &state.config.public_url());
    issue_state::decorate_detail(&mut conn.conn(), caller, &issue, &mut value).await?;
    Ok(value)
}

/// `PUT /api/0/issues/{issue}/` and `/api/0/organizations/{org}/issues/{issue}/`
pub async fn update_issue(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    body: Bytes,
) -> Reply {
    let (org, project, issue) = (&grant.org, grant.project()?, grant.issue()?);
    let body = parse_body(&body)?;
    let now = now_ms();
    let mut update = parse_update(&body, now)?;
    let viewer = issue_state::parse_update(&body)?;
    // Merging needs several issues; on one issue Sentry ignores `merge`.
    update.merge = false;
    let result = apply_update(
        &state,
        org,
        &user,
        std::slice::from_ref(issue),
        (&update, viewer),
        now,
    )
    .await?;
    let mut value = render_issue(&state, &user, org, project, issue.id).await?;
    // The rendered issue is the state after the update; the result only adds what it lacks
    // (`inbox`).
    if let Some(object) = value.as_object_mut() {
        for (key, v) in result {
            object.entry(key).or_insert(v);
        }
    }
    Ok(json_response(StatusCode::OK, value))
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
    let mut update = parse_update(&body, now)?;
    let viewer = issue_state::parse_update(&body)?;
    let issues = bulk_targets(&state, (&org, &caller), &params, project_ids).await?;
    if issues.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // Sentry ignores `merge` when only one issue matches.
    update.merge &= issues.len() > 1;
    let result = apply_update(&state, &org, &caller, &issues, (&update, viewer), now).await?;
    Ok(json_response(StatusCode::OK, Value::Object(result)))
}

/// `PUT /api/0/projects/{org}/{project}/issues/?id=...`
pub async fn bulk_in_project(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    params: Params,
    body: Bytes,
) -> Reply {
    let project_id = grant.project()?.id;
    bulk(state, user, grant.org, vec![project_id], params, body).await
}

/// `PUT /api/0/organizations/{org}/issues/?id=...` (`project=` narrows the projects).
pub async fn bulk_in_org(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    params: Params,
    body: Bytes,
) -> Reply {
    let mut conn = state.db.read().await?;
    let all = access::visible_projects(&mut conn.conn(), &grant.access, &grant.org).await?;
    drop(conn);
    let org = grant.org;
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

/// `PUT` (Sentry) or `DELETE` (older Sentry) `/api/0/issues/{issue}/hashes/?id=<hash>`, also under
/// `/api/0/organizations/{org}/`: unmerge
pub async fn unmerge(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    params: Params,
) -> Reply {
    let issue = grant.issue()?;
    let hashes = params.all("id");
    if hashes.is_empty() {
        // Sentry answers an empty 200 when no hash is named.
        return Ok(StatusCode::OK.into_response());
    }
    let mut tx = begin(&state).await?;
    workflow::unmerge(&mut tx, issue.id, &hashes, Some(user.id), now_ms()).await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED.into_response())
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
        assert_eq!(parse(json!("user:12")), Some(AssigneeName::UserId(12)));
        assert_eq!(parse(json!("team:3")), Some(AssigneeName::TeamId(3)));
        assert_eq!(parse(json!("7")), Some(AssigneeName::UserId(7)));
        assert_eq!(
            parse(json!("#backend")),
            Some(AssigneeName::TeamSlug("backend".into()))
        );
        assert_eq!(
            parse(json!("a@b.c")),
            Some(AssigneeName::Email("a@b.c".into()))
        );
        assert_eq!(parse(json!("me")), Some(AssigneeName::Me));
        assert_eq!(parse(json!("")), None);
        assert_eq!(parse(Value::Null), None);
        assert!(parse_assignee(&json!("user:x")).is_err());
        let u = parse_update(
            &body(r#"{"assignedTo": "", "isBookmarked": "true", "merge": 1}"#),
            0,
        )
        .unwrap();
        assert_eq!(u.assignee, Some(None));
        assert_eq!(u.bookmarked, Some(true));
        assert!(u.merge);
    }
}
