//! Team pages: the organization's teams (with member and project counts, and a form to create
//! one for `team:write`), and one team's page: its members (add and remove for `team:write`,
//! joining and leaving oneself under the API's membership rule), the projects it owns (add and
//! remove for `project:write`), rename, and deletion with a typed confirmation. Every change
//! goes through the rule the API calls ([`crate::lifecycle`], [`crate::api::teams`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use errhound_domain::Scope;
use errhound_store::activity::UserRef;
use errhound_store::projects::{self, Project};
use errhound_store::teams::{self, OrgMember, Team};

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;
use crate::api::access::{self, Grant};
use crate::lifecycle::{self, Rename};

#[derive(Template, WebTemplate)]
#[template(path = "teams.html")]
struct TeamsPage {
    nav: Nav,
    base: String,
    teams: Vec<Team>,
    mine: Vec<i64>,
    can_create: bool,
}

/// `GET /settings/{org}/teams/`
pub async fn list(State(state): State<AppState>, user: UiUser, grant: Grant) -> UiResult {
    let nav = Nav::new(&state, &user, &grant.org, "organization", None).await?;
    let mut conn = state.db.read_latest().await?;
    let list = teams::list_for_org(&mut conn.conn(), grant.org.id).await?;
    let mine = teams::team_ids_of_user(&mut conn.conn(), grant.org.id, user.user.id).await?;
    drop(conn);
    Ok(TeamsPage {
        nav,
        base: format!("/settings/{}/teams/", grant.org.slug),
        teams: list,
        mine,
        can_create: grant.access.has(Scope::TeamWrite),
    }
    .into_response())
}

/// `POST /settings/{org}/teams/`: `name` (and `slug`, made from the name when empty).
pub async fn create(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let rename = Rename {
        name: form.text("name").map(str::to_owned),
        slug: form.text("slug").map(str::to_lowercase),
    };
    let team = lifecycle::create_team(&state, &grant, &rename).await?;
    flash_redirect(
        &user.session,
        &format!("Team {} created.", team.slug),
        &team_path(&grant, &team.slug),
    )
    .await
}

fn team_path(grant: &Grant, team: &str) -> String {
    format!("/settings/{}/teams/{team}/", grant.org.slug)
}

#[derive(Template, WebTemplate)]
#[template(path = "team.html")]
struct TeamPage {
    nav: Nav,
    base: String,
    team: Team,
    members: Vec<UserRef>,
    /// Organization members not on the team, who can be added.
    others: Vec<OrgMember>,
    /// The member ids of the team's members, by user id.
    member_ids: Vec<(i64, i64)>,
    projects: Vec<Project>,
    /// Projects the caller reaches that the team does not own.
    other_projects: Vec<Project>,
    is_member: bool,
    can_manage: bool,
    can_join: bool,
    can_edit_projects: bool,
    can_delete: bool,
}

impl TeamPage {
    /// The membership id of a team member (for the remove form).
    fn member_id(&self, user: &UserRef) -> i64 {
        self.member_ids
            .iter()
            .find(|(user_id, _)| *user_id == user.id)
            .map_or(0, |(_, id)| *id)
    }
}

/// `GET /settings/{org}/teams/{team}/`
pub async fn page(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path((_, team)): Path<(String, String)>,
) -> UiResult {
    let team = lifecycle::find_team(&state, &grant.org, &team).await?;
    let nav = Nav::new(&state, &user, &grant.org, "organization", None).await?;
    let mut conn = state.db.read_latest().await?;
    let members = teams::members(&mut conn.conn(), team.id).await?;
    let everyone = teams::org_members(&mut conn.conn(), grant.org.id).await?;
    let owned = teams::projects_of_team(&mut conn.conn(), team.id).await?;
    let reachable = access::visible_projects(&mut conn.conn(), &grant.access, &grant.org).await?;
    drop(conn);
    let member_ids = everyone.iter().map(|m| (m.user.id, m.id)).collect();
    let others = everyone
        .into_iter()
        .filter(|m| !members.iter().any(|u| u.id == m.user.id))
        .collect();
    // Only the projects the caller reaches: a team page tells no one of projects hidden to them.
    let projects = owned
        .iter()
        .filter(|p| reachable.iter().any(|r| r.id == p.id))
        .cloned()
        .collect();
    let other_projects = reachable
        .into_iter()
        .filter(|p| !owned.iter().any(|o| o.id == p.id))
        .collect();
    let is_member = members.iter().any(|u| u.id == user.user.id);
    Ok(TeamPage {
        nav,
        base: team_path(&grant, &team.slug),
        is_member,
        can_manage: grant.access.has(Scope::TeamWrite),
        can_join: grant.access.has(Scope::TeamWrite) || grant.org.open_membership,
        can_edit_projects: grant.access.has(Scope::ProjectWrite),
        can_delete: grant.access.has(Scope::TeamAdmin),
        team,
        members,
        others,
        member_ids,
        projects,
        other_projects,
    }
    .into_response())
}

/// `POST /settings/{org}/teams/{team}/`: `name`, `slug`.
pub async fn rename(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path((_, team)): Path<(String, String)>,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let team = lifecycle::find_team(&state, &grant.org, &team).await?;
    let rename = Rename {
        name: form.text("name").map(str::to_owned),
        slug: form.text("slug").map(str::to_lowercase),
    };
    let team = lifecycle::edit_team(&state, &grant, &team, &rename).await?;
    flash_redirect(&user.session, "Team saved.", &team_path(&grant, &team.slug)).await
}

/// `POST /settings/{org}/teams/{team}/delete/`: deletes the team once `confirm` holds its slug.
pub async fn delete(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path((_, team)): Path<(String, String)>,
    body: String,
) -> UiResult {
    let team = lifecycle::find_team(&state, &grant.org, &team).await?;
    super::settings::confirmed(&FormData::parse(&body), &team.slug)?;
    lifecycle::delete_team(&state, &grant, &team).await?;
    flash_redirect(
        &user.session,
        &format!("Team {} deleted; its projects stay.", team.slug),
        &format!("/settings/{}/teams/", grant.org.slug),
    )
    .await
}

/// `POST /settings/{org}/teams/{team}/members/`: `action` = `join` or `leave` (oneself), `add`
/// or `remove` (with `member`, a membership id).
pub async fn membership(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path((_, team)): Path<(String, String)>,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let (member, join) = match form.text("action").unwrap_or("") {
        "join" => ("me", true),
        "leave" => ("me", false),
        "add" => (form.text("member").unwrap_or(""), true),
        "remove" => (form.text("member").unwrap_or(""), false),
        other => return Err(UiError::bad_request(format!("Unknown action {other:?}."))),
    };
    let change =
        crate::api::teams::change_membership(&state, &grant, &user.user, member, &team, join)
            .await?;
    let message = match (join, change.changed) {
        (true, true) => format!("{} joined the team.", change.member.email),
        (false, true) => format!("{} left the team.", change.member.email),
        (true, false) => format!("{} is already on the team.", change.member.email),
        (false, false) => format!("{} is not on the team.", change.member.email),
    };
    flash_redirect(
        &user.session,
        &message,
        &format!("{}#members", team_path(&grant, &change.team.slug)),
    )
    .await
}

/// `POST /settings/{org}/teams/{team}/projects/`: `action` = `add` or `remove`, `project` (a
/// slug of a project the caller reaches).
pub async fn projects(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path((_, team)): Path<(String, String)>,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let owns = match form.text("action").unwrap_or("") {
        "add" => true,
        "remove" => false,
        other => return Err(UiError::bad_request(format!("Unknown action {other:?}."))),
    };
    let team = lifecycle::find_team(&state, &grant.org, &team).await?;
    let slug = form
        .text("project")
        .ok_or_else(|| UiError::bad_request("Choose a project."))?;
    let mut conn = state.db.read_latest().await?;
    let project = projects::find_by_slug(&mut conn.conn(), grant.org.id, slug)
        .await?
        .ok_or_else(UiError::not_found)?;
    drop(conn);
    lifecycle::set_team_project(&state, &grant, &team, &project, owns).await?;
    let message = if owns {
        format!("Team {} now owns {}.", team.slug, project.slug)
    } else {
        format!("Team {} no longer owns {}.", team.slug, project.slug)
    };
    flash_redirect(
        &user.session,
        &message,
        &format!("{}#projects", team_path(&grant, &team.slug)),
    )
    .await
}
