//! Releases and environments of a project through the API:
//! `GET /projects/{org}/{project}/releases/` and `/environments/`.

use crate::routes::{Routes, Surface};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::Scope;
use errhound_store::projects::Project;
use errhound_store::releases::{self as release_store, Environment, Release};
use serde_json::{Value, json};

use super::access::Grant;
use super::pagination::{Cursor, MAX_PER_PAGE, finish_page, link_header, page_for};
use super::params::Params;
use super::request::{Reply, json_response};
use super::views;
use crate::AppState;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    Routes::new(Surface::Api)
        .get(
            "/projects/{org}/{project}/releases/",
            Scope::ProjectRead,
            list_releases,
        )
        .get(
            "/projects/{org}/{project}/environments/",
            Scope::ProjectRead,
            list_environments,
        )
}

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
pub async fn list_releases(State(state): State<AppState>, grant: Grant, params: Params) -> Reply {
    let (org, project) = (&grant.org, grant.project()?);
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
    let body: Vec<Value> = rows.iter().map(|r| release_json(r, project)).collect();
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
    grant: Grant,
    params: Params,
) -> Reply {
    let project = grant.project()?;
    if params.get("visibility") == Some("hidden") {
        return Ok(json_response(StatusCode::OK, json!([])));
    }
    let mut conn = state.db.read().await?;
    let list = release_store::environments(&mut conn.conn(), project.id).await?;
    let body: Vec<Value> = list.iter().map(environment_json).collect();
    Ok(json_response(StatusCode::OK, Value::Array(body)))
}
