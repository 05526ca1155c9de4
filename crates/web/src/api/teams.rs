//! Teams through the API: `GET`/`POST /organizations/{org}/teams/`, and team membership,
//! `POST`/`DELETE /organizations/{org}/members/{member}/teams/{team}/`.

use crate::routes::{Routes, Surface};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::{AuditAction, Scope};
use errhound_store::activity::UserRef;
use errhound_store::audit;
use errhound_store::teams::{self as team_store, UserLookup};
use errhound_store::users::User;
use errhound_store::{Tx, now_ms};
use serde_json::{Value, json};

use super::access::{ApiUser, Grant};
use super::issue_extras;
use super::request::{Reply, begin, json_response, name_and_slug, parse_body};
use crate::AppState;
use crate::error::ApiError;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    let membership = "/organizations/{org}/members/{member}/teams/{team}/";
    Routes::new(Surface::Api)
        .get("/organizations/{org}/teams/", Scope::TeamRead, list_teams)
        .post("/organizations/{org}/teams/", Scope::TeamWrite, create_team)
        // Members join and leave teams themselves (with org:read); the handler checks team:write
        // for changing someone else's teams.
        .post(membership, Scope::OrgRead, join_team)
        .delete(membership, Scope::OrgRead, leave_team)
}

/// `GET /api/0/organizations/{org}/teams/`
pub async fn list_teams(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    grant: Grant,
) -> Reply {
    let org = &grant.org;
    let mut conn = state.db.read().await?;
    let teams = team_store::list_for_org(&mut conn.conn(), org.id).await?;
    let mine = team_store::team_ids_of_user(&mut conn.conn(), org.id, user.id).await?;
    let body: Vec<Value> = teams
        .iter()
        .map(|t| issue_extras::team_json(t, mine.contains(&t.id)))
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}

/// `POST /api/0/organizations/{org}/teams/` with `{"slug": ..., "name": ...}` (organization
/// admins, managers and owners): 201 and the team.
pub async fn create_team(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let org = &grant.org;
    let (name, slug) = name_and_slug(&parse_body(&body)?, false)?;
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
    audit::record(
        &mut tx.conn(),
        org.id,
        &grant.audit_actor(),
        AuditAction::TeamCreate,
        Some(team.id),
        &json!({"slug": team.slug, "name": team.name}),
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(json_response(
        StatusCode::CREATED,
        issue_extras::team_json(&team, false),
    ))
}

/// The member (`me` or a membership id) and team of a team-membership route, checking that the
/// caller may change it: with `team:write` for anyone, for themselves when membership is open.
async fn team_membership(
    state: &AppState,
    grant: &Grant,
    caller: &User,
    member: &str,
    team: &str,
) -> Result<(UserRef, i64, Value), ApiError> {
    let org = &grant.org;
    // The caller's scopes in the organization (a token's narrowed), not their role alone.
    let admin = grant.access.has(Scope::TeamWrite);
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
    // Members change their own teams freely only in an organization with open membership:
    // otherwise joining a team would show them its projects without anyone's consent.
    if !(admin || (member.id == caller.id && org.open_membership)) {
        return Err(ApiError::forbidden());
    }
    let mine = team_store::team_ids_of_user(&mut conn.conn(), org.id, caller.id).await?;
    let json = issue_extras::team_json(&team, mine.contains(&team.id));
    Ok((member, team.id, json))
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
    let (member, team_id, _) = team_membership(&state, &grant, &user, &member, &team).await?;
    let mut tx = begin(&state).await?;
    let added = team_store::add_member(&mut tx.conn(), team_id, member.id, now_ms()).await?;
    if added {
        audit_membership(
            &mut tx,
            &grant,
            AuditAction::MemberJoinTeam,
            team_id,
            &member,
            &team,
        )
        .await?;
    }
    tx.commit().await?;
    if !added {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut conn = state.db.read_latest().await?;
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
    grant: Grant,
    Path((_, member, team)): Path<(String, String, String)>,
) -> Reply {
    let (member, team_id, mut json) =
        team_membership(&state, &grant, &user, &member, &team).await?;
    let mut tx = begin(&state).await?;
    if team_store::remove_member(&mut tx.conn(), team_id, member.id).await? {
        audit_membership(
            &mut tx,
            &grant,
            AuditAction::MemberLeaveTeam,
            team_id,
            &member,
            &team,
        )
        .await?;
    }
    tx.commit().await?;
    if member.id == user.id {
        json["isMember"] = json!(false);
    }
    Ok(json_response(StatusCode::OK, json))
}
