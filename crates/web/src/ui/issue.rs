//! The issue page (`/organizations/{org}/issues/{id}/`, optionally `events/{event}/` for a chosen
//! event) and its workflow forms: resolve (now, in the next release, in a release), ignore
//! (forever, for a while, until N more events or users), unresolve, assign, bookmark, comment,
//! merge and unmerge. Every form POSTs and redirects back (Post/Redirect/Get) as a plain
//! navigation, so the URL always names the event shown and error pages are seen.
//!
//! Changes go through `store::workflow` in one transaction per request, with the user as actor,
//! so the activity timeline shows who did what.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use errhound_domain::time::HourBuckets;
use errhound_domain::{IssueStatus, Scope, Substatus};
use errhound_store::activity::{self, Activity};
use errhound_store::alerts::outbox;
use errhound_store::events::{self as event_store, StoredEvent};
use errhound_store::issues::{self as issue_store, Issue};
use errhound_store::orgs::Organization;
use errhound_store::projects::Project;
use errhound_store::teams;
use errhound_store::users::User;
use errhound_store::viewer as store_viewer;
use errhound_store::workflow::{
    self, AssigneeName, ChangeError, ChangeOutcome, IgnoreConditions, IssueChange, StatusChange,
};
use errhound_store::{Conn, StoreError, now_ms, releases, tag_values};
use serde_json::Value;
use tower_sessions::Session;

use super::alerts::{self, DeliveryRow};
use super::error::{UiError, UiResult};
use super::event::{self, EventView};
use super::form::{self, FormData};
use super::format;
use super::issues::{assignee_name, badges};
use super::layout::{FLASH, Nav};
use super::login::UiUser;
use super::markdown;
use crate::AppState;
use crate::api::access::{self, Grant};
use crate::api::request::EventPath;
use crate::tickets::{self, IssueTickets};

/// Deliveries of the issue's notifications shown on its page.
const DELIVERIES_SHOWN: i64 = 10;

/// Stores a one-time message for the next page.
pub async fn flash(session: &Session, message: &str) {
    if let Err(error) = session.insert(FLASH, message).await {
        tracing::warn!(error = %error, "could not store a message in the session");
    }
}

/// Stores `message` for the next page and redirects to `to` (the end of every form post).
pub async fn flash_redirect(session: &Session, message: &str, to: &str) -> UiResult {
    flash(session, message).await;
    Ok(Redirect::to(to).into_response())
}

/// An entry of the assignee picker: `user:ID`, `team:ID`.
pub struct AssignOption {
    /// Form value.
    pub value: String,
    /// Label.
    pub label: String,
}

/// Everyone an issue of the organization can be assigned to.
pub async fn assign_options(
    conn: &mut Conn<'_>,
    org_id: i64,
) -> Result<Vec<AssignOption>, StoreError> {
    let mut out: Vec<AssignOption> = teams::org_members(conn, org_id)
        .await?
        .into_iter()
        .filter(|m| m.is_active)
        .map(|m| AssignOption {
            value: format!("user:{}", m.user.id),
            label: if m.user.name.trim().is_empty() || m.user.name == m.user.email {
                m.user.email
            } else {
                format!("{} ({})", m.user.name, m.user.email)
            },
        })
        .collect();
    out.extend(
        teams::list_for_org(conn, org_id)
            .await?
            .into_iter()
            .map(|t| AssignOption {
                value: format!("team:{}", t.id),
                label: format!("#{}", t.slug),
            }),
    );
    Ok(out)
}

/// The status change a form asks for. `action`: `resolve`, `resolveInNextRelease`,
/// `resolveInRelease` (field `release`), `unresolve`, `ignore` (fields `ignoreDuration` minutes,
/// `ignoreCount` + `ignoreWindow` minutes, `ignoreUserCount` + `ignoreUserWindow` minutes; none
/// means forever).
pub fn status_change(action: &str, form: &FormData, now: i64) -> Result<StatusChange, String> {
    Ok(match action {
        "resolve" => StatusChange::Resolve,
        "resolveInNextRelease" => StatusChange::ResolveInNextRelease,
        "resolveInRelease" => match form.text("release") {
            Some(version) => StatusChange::ResolveInRelease(version.to_owned()),
            None => return Err("Choose the release that fixes the issue.".to_owned()),
        },
        "unresolve" => StatusChange::Unresolve,
        "ignore" => {
            let duration = form.positive("ignoreDuration")?;
            let count = form.positive("ignoreCount")?;
            let user_count = form.positive("ignoreUserCount")?;
            StatusChange::Ignore(IgnoreConditions {
                until_ms: duration.map(|m| now.saturating_add(m.saturating_mul(60_000))),
                duration_minutes: duration,
                count,
                window_minutes: count.and(form.positive("ignoreWindow")?),
                user_count,
                user_window_minutes: user_count.and(form.positive("ignoreUserWindow")?),
            })
        }
        other => return Err(format!("Unknown action {other:?}.")),
    })
}

/// The assignee a form names: `user:ID`, `team:ID`, `me`, or empty to unassign (`None`).
fn assignee(value: &str) -> Result<Option<AssigneeName>, UiError> {
    let id = |text: &str| text.parse::<i64>().map_err(|_| not_assignable());
    if value.is_empty() {
        return Ok(None);
    }
    Ok(Some(if let Some(team) = value.strip_prefix("team:") {
        AssigneeName::TeamId(id(team)?)
    } else if let Some(user) = value.strip_prefix("user:") {
        AssigneeName::UserId(id(user)?)
    } else if value == "me" {
        AssigneeName::Me
    } else {
        return Err(not_assignable());
    }))
}

fn not_assignable() -> UiError {
    UiError::bad_request("Issues can only be assigned to members and teams of the organization.")
}

/// The change a form `action` asks for (see [`status_change`] for the status actions).
pub fn issue_change(action: &str, form: &FormData, now: i64) -> Result<IssueChange, UiError> {
    let mut change = IssueChange::default();
    match action {
        "resolve" | "resolveInNextRelease" | "resolveInRelease" | "unresolve" | "ignore" => {
            change.status = Some(status_change(action, form, now).map_err(UiError::bad_request)?);
        }
        "assign" => change.assignee = Some(assignee(form.text("assignee").unwrap_or(""))?),
        "bookmark" => change.bookmarked = Some(true),
        "unbookmark" => change.bookmarked = Some(false),
        "merge" => change.merge = true,
        other => return Err(UiError::bad_request(format!("Unknown action {other:?}."))),
    }
    Ok(change)
}

/// How a refused change reads on a page.
fn change_error(error: ChangeError) -> UiError {
    match error {
        ChangeError::ReleaseAcrossProjects { .. } => UiError::bad_request(
            "Resolving in a release works for issues of one project at a time.",
        ),
        ChangeError::MergeAcrossProjects => {
            UiError::bad_request("Only issues of the same project can be merged.")
        }
        ChangeError::MergeNeedsTwoIssues => {
            UiError::bad_request("Select at least two issues to merge.")
        }
        ChangeError::NotAMember | ChangeError::UnknownTeam => not_assignable(),
        ChangeError::Workflow(error) => UiError::from(error),
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Applies a workflow `action` to `issues` (all of `org`, visible to `caller`) in one
/// transaction; returns the message to show.
pub async fn apply_action(
    state: &AppState,
    org: &Organization,
    caller: &User,
    issues: &[Issue],
    action: &str,
    form: &FormData,
) -> UiResult<String> {
    Ok(apply(state, org, caller, issues, action, form).await?.0)
}

/// [`apply_action`], also returning what the change did.
async fn apply(
    state: &AppState,
    org: &Organization,
    caller: &User,
    issues: &[Issue],
    action: &str,
    form: &FormData,
) -> UiResult<(String, ChangeOutcome)> {
    let now = now_ms();
    let change = issue_change(action, form, now)?;
    let mut tx = state.db.begin().await?;
    let outcome = workflow::apply_changes(&mut tx, org.id, caller.id, issues, &change, now)
        .await
        .map_err(change_error)?;
    tx.commit().await?;
    Ok((change_message(&change, &outcome, issues.len()), outcome))
}

/// What a change did to `count` issues, for the flash message.
fn change_message(change: &IssueChange, outcome: &ChangeOutcome, count: usize) -> String {
    let what = plural(count, "issue");
    if let Some(status) = &change.status {
        let done = match status {
            StatusChange::Resolve => "resolved".to_owned(),
            StatusChange::ResolveInNextRelease => "resolved in the next release".to_owned(),
            StatusChange::ResolveInRelease(v) => format!("resolved in {v}"),
            StatusChange::Unresolve => "unresolved".to_owned(),
            StatusChange::Ignore(c) => format!("ignored {}", describe_ignore(c)),
        };
        return if outcome.status_changed == 0 {
            format!("Nothing changed: {what} already {done}.")
        } else {
            format!("{} {done}.", plural(outcome.status_changed, "issue"))
        };
    }
    if let Some(merged) = &outcome.merged {
        return format!(
            "Merged {} into issue {}.",
            plural(merged.children.len(), "issue"),
            merged.parent
        );
    }
    match (&change.assignee, change.bookmarked) {
        (Some(Some(_)), _) => format!("Assigned {what}."),
        (Some(None), _) => format!("Unassigned {what}."),
        (None, Some(true)) => format!("Bookmarked {what}."),
        (None, Some(false)) => format!("Removed the bookmark of {what}."),
        (None, None) => "Nothing to change.".to_owned(),
    }
}

/// The message to show for an action's outcome: what was done, or why it was refused when the
/// user can fix it (400, 409), so that the page they were on is shown again with the message
/// instead of an error page that loses their view. Other errors stay errors.
pub fn outcome(result: UiResult<String>) -> UiResult<String> {
    match result {
        Err(error) if matches!(error.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) => {
            Ok(error.message)
        }
        other => other,
    }
}

/// `until 10 more events`, `for 2 hours`, `forever`.
fn describe_ignore(c: &IgnoreConditions) -> String {
    let mut parts = Vec::new();
    if let Some(m) = c.duration_minutes {
        parts.push(format!("for {}", format::minutes(m)));
    } else if let Some(until) = c.until_ms {
        parts.push(format!("until {}", format::datetime(until)));
    }
    if let Some(n) = c.count {
        let within = c
            .window_minutes
            .map(|w| format!(" within {}", format::minutes(w)))
            .unwrap_or_default();
        parts.push(format!(
            "until it occurs {n} more time{}{within}",
            if n == 1 { "" } else { "s" }
        ));
    }
    if let Some(n) = c.user_count {
        let within = c
            .user_window_minutes
            .map(|w| format!(" within {}", format::minutes(w)))
            .unwrap_or_default();
        parts.push(format!(
            "until {n} more user{} see it{within}",
            if n == 1 { "" } else { "s" }
        ));
    }
    if parts.is_empty() {
        "forever".to_owned()
    } else {
        parts.join(" or ")
    }
}

/// One timeline entry.
pub struct ActivityView {
    /// Activity id (comments can be deleted by it).
    pub id: i64,
    /// Who did it.
    pub who: String,
    /// What happened, as text.
    pub text: String,
    /// The comment, as safe HTML (markdown rendered, raw HTML escaped).
    pub comment_html: Option<String>,
    /// Whether the viewer may delete it (their own comment).
    pub deletable: bool,
    /// When, relative and absolute.
    pub when: (String, String),
    /// CSS class of the entry.
    pub kind: String,
}

fn data_str<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn describe(activity: &Activity) -> String {
    let d = &activity.data;
    match activity.kind.as_str() {
        "set_resolved" => "marked this issue as resolved".to_owned(),
        "set_resolved_in_release" => match data_str(d, "version") {
            Some(v) => format!("marked this issue as resolved in {v}"),
            None => "marked this issue as resolved in the next release".to_owned(),
        },
        "set_unresolved" => "marked this issue as unresolved".to_owned(),
        "set_ignored" => {
            let int = |k: &str| d.get(k).and_then(Value::as_i64);
            let conditions = IgnoreConditions {
                until_ms: None,
                duration_minutes: int("ignoreDuration"),
                count: int("ignoreCount"),
                window_minutes: int("ignoreWindow"),
                user_count: int("ignoreUserCount"),
                user_window_minutes: int("ignoreUserWindow"),
            };
            match data_str(d, "ignoreUntil") {
                Some(until) if conditions.duration_minutes.is_none() => {
                    format!("ignored this issue until {until}")
                }
                _ => format!("ignored this issue {}", describe_ignore(&conditions)),
            }
        }
        "set_regression" => match data_str(d, "version") {
            Some(v) => format!("marked this issue as a regression in {v}"),
            None => "marked this issue as a regression".to_owned(),
        },
        "set_escalating" => {
            "marked this issue as escalating: its ignore condition was met".to_owned()
        }
        "assigned" => {
            let name = data_str(d, "assigneeName")
                .or_else(|| data_str(d, "assigneeEmail"))
                .or_else(|| data_str(d, "assignee"))
                .unwrap_or("someone");
            if data_str(d, "assigneeType") == Some("team") {
                format!("assigned this issue to #{name}")
            } else {
                format!("assigned this issue to {name}")
            }
        }
        "unassigned" => "unassigned this issue".to_owned(),
        "note" => "commented".to_owned(),
        "merge" => {
            let n = d
                .get("issues")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!("merged {} into this issue", plural(n, "issue"))
        }
        "unmerge_source" => {
            let n = d
                .get("fingerprints")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!(
                "split {} off into issue {}",
                plural(n, "fingerprint"),
                data_str(d, "destination_id").unwrap_or("?")
            )
        }
        "unmerge_destination" => format!(
            "split this issue off issue {}",
            data_str(d, "source_id").unwrap_or("?")
        ),
        "create_issue" => {
            let provider = data_str(d, "provider").unwrap_or("an issue tracker");
            let key = data_str(d, "label").unwrap_or("?");
            if data_str(d, "title").is_some() {
                format!("created {provider} issue {key}")
            } else {
                format!("linked {provider} issue {key}")
            }
        }
        "first_seen" => "first seen".to_owned(),
        other => other.replace('_', " "),
    }
}

/// The timeline as shown.
fn activity_views(list: &[Activity], viewer: i64, now: i64) -> Vec<ActivityView> {
    list.iter()
        .map(|a| ActivityView {
            id: a.id,
            who: match &a.user {
                Some(u) => u.display_name().to_owned(),
                None => "Errhound".to_owned(),
            },
            text: describe(a),
            comment_html: (a.kind == "note").then(|| markdown::render(a.text().unwrap_or(""))),
            deletable: a.kind == "note" && a.user.as_ref().is_some_and(|u| u.id == viewer),
            when: (
                format::relative(a.created_at, now),
                format::datetime(a.created_at),
            ),
            kind: a.kind.clone(),
        })
        .collect()
}

/// One tag key with its top values.
pub struct TagView {
    /// Key.
    pub key: String,
    /// Distinct values.
    pub distinct: i64,
    /// `(value, percent text, bar SVG, link to the list filtered by it)`.
    pub values: Vec<(String, String, String, String)>,
}

/// Links between the events of the issue.
pub struct EventNav {
    /// Oldest event.
    pub first: Option<String>,
    /// The event before this one.
    pub previous: Option<String>,
    /// The event after this one.
    pub next: Option<String>,
    /// Newest event.
    pub latest: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "issue.html")]
struct IssuePage {
    nav: Nav,
    issue: Issue,
    project: Project,
    short_id: String,
    base: String,
    badges: Vec<(&'static str, String)>,
    status_text: String,
    assignee: String,
    assignee_value: String,
    bookmarked: bool,
    first_seen: (String, String),
    last_seen: (String, String),
    events: String,
    users: String,
    chart_day: String,
    chart_month: String,
    event: Option<EventView>,
    event_nav: EventNav,
    json_url: String,
    crumbs: String,
    tags: Vec<TagView>,
    activity: Vec<ActivityView>,
    assign_options: Vec<AssignOption>,
    releases: Vec<String>,
    hashes: Vec<String>,
    durations: Vec<(i64, String)>,
    windows: Vec<(i64, String)>,
    tickets: IssueTickets,
    can_link: bool,
    deliveries: Vec<DeliveryRow>,
}

impl IssuePage {
    fn is_assignee(&self, value: &str) -> bool {
        self.assignee_value == value
    }

    fn shows_tickets(&self) -> bool {
        !self.tickets.linked.is_empty() || (self.can_link && !self.tickets.offered.is_empty())
    }
}

/// The issue of a page's path: `Err(redirect)` when the path named an issue since merged into
/// another (the route guard follows merges, see [`crate::api::access`]), so the page moves there.
fn page_issue(
    grant: Grant,
    rest: &str,
) -> UiResult<Result<(Organization, Project, Issue), Redirect>> {
    let project = grant.project()?.clone();
    let found = grant.path_issue()?.clone();
    let org = grant.org;
    if found.merged_away {
        return Ok(Err(Redirect::permanent(&format!(
            "/organizations/{}/issues/{}/{rest}",
            org.slug, found.issue.id
        ))));
    }
    Ok(Ok((org, project, found.issue)))
}

/// Which event a page shows.
enum Which<'a> {
    Latest,
    Oldest,
    Id(&'a str),
}

async fn load_event(
    conn: &mut Conn<'_>,
    issue: &Issue,
    which: Which<'_>,
) -> Result<Option<StoredEvent>, UiError> {
    Ok(match which {
        Which::Latest => event_store::edge_of_issue(conn, issue.id, true).await?,
        Which::Oldest => event_store::edge_of_issue(conn, issue.id, false).await?,
        Which::Id(id) => {
            let Ok(id) = errhound_protocol::EventId::parse(id) else {
                return Err(UiError::not_found());
            };
            event_store::find(conn, issue.project_id, &id.to_simple())
                .await?
                .filter(|e| e.issue_id == issue.id)
        }
    })
}

fn series_of(rows: &[issue_store::HourlyCount], buckets: HourBuckets) -> format::Series {
    buckets.fill(now_ms(), rows.iter().map(|r| (r.hour, r.count)))
}

/// How a page is shown: its event, the breadcrumb filter, and whether the viewer may create
/// and link tickets (`project:write`).
struct View<'a> {
    which: Which<'a>,
    crumbs: String,
    can_link: bool,
}

async fn render(
    state: &AppState,
    user: UiUser,
    (org, project, issue): (Organization, Project, Issue),
    View {
        which,
        crumbs,
        can_link,
    }: View<'_>,
) -> UiResult {
    let now = now_ms();
    let nav = Nav::new(state, &user, &org, "issues", Some(project.id)).await?;
    let mut conn = state.db.read().await?;
    let stored = load_event(&mut conn.conn(), &issue, which).await?;
    let base = format!("/organizations/{}/issues/{}/", org.slug, issue.id);
    let (event, event_nav, json_url) = match &stored {
        Some(stored) => {
            let data = state
                .dictionaries
                .decode_json(&mut conn.conn(), &stored.data)
                .await?;
            let view = event::build(&stored.event_id, stored.received, &data, &crumbs);
            let (previous, next) = event_store::neighbours(&mut conn.conn(), stored).await?;
            let link = |id: &str| format!("{base}events/{id}/");
            let event_nav = EventNav {
                first: previous.as_ref().map(|_| link("oldest")),
                previous: previous.as_deref().map(link),
                next: next.as_deref().map(link),
                latest: next.as_ref().map(|_| link("latest")),
            };
            let json_url = format!("{base}events/{}/json/", stored.event_id);
            (Some(view), event_nav, json_url)
        }
        None => (
            None,
            EventNav {
                first: None,
                previous: None,
                next: None,
                latest: None,
            },
            String::new(),
        ),
    };
    let (hours, days) = (HourBuckets::new(1, 24), HourBuckets::new(24, 30));
    let day =
        issue_store::hourly_counts(&mut conn.conn(), &[issue.id], hours.first_hour(now)).await?;
    let month =
        issue_store::hourly_counts(&mut conn.conn(), &[issue.id], days.first_hour(now)).await?;
    let chart_day = format::bar_chart(&series_of(&day, hours), &format::short_datetime);
    let chart_month = format::bar_chart(&series_of(&month, days), &|ms| {
        format::short_datetime(ms)
            .get(..10)
            .unwrap_or("")
            .to_owned()
    });
    let list_base = format!("/organizations/{}/issues/", org.slug);
    let tags = tag_values::distribution(&mut conn.conn(), issue.id, 5)
        .await?
        .into_iter()
        .map(|t| TagView {
            values: t
                .top
                .iter()
                .map(|(value, n)| {
                    let percent = *n as f64 * 100.0 / t.total.max(1) as f64;
                    let query =
                        format!("is:unresolved {}:\"{}\"", t.key, value.replace('"', "\\\""));
                    (
                        value.clone(),
                        if percent >= 1.0 || percent == 0.0 {
                            format!("{percent:.0}%")
                        } else {
                            "<1%".to_owned()
                        },
                        format::percent_bar(percent),
                        form::url(
                            &list_base,
                            &[("project", &project.id.to_string()), ("query", &query)],
                        ),
                    )
                })
                .collect(),
            key: t.key,
            distinct: t.distinct,
        })
        .collect();
    let timeline = activity::timeline(&mut conn.conn(), issue.id, 100).await?;
    let states = workflow::issue_states(
        &mut conn.conn(),
        std::slice::from_ref(&issue),
        Some(user.user.id),
    )
    .await?;
    let state_of = states.get(&issue.id).cloned().unwrap_or_default();
    let assign_options = assign_options(&mut conn.conn(), org.id).await?;
    let releases = releases::list(
        &mut conn.conn(),
        project.id,
        None,
        issue_store::Page::First,
        20,
    )
    .await?
    .into_iter()
    .map(|r| r.version)
    .collect();
    let hashes = issue_store::hashes(&mut conn.conn(), issue.id).await?;
    let deliveries = outbox::list(
        &mut conn.conn(),
        outbox::Scope::Issue(issue.id),
        DELIVERIES_SHOWN,
    )
    .await?;
    drop(conn);
    let deliveries = alerts::rows(state, &org.slug, deliveries).await?;
    let tickets = tickets::of_issue(state, project.id, issue.id).await?;
    let status_text = match (issue.status, &state_of.resolution, &state_of.snooze) {
        (IssueStatus::Resolved, Some(r), _) => match r.kind {
            workflow::ResolutionKind::InRelease => format!("Resolved in release {}", r.version),
            workflow::ResolutionKind::InNextRelease => {
                format!("Resolved in the release after {}", r.version)
            }
        },
        (IssueStatus::Resolved, None, _) => "Resolved".to_owned(),
        (IssueStatus::Ignored, _, Some(s)) => {
            let mut parts = Vec::new();
            if let Some(until) = s.until_ms {
                parts.push(format!("until {}", format::datetime(until)));
            }
            if let Some(n) = s.count {
                let left = (n - (issue.times_seen - s.times_seen_at)).max(0);
                parts.push(format!("until {n} more events ({left} to go)"));
            }
            if let Some(n) = s.user_count {
                parts.push(format!("until {n} more users"));
            }
            format!("Ignored {}", parts.join(" or "))
        }
        (IssueStatus::Ignored, _, None) => "Ignored forever".to_owned(),
        (IssueStatus::Unresolved, _, _) => match issue.substatus {
            Some(Substatus::Regressed) => "Unresolved: regressed after it was resolved".to_owned(),
            Some(Substatus::Escalating) => "Unresolved: escalating after it was ignored".to_owned(),
            _ => "Unresolved".to_owned(),
        },
    };
    let assignee_value = match &state_of.assignee {
        Some(workflow::Assignee::User(u)) => format!("user:{}", u.id),
        Some(workflow::Assignee::Team { id, .. }) => format!("team:{id}"),
        None => String::new(),
    };
    let page = IssuePage {
        short_id: crate::api::views::short_id(&project.slug, issue.short_id),
        badges: badges(&issue, Some(&state_of)),
        status_text,
        assignee: assignee_name(state_of.assignee.as_ref()),
        assignee_value,
        bookmarked: state_of.bookmarked,
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
        chart_day,
        chart_month,
        event,
        event_nav,
        json_url,
        crumbs,
        tags,
        activity: activity_views(&timeline, user.user.id, now),
        assign_options,
        releases,
        hashes,
        durations: [30, 120, 360, 1440, 10_080]
            .into_iter()
            .map(|m| (m, format::minutes(m)))
            .collect(),
        windows: [60, 1440, 10_080]
            .into_iter()
            .map(|m| (m, format::minutes(m)))
            .collect(),
        tickets,
        can_link,
        deliveries,
        base,
        nav,
        issue,
        project,
    };
    Ok(page.into_response())
}

fn crumb_filter(raw: Option<&str>) -> String {
    FormData::parse(raw.unwrap_or(""))
        .get("crumbs")
        .unwrap_or("")
        .to_owned()
}

/// Records that the user saw the issue (Sentry's GroupSeen, the API's `hasSeen`) off the page's
/// path: the page never waits for SQLite's writer behind an ingest batch, and a failure only
/// costs the mark.
fn mark_seen_later(state: &AppState, issue_id: i64, user_id: i64) {
    let db = state.db.clone();
    tokio::spawn(async move {
        let marked = match db.write().await {
            Ok(mut conn) => {
                store_viewer::mark_seen(&mut conn.conn(), issue_id, user_id, now_ms()).await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = marked {
            tracing::warn!(error = %error, issue.id = issue_id, user.id = user_id, "cannot record that the issue was seen");
        }
    });
}

/// `GET /organizations/{org}/issues/{issue}/`: the issue with its latest event.
pub async fn detail(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let can_link = grant.access.has(Scope::ProjectWrite);
    let (org, project, issue) = match page_issue(grant, "")? {
        Ok(found) => found,
        Err(moved) => return Ok(moved.into_response()),
    };
    mark_seen_later(&state, issue.id, user.user.id);
    let view = View {
        which: Which::Latest,
        crumbs: crumb_filter(raw.as_deref()),
        can_link,
    };
    render(&state, user, (org, project, issue), view).await
}

/// `GET /organizations/{org}/issues/{issue}/events/{event}/` (`latest`, `oldest` or an id).
pub async fn event(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(EventPath { event }): Path<EventPath>,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let rest = format!("events/{event}/");
    let can_link = grant.access.has(Scope::ProjectWrite);
    let (org, project, issue) = match page_issue(grant, &rest)? {
        Ok(found) => found,
        Err(moved) => return Ok(moved.into_response()),
    };
    let which = match event.as_str() {
        "latest" | "recommended" => Which::Latest,
        "oldest" => Which::Oldest,
        id => Which::Id(id),
    };
    if let Which::Id(id) = which {
        // An unknown event of a known issue is a 404 page, not an empty issue page.
        let mut conn = state.db.read().await?;
        if load_event(&mut conn.conn(), &issue, Which::Id(id))
            .await?
            .is_none()
        {
            return Err(UiError::new(
                StatusCode::NOT_FOUND,
                "This event does not exist in this issue.",
            ));
        }
    }
    let view = View {
        which,
        crumbs: crumb_filter(raw.as_deref()),
        can_link,
    };
    render(&state, user, (org, project, issue), view).await
}

/// `GET .../events/{event}/json/`: the stored event as a JSON download.
pub async fn event_json(
    State(state): State<AppState>,
    grant: Grant,
    Path(EventPath { event }): Path<EventPath>,
) -> UiResult {
    let issue = grant.issue()?;
    let mut conn = state.db.read().await?;
    let which = match event.as_str() {
        "latest" => Which::Latest,
        "oldest" => Which::Oldest,
        id => Which::Id(id),
    };
    let stored = load_event(&mut conn.conn(), issue, which)
        .await?
        .ok_or_else(UiError::not_found)?;
    let data = state
        .dictionaries
        .decode_json(&mut conn.conn(), &stored.data)
        .await?;
    let body = serde_json::to_vec_pretty(&data).map_err(UiError::internal)?;
    let disposition = format!("attachment; filename=\"event-{}.json\"", stored.event_id);
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Runs one action on one issue and redirects back to its page.
async fn act(
    state: &AppState,
    user: &UiUser,
    grant: &Grant,
    action: &str,
    form: &FormData,
) -> UiResult {
    let (org, issue) = (&grant.org, grant.issue()?);
    let message = outcome(
        apply_action(
            state,
            org,
            &user.user,
            std::slice::from_ref(issue),
            action,
            form,
        )
        .await,
    )?;
    flash_redirect(
        &user.session,
        &message,
        &format!("/organizations/{}/issues/{}/", org.slug, issue.id),
    )
    .await
}

/// `POST .../status/`: `action` = `resolve`, `resolveInNextRelease`, `resolveInRelease`,
/// `unresolve` or `ignore` (see [`status_change`]).
pub async fn status(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let action = form.text("action").unwrap_or("").to_owned();
    if !matches!(
        action.as_str(),
        "resolve" | "resolveInNextRelease" | "resolveInRelease" | "unresolve" | "ignore"
    ) {
        return Err(UiError::bad_request(format!("Unknown action {action:?}.")));
    }
    act(&state, &user, &grant, &action, &form).await
}

/// `POST .../assign/`: `assignee` = `user:ID`, `team:ID`, `me` or empty.
pub async fn assign(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    act(&state, &user, &grant, "assign", &FormData::parse(&body)).await
}

/// `POST .../bookmark/`: `bookmarked` = `1` or `0`.
pub async fn bookmark(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let action = if form.get("bookmarked") == Some("1") {
        "bookmark"
    } else {
        "unbookmark"
    };
    act(&state, &user, &grant, action, &form).await
}

/// `POST .../comments/`: `text` (markdown).
pub async fn comment(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let (org, issue) = (&grant.org, grant.issue()?);
    let form = FormData::parse(&body);
    let text = form.get("text").unwrap_or("");
    let mut tx = state.db.begin().await?;
    activity::add_comment(&mut tx, issue.id, user.user.id, text, now_ms()).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!(
        "/organizations/{}/issues/{}/#activity",
        org.slug, issue.id
    ))
    .into_response())
}

/// The `{note}` of a comment's path.
#[derive(serde::Deserialize)]
pub struct NotePath {
    note: i64,
}

/// `POST .../comments/{note}/delete/`: deletes one's own comment.
pub async fn delete_comment(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(NotePath { note }): Path<NotePath>,
) -> UiResult {
    let (org, issue) = (&grant.org, grant.issue()?);
    let mut tx = state.db.begin().await?;
    activity::delete_comment(&mut tx, issue.id, note, user.user.id).await?;
    tx.commit().await?;
    flash_redirect(
        &user.session,
        "Comment deleted.",
        &format!("/organizations/{}/issues/{}/#activity", org.slug, issue.id),
    )
    .await
}

/// `POST .../merge/`: merges the issues named in `other` (ids or short ids, separated by commas
/// or spaces) with this one; goes to the surviving issue. A name that is not an issue of the
/// organization comes back as a message on this issue's page.
pub async fn merge(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let (org, issue) = (&grant.org, grant.issue()?);
    let form = FormData::parse(&body);
    let merged = merge_named(&state, &user.user, org, issue, &form).await;
    let target = match &merged {
        Ok((_, target)) => *target,
        Err(_) => issue.id,
    };
    let message = outcome(merged.map(|(message, _)| message))?;
    flash_redirect(
        &user.session,
        &message,
        &format!("/organizations/{}/issues/{target}/", org.slug),
    )
    .await
}

/// Merges `issue` with the issues `form` names; returns the message and the surviving issue.
async fn merge_named(
    state: &AppState,
    user: &User,
    org: &Organization,
    issue: &Issue,
    form: &FormData,
) -> UiResult<(String, i64)> {
    let mut issues = vec![issue.clone()];
    for other in form
        .get("other")
        .unwrap_or("")
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let mut conn = state.db.read().await?;
        let found = access::user_issue(&mut conn.conn(), user, &org.slug, other)
            .await
            .map_err(|_| {
                UiError::bad_request(format!("There is no issue {other} in this organization."))
            })?;
        if !issues.iter().any(|i| i.id == found.id) {
            issues.push(found);
        }
    }
    if issues.len() < 2 {
        return Err(UiError::bad_request(
            "Name at least one other issue to merge with.",
        ));
    }
    let (message, outcome) = apply(state, org, user, &issues, "merge", form).await?;
    let survivor = outcome.merged.map_or(issue.id, |m| m.parent);
    Ok((message, survivor))
}

/// `POST .../unmerge/`: splits the grouping hash `hash` off into a new issue.
pub async fn unmerge(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let (org, issue) = (&grant.org, grant.issue()?);
    let form = FormData::parse(&body);
    let hashes: Vec<String> = form.all("hash").iter().map(|h| (*h).to_owned()).collect();
    let mut tx = state.db.begin().await?;
    let new_id =
        workflow::unmerge(&mut tx, issue.id, &hashes, Some(user.user.id), now_ms()).await?;
    tx.commit().await?;
    flash_redirect(
        &user.session,
        &format!(
            "Split {} off into issue {new_id}; later events with it land there.",
            plural(hashes.len(), "fingerprint")
        ),
        &format!("/organizations/{}/issues/{}/", org.slug, issue.id),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(text: &str) -> FormData {
        FormData::parse(text)
    }

    #[test]
    fn status_forms() {
        assert_eq!(
            status_change("resolve", &form(""), 0),
            Ok(StatusChange::Resolve)
        );
        assert_eq!(
            status_change("resolveInRelease", &form("release=shop%401.2"), 0),
            Ok(StatusChange::ResolveInRelease("shop@1.2".into()))
        );
        assert!(status_change("resolveInRelease", &form("release="), 0).is_err());
        assert_eq!(
            status_change("ignore", &form(""), 0),
            Ok(StatusChange::Ignore(IgnoreConditions::default()))
        );
        assert_eq!(
            status_change("ignore", &form("ignoreDuration=30"), 1_000),
            Ok(StatusChange::Ignore(IgnoreConditions {
                until_ms: Some(1_000 + 30 * 60_000),
                duration_minutes: Some(30),
                ..IgnoreConditions::default()
            }))
        );
        assert_eq!(
            status_change("ignore", &form("ignoreCount=5&ignoreWindow=60"), 0),
            Ok(StatusChange::Ignore(IgnoreConditions {
                count: Some(5),
                window_minutes: Some(60),
                ..IgnoreConditions::default()
            }))
        );
        assert_eq!(
            status_change("ignore", &form("ignoreUserCount=3&ignoreWindow=60"), 0),
            Ok(StatusChange::Ignore(IgnoreConditions {
                user_count: Some(3),
                ..IgnoreConditions::default()
            })),
            "a window belongs to its own count"
        );
        assert!(status_change("ignore", &form("ignoreCount=-1"), 0).is_err());
        assert!(status_change("ignore", &form("ignoreCount=x"), 0).is_err());
        assert_eq!(
            status_change("unresolve", &form(""), 0),
            Ok(StatusChange::Unresolve)
        );
        assert!(status_change("delete", &form(""), 0).is_err());
    }

    #[test]
    fn forms_become_issue_changes() {
        let change = |action: &str, body: &str| issue_change(action, &form(body), 0);
        assert_eq!(
            change("assign", "assignee=team%3A3").unwrap().assignee,
            Some(Some(AssigneeName::TeamId(3)))
        );
        assert_eq!(
            change("assign", "assignee=me").unwrap().assignee,
            Some(Some(AssigneeName::Me))
        );
        assert_eq!(change("assign", "assignee=").unwrap().assignee, Some(None));
        for refused in ["assignee=5", "assignee=user%3Ax", "assignee=bob%40x.test"] {
            assert_eq!(
                change("assign", refused).unwrap_err().status,
                StatusCode::BAD_REQUEST
            );
        }
        assert_eq!(change("unbookmark", "").unwrap().bookmarked, Some(false));
        assert!(change("merge", "").unwrap().merge);
        assert_eq!(
            change("resolve", "").unwrap().status,
            Some(StatusChange::Resolve)
        );
        assert!(change("delete", "").is_err());
    }

    #[test]
    fn change_messages_say_what_happened() {
        let resolve = IssueChange {
            status: Some(StatusChange::Resolve),
            ..IssueChange::default()
        };
        let none = ChangeOutcome::default();
        assert_eq!(
            change_message(&resolve, &none, 2),
            "Nothing changed: 2 issues already resolved."
        );
        let one = ChangeOutcome {
            status_changed: 1,
            ..ChangeOutcome::default()
        };
        assert_eq!(change_message(&resolve, &one, 2), "1 issue resolved.");
        let merged = ChangeOutcome {
            merged: Some(workflow::Merged {
                parent: 7,
                children: vec![8, 9],
            }),
            ..ChangeOutcome::default()
        };
        let merge = IssueChange {
            merge: true,
            ..IssueChange::default()
        };
        assert_eq!(
            change_message(&merge, &merged, 3),
            "Merged 2 issues into issue 7."
        );
        assert_eq!(
            change_message(
                &IssueChange {
                    assignee: Some(None),
                    ..IssueChange::default()
                },
                &none,
                1
            ),
            "Unassigned 1 issue."
        );
    }

    #[test]
    fn fixable_refusals_become_messages() {
        assert_eq!(outcome(Ok("done".to_owned())).unwrap(), "done");
        assert_eq!(
            outcome(Err(UiError::bad_request(
                "Select at least two issues to merge."
            )))
            .unwrap(),
            "Select at least two issues to merge."
        );
        assert_eq!(
            outcome(Err(UiError::new(StatusCode::CONFLICT, "busy"))).unwrap(),
            "busy"
        );
        assert_eq!(
            outcome(Err(UiError::not_found())).unwrap_err().status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            outcome(Err(UiError::forbidden("no"))).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn ignore_descriptions() {
        assert_eq!(describe_ignore(&IgnoreConditions::default()), "forever");
        assert_eq!(
            describe_ignore(&IgnoreConditions {
                count: Some(10),
                window_minutes: Some(60),
                ..IgnoreConditions::default()
            }),
            "until it occurs 10 more times within 1 hour"
        );
    }
}
