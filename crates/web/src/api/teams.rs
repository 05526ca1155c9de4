//! Teams through the API: `GET`/`POST /organizations/{org}/teams/`, `GET`/`PUT`/`DELETE
//! /teams/{org}/{team}/`, team membership, `POST`/`DELETE
//! /organizations/{org}/members/{member}/teams/{team}/` (the membership rule the UI's team page
//! calls too: [`change_membership`]), and the teams owning a project, `POST`/`DELETE
//! /projects/{org}/{project}/teams/{team}/`.

use crate::routes::{Routes, Surface};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::{AuditAction, Scope};
use errhound_store::activity::UserRef;
use errhound_store::audit;
use errhound_store::teams::{self as team_store, Team, UserLookup};
use errhound_store::users::User;
use errhound_store::{Tx, now_ms};
use serde_json::{Value, json};

use super::access::{ApiUser, Grant};
use super::issue_extras;
use super::request::{Reply, begin, json_response, parse_body};
use super::views;
use crate::AppState;
use crate::error::ApiError;
use crate::lifecycle::{self, Rename};

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    let membership = "/organizations/{org}/members/{member}/teams/{team}/";
    Routes::new(Surface::Api)
        .get("/organizations/{org}/teams/", Scope::TeamRead, list_teams)
        .post("/organizations/{org}/teams/", Scope::TeamWrite, create_team)
        .get("/teams/{org}/{team}/", Scope::TeamRead, detail)
        .put("/teams/{org}/{team}/", Scope::TeamWrite, update)
        .delete("/teams/{org}/{team}/", Scope::TeamAdmin, remove)
        .post(
            "/projects/{org}/{project}/teams/{team}/",
            Scope::ProjectWrite,
            add_project,
        )
        .delete(
            "/projects/{org}/{project}/teams/{team}/",
            Scope::ProjectWrite,
            remove_project,
        )
        // Members join and leave teams themselves (with org:read); the handler checks team:write
        // for changing someone else's teams.
        .post(membership, Scope::OrgRead, join_team)
        .delete(membership, Scope::OrgRead, leave_team)
}

/// `GET /api/0/organizations/{org}/teams/`
pub async fn list_teams(State(state): State<AppState>, grant: Grant) -> Reply {
    let user_id = grant.caller.user().map(|u| u.id);
    let mut conn = state.db.read().await?;
    let teams = team_store::list_for_org(&mut conn.conn(), grant.org.id).await?;
    let mine = match user_id {
        Some(id) => team_store::team_ids_of_user(&mut conn.conn(), grant.org.id, id).await?,
        None => Vec::new(),
    };
    let body: Vec<Value> = teams
        .iter()
        .map(|t| issue_extras::team_json(t, mine.contains(&t.id), &grant.access))
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}

/// `POST /api/0/organizations/{org}/teams/` with `{"slug": ..., "name": ...}` (organization
/// admins, managers and owners): 201 and the team.
pub async fn create_team(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let rename = Rename::from_json(&parse_body(&body)?)?;
    let team = lifecycle::create_team(&state, &grant, &rename).await?;
    Ok(json_response(
        StatusCode::CREATED,
        issue_extras::team_json(&team, false, &grant.access),
    ))
}

/// The team of the path, and its JSON for the caller.
async fn team_of_path(
    state: &AppState,
    grant: &Grant,
    slug: &str,
) -> Result<(Team, bool), ApiError> {
    let team = lifecycle::find_team(state, &grant.org, slug).await?;
    let is_member = match grant.caller.user() {
        Some(user) => {
            let mut conn = state.db.read_latest().await?;
            team_store::team_ids_of_user(&mut conn.conn(), grant.org.id, user.id)
                .await?
                .contains(&team.id)
        }
        None => false,
    };
    Ok((team, is_member))
}

/// `GET /api/0/teams/{org}/{team}/`
pub async fn detail(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, team)): Path<(String, String)>,
) -> Reply {
    let (team, is_member) = team_of_path(&state, &grant, &team).await?;
    let mut body = issue_extras::team_json(&team, is_member, &grant.access);
    body["organization"] = views::organization(&grant.org, &state.config.public_url());
    Ok(json_response(StatusCode::OK, body))
}

/// `PUT /api/0/teams/{org}/{team}/` with `name` and `slug`: 200 and the team under its new slug.
pub async fn update(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, team)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let rename = Rename::from_json(&parse_body(&body)?)?;
    let (team, is_member) = team_of_path(&state, &grant, &team).await?;
    let team = lifecycle::edit_team(&state, &grant, &team, &rename).await?;
    Ok(json_response(
        StatusCode::OK,
        issue_extras::team_json(&team, is_member, &grant.access),
    ))
}

/// `DELETE /api/0/teams/{org}/{team}/`: 204; the team's projects stay.
pub async fn remove(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, team)): Path<(String, String)>,
) -> Reply {
    let team = lifecycle::find_team(&state, &grant.org, &team).await?;
    lifecycle::delete_team(&state, &grant, &team).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/0/projects/{org}/{project}/teams/{team}/`: the team owns the project; 201 and
/// the project.
pub async fn add_project(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, team)): Path<(String, String, String)>,
) -> Reply {
    set_project(&state, &grant, &team, true).await
}

/// `DELETE /api/0/projects/{org}/{project}/teams/{team}/`: 200 and the project.
pub async fn remove_project(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, _, team)): Path<(String, String, String)>,
) -> Reply {
    set_project(&state, &grant, &team, false).await
}

async fn set_project(state: &AppState, grant: &Grant, team: &str, owns: bool) -> Reply {
    let project = grant.project()?;
    let team = lifecycle::find_team(state, &grant.org, team).await?;
    lifecycle::set_team_project(state, grant, &team, project, owns).await?;
    let status = if owns {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, views::project(project)))
}

/// The member (`me` or a membership id) and team of a team-membership change, checking that
/// the caller may make it: with `team:write` for anyone, for themselves when membership is open.
async fn team_membership(
    state: &AppState,
    grant: &Grant,
    caller: &User,
    member: &str,
    team: &str,
) -> Result<(UserRef, Team), ApiError> {
    let org = &grant.org;
    // The caller's scopes in the organization (a token's narrowed), not their role alone.
    let admin = grant.access.has(Scope::TeamWrite);
    let mut conn = state.db.read_latest().await?;
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
    // Members change their own teams freely only in an organization with open membership:
    // otherwise joining a team would show them its projects without anyone's consent.
    if !(admin || (member.id == caller.id && org.open_membership)) {
        return Err(ApiError::forbidden());
    }
    Ok((member, team))
}

/// A team-membership change made.
#[derive(Debug, Clone)]
pub struct MembershipChange {
    /// Who joined or left.
    pub member: UserRef,
    /// The team, as it is after the change.
    pub team: Team,
    /// Whether anything changed (false: already a member, or not one).
    pub changed: bool,
}

/// Adds (`join`) or removes the member (`me` or a membership id) to or from the team, under
/// the membership rule, with its audit entry: the one rule of the API and the team page.
pub async fn change_membership(
    state: &AppState,
    grant: &Grant,
    caller: &User,
    member: &str,
    team: &str,
    join: bool,
) -> Result<MembershipChange, ApiError> {
    let (member, team) = team_membership(state, grant, caller, member, team).await?;
    let mut tx = begin(state).await?;
    let changed = if join {
        team_store::add_member(&mut tx.conn(), team.id, member.id, now_ms()).await?
    } else {
        team_store::remove_member(&mut tx.conn(), team.id, member.id).await?
    };
    if changed {
        let action = if join {
            AuditAction::MemberJoinTeam
        } else {
            AuditAction::MemberLeaveTeam
        };
        audit_membership(&mut tx, grant, action, team.id, &member, &team.slug).await?;
    }
    let team = team_store::get(&mut tx.conn(), team.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(MembershipChange {
        member,
        team,
        changed,
    })
}

/// Records a member joining or leaving a team.
async fn audit_membership(
    tx: &mut Tx,
    grant: &Grant,
    action: AuditAction,
    team_id: i64,
    member: &UserRef,
    team: &str,
) -> Result<(), ApiError> {
    let data = json!({"email": member.email, "team": team});
    let actor = grant.audit_actor();
    audit::record(
        &mut tx.conn(),
        grant.org.id,
        &actor,
        action,
        Some(team_id),
        &data,
        now_ms(),
    )
    .await?;
    Ok(())
}

/// `POST /api/0/organizations/{org}/members/{member}/teams/{team}/`: adds the member (`me` or a
/// member id) to the team; 201 (204 when already a member).
pub async fn join_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    Path((_, member, team)): Path<(String, String, String)>,
) -> Reply {
    let change = change_membership(&state, &grant, &user, &member, &team, true).await?;
    if !change.changed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mine = change.member.id == user.id;
    Ok(json_response(
        StatusCode::CREATED,
        issue_extras::team_json(&change.team, mine, &grant.access),
    ))
}

/// `DELETE /api/0/organizations/{org}/members/{member}/teams/{team}/`: 200 and the team.
pub async fn leave_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
    Path((_, member, team)): Path<(String, String, String)>,
) -> Reply {
    let change = change_membership(&state, &grant, &user, &member, &team, false).await?;
    let mut conn = state.db.read_latest().await?;
    let mine = change.member.id != user.id
        && team_store::team_ids_of_user(&mut conn.conn(), grant.org.id, user.id)
            .await?
            .contains(&change.team.id);
    Ok(json_response(
        StatusCode::OK,
        issue_extras::team_json(&change.team, mine, &grant.access),
    ))
}
