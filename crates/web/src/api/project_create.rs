//! Creating projects: `POST /api/0/teams/{org}/{team}/projects/` (the team owns the new project)
//! and `POST /api/0/organizations/{org}/projects/` (owned by the team named in `team`, or by no
//! team, so only members with global access see it until a team takes it). Each new project gets
//! a DSN key, as Sentry's do.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use errhound_domain::AuditAction;
use errhound_domain::grouping::CONFIG_ID;
use errhound_store::audit::{self, Actor};
use errhound_store::orgs::Organization;
use errhound_store::teams::{self, Team};
use errhound_store::{StoreError, now_ms, projects};
use serde_json::{Value, json};

use super::access::Grant;
use super::request::{Reply, begin, json_response, name_and_slug, parse_body, text_field};
use super::views;
use crate::AppState;
use crate::error::ApiError;

/// Longest project name.
const MAX_NAME_CHARS: usize = 200;

/// `POST /api/0/teams/{org}/{team}/projects/` with `{"name", "slug"?, "platform"?}`: 201 and
/// the project.
pub async fn create_in_team(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, team)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let team = find_team(&state, &grant.org, &team).await?;
    let actor = grant.audit_actor();
    create(&state, &actor, &grant.org, Some(team), &parse_body(&body)?).await
}

/// `POST /api/0/organizations/{org}/projects/` with `{"name", "slug"?, "platform"?, "team"?}`.
pub async fn create_in_org(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let team = match body.get("team").and_then(Value::as_str) {
        Some(slug) => Some(find_team(&state, &grant.org, slug).await?),
        None => None,
    };
    create(&state, &grant.audit_actor(), &grant.org, team, &body).await
}

async fn find_team(state: &AppState, org: &Organization, slug: &str) -> Result<Team, ApiError> {
    let mut conn = state.db.read().await?;
    teams::find_by_slug(&mut conn.conn(), org.id, slug)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "The requested team does not exist."))
}

async fn create(
    state: &AppState,
    actor: &Actor,
    org: &Organization,
    team: Option<Team>,
    body: &serde_json::Map<String, Value>,
) -> Reply {
    let (name, slug) = name_and_slug(body, true)?;
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid_field(
            "name",
            "Ensure this field has no more than 200 characters.",
        ));
    }
    let now = now_ms();
    let mut tx = begin(state).await?;
    let project = match projects::create(
        &mut tx.conn(),
        org.id,
        &slug,
        &name,
        text_field(body, "platform"),
        CONFIG_ID,
        now,
    )
    .await
    {
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "A project with this slug already exists.",
            ));
        }
        other => other?,
    };
    projects::create_key(&mut tx.conn(), project.id, "Default", now).await?;
    if let Some(team) = &team {
        teams::add_project(&mut tx.conn(), team.id, project.id, now).await?;
    }
    let data =
        json!({"slug": project.slug, "name": project.name, "team": team.as_ref().map(|t| &t.slug)});
    audit::record(
        &mut tx.conn(),
        org.id,
        actor,
        AuditAction::ProjectCreate,
        Some(project.id),
        &data,
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(organization = %org.slug, project = %project.slug, "project created");
    Ok(json_response(StatusCode::CREATED, views::project(&project)))
}
