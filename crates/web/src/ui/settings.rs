//! Project settings: name and slug, DSN keys (create, disable/enable, rotate) with a copyable
//! DSN and setup snippets for Python, JavaScript and Rust. Members can read the page; changes
//! need the admin, manager or owner role (as the API's project settings do).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use errhound_domain::slug::is_valid_slug;
use errhound_store::projects::{self, ProjectChanges, ProjectKey};
use errhound_store::{StoreError, keys, now_ms};

use super::access;
use super::error::{UiError, UiResult};
use super::form::FormData;
use super::format;
use super::issue::flash;
use super::issues::dsn;
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;

/// Longest project name or key label.
const MAX_NAME_CHARS: usize = 200;

/// A key as shown.
pub struct KeyView {
    /// Key id.
    pub id: i64,
    /// Label.
    pub label: String,
    /// The DSN.
    pub dsn: String,
    /// Enabled?
    pub active: bool,
    /// Created, absolute.
    pub created: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    nav: Nav,
    name: String,
    slug: String,
    project_id: i64,
    base: String,
    keys: Vec<KeyView>,
    dsn: String,
    can_edit: bool,
}

fn key_view(key: &ProjectKey, public_url: &str) -> KeyView {
    KeyView {
        id: key.id,
        label: key.label.clone(),
        dsn: dsn(key, public_url),
        active: key.is_active,
        created: format::datetime(key.created_at),
    }
}

/// `GET /settings/{org}/projects/{project}/`
pub async fn page(
    State(state): State<AppState>,
    user: UiUser,
    Path((org, project)): Path<(String, String)>,
) -> UiResult {
    let (org, project) = access::project(&state, &user.user, &org, &project).await?;
    let can_edit = access::require_admin(&state, &user.user, &org)
        .await
        .is_ok();
    let nav = Nav::new(&state, &user, &org, "settings", Some(project.id)).await?;
    let public_url = state.config.public_url();
    let mut conn = state.db.read().await?;
    let keys: Vec<KeyView> = projects::list_keys(&mut conn.conn(), project.id)
        .await?
        .iter()
        .map(|k| key_view(k, &public_url))
        .collect();
    drop(conn);
    let dsn = keys
        .iter()
        .find(|k| k.active)
        .map(|k| k.dsn.clone())
        .unwrap_or_default();
    Ok(SettingsPage {
        base: format!("/settings/{}/projects/{}/", org.slug, project.slug),
        nav,
        name: project.name,
        slug: project.slug,
        project_id: project.id,
        keys,
        dsn,
        can_edit,
    }
    .into_response())
}

/// `POST /settings/{org}/projects/{project}/`: `name`, `slug`.
pub async fn update(
    State(state): State<AppState>,
    user: UiUser,
    Path((org, project)): Path<(String, String)>,
    body: String,
) -> UiResult {
    let (org, project) = access::project(&state, &user.user, &org, &project).await?;
    access::require_admin(&state, &user.user, &org).await?;
    let form = FormData::parse(&body);
    let name = form.text("name").unwrap_or(&project.name).to_owned();
    let slug = form.text("slug").unwrap_or(&project.slug).to_lowercase();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(UiError::bad_request("The name is too long."));
    }
    if !is_valid_slug(&slug) {
        return Err(UiError::bad_request(
            "A slug has at most 50 lowercase letters, digits, '-' and '_', and not only digits.",
        ));
    }
    let mut conn = state.db.write().await?;
    let changes = ProjectChanges {
        name: &name,
        slug: &slug,
        platform: project.platform.as_deref(),
        grouping_config: &project.grouping_config,
    };
    match projects::update(&mut conn.conn(), project.id, &changes).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(UiError::bad_request(format!(
                "Another project of this organization is called {slug}."
            )));
        }
        Err(error) => return Err(error.into()),
    }
    drop(conn);
    flash(&user.session, "Project saved.").await;
    Ok(Redirect::to(&format!("/settings/{}/projects/{slug}/", org.slug)).into_response())
}

/// `POST /settings/{org}/projects/{project}/keys/`: a new key with `label`.
pub async fn create_key(
    State(state): State<AppState>,
    user: UiUser,
    Path((org, project)): Path<(String, String)>,
    body: String,
) -> UiResult {
    let (org, project) = access::project(&state, &user.user, &org, &project).await?;
    access::require_admin(&state, &user.user, &org).await?;
    let form = FormData::parse(&body);
    let label = form.text("label").unwrap_or("Default");
    if label.chars().count() > MAX_NAME_CHARS {
        return Err(UiError::bad_request("The label is too long."));
    }
    let mut conn = state.db.write().await?;
    projects::create_key(&mut conn.conn(), project.id, label, now_ms()).await?;
    drop(conn);
    flash(&user.session, "Key created.").await;
    Ok(Redirect::to(&format!(
        "/settings/{}/projects/{}/#keys",
        org.slug, project.slug
    ))
    .into_response())
}

/// `POST /settings/{org}/projects/{project}/keys/{key}/`: `action` = `enable`, `disable` or
/// `rotate` (new public and secret keys: the old DSN stops working at once).
pub async fn key_action(
    State(state): State<AppState>,
    user: UiUser,
    Path((org, project, key_id)): Path<(String, String, i64)>,
    body: String,
) -> UiResult {
    let (org, project) = access::project(&state, &user.user, &org, &project).await?;
    access::require_admin(&state, &user.user, &org).await?;
    let form = FormData::parse(&body);
    let mut conn = state.db.write().await?;
    let key = keys::get(&mut conn.conn(), project.id, key_id)
        .await?
        .ok_or_else(UiError::not_found)?;
    let message = match form.text("action").unwrap_or("") {
        "enable" => {
            keys::set_active(&mut conn.conn(), project.id, key.id, true).await?;
            "Key enabled."
        }
        "disable" => {
            keys::set_active(&mut conn.conn(), project.id, key.id, false).await?;
            "Key disabled: its DSN is refused from now on."
        }
        "rotate" => {
            keys::rotate(&mut conn.conn(), project.id, key.id).await?;
            "Key rotated: update your applications with the new DSN."
        }
        other => return Err(UiError::bad_request(format!("Unknown action {other:?}."))),
    };
    drop(conn);
    // Ingest caches keys: forget the old one so the change applies to the next envelope.
    state.keys.invalidate(&key.public_key);
    tracing::info!(
        project.id = project.id,
        key.id = key.id,
        user.id = user.user.id,
        message,
        "DSN key changed"
    );
    flash(&user.session, message).await;
    Ok(Redirect::to(&format!(
        "/settings/{}/projects/{}/#keys",
        org.slug, project.slug
    ))
    .into_response())
}
