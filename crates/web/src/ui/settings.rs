//! Project settings: name and slug, deletion (typed confirmation), DSN keys (create, disable/enable, rotate, rate limit) with a
//! copyable DSN and setup snippets for Python, JavaScript and Rust. Members can read the page;
//! changes need `project:write` (admins, managers and owners), which the route table enforces.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use errhound_domain::rate_limit::KeyRateLimit;
use errhound_store::keys::{self, KeyChanges};
use errhound_store::now_ms;
use errhound_store::projects::{self, ProjectKey};

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::format;
use super::issue::flash_redirect;
use super::issues::dsn;
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;
use crate::api::access::Grant;
use crate::api::keys::MAX_KEY_NAME_CHARS;
use crate::api::projects::ProjectUpdate;
use errhound_domain::Scope;

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
    /// The rate limit in words, or "None".
    pub rate_limit: String,
    /// Whether it has one.
    pub limited: bool,
    /// The limit's count and window for the form (empty without a limit).
    pub limit_count: String,
    /// See `limit_count`.
    pub limit_window: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    nav: Nav,
    name: String,
    slug: String,
    project_id: i64,
    base: String,
    tab: &'static str,
    keys: Vec<KeyView>,
    dsn: String,
    can_edit: bool,
    can_delete: bool,
}

fn key_view(key: &ProjectKey, public_url: &str) -> KeyView {
    KeyView {
        id: key.id,
        label: key.name().to_owned(),
        dsn: dsn(key, public_url),
        active: key.is_active,
        created: format::datetime(key.created_at),
        rate_limit: key.rate_limit.map_or_else(
            || "None".to_owned(),
            |l| {
                let events = if l.count() == 1 { "event" } else { "events" };
                format!("{} {events} per {} s", l.count(), l.window_secs())
            },
        ),
        limited: key.rate_limit.is_some(),
        limit_count: key
            .rate_limit
            .map(|l| l.count().to_string())
            .unwrap_or_default(),
        limit_window: key
            .rate_limit
            .map(|l| l.window_secs().to_string())
            .unwrap_or_default(),
    }
}

/// `GET /settings/{org}/projects/{project}/`
pub async fn page(State(state): State<AppState>, user: UiUser, grant: Grant) -> UiResult {
    let can_edit = grant.access.has(Scope::ProjectWrite);
    let can_delete = grant.access.has(Scope::ProjectAdmin);
    let (org, project) = grant.into_project()?;
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
        tab: "general",
        name: project.name,
        slug: project.slug,
        project_id: project.id,
        keys,
        dsn,
        can_edit,
        can_delete,
    }
    .into_response())
}

/// `POST /settings/{org}/projects/{project}/`: `name`, `slug` (the API's rule and audit).
pub async fn update(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let update = ProjectUpdate::rename(
        form.text("name").map(str::to_owned),
        form.text("slug").map(str::to_lowercase),
    );
    let project = crate::api::projects::apply(&state, &grant, update).await?;
    flash_redirect(
        &user.session,
        "Project saved.",
        &format!("/settings/{}/projects/{}/", grant.org.slug, project.slug),
    )
    .await
}

/// `POST /settings/{org}/projects/{project}/delete/`: deletes the project once `confirm` holds
/// its slug (checked here, not in the browser).
pub async fn delete(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let project = grant.project()?;
    confirmed(&FormData::parse(&body), &project.slug)?;
    crate::lifecycle::delete_project(&state, &grant, project).await?;
    flash_redirect(
        &user.session,
        &format!(
            "Project {} deleted; its DSN keys no longer accept events.",
            project.slug
        ),
        &format!("/organizations/{}/issues/", grant.org.slug),
    )
    .await
}

/// Checks a typed confirmation: the form's `confirm` must be `expected` (a slug).
pub(super) fn confirmed(form: &FormData, expected: &str) -> Result<(), UiError> {
    if form.text("confirm") == Some(expected) {
        Ok(())
    } else {
        Err(UiError::bad_request(format!(
            "Type {expected} to confirm the deletion."
        )))
    }
}

/// `POST /settings/{org}/projects/{project}/keys/`: a new key with `label`.
pub async fn create_key(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let (org, project) = grant.into_project()?;
    let form = FormData::parse(&body);
    let label = form.text("label").unwrap_or("Default");
    if label.chars().count() > MAX_KEY_NAME_CHARS {
        return Err(UiError::bad_request("The label is too long."));
    }
    let mut conn = state.db.write().await?;
    projects::create_key(&mut conn.conn(), project.id, label, now_ms()).await?;
    drop(conn);
    flash_redirect(
        &user.session,
        "Key created.",
        &format!("/settings/{}/projects/{}/#keys", org.slug, project.slug),
    )
    .await
}

/// The `{key}` of a key's path.
#[derive(serde::Deserialize)]
pub struct KeyPath {
    key: i64,
}

/// `POST /settings/{org}/projects/{project}/keys/{key}/`: `action` = `enable`, `disable`,
/// `rotate` (new public and secret keys: the old DSN stops working at once), `rate_limit`
/// (`count` events per `window` seconds; both empty removes the limit) or `clear_rate_limit`.
pub async fn key_action(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(KeyPath { key: key_id }): Path<KeyPath>,
    body: String,
) -> UiResult {
    let (org, project) = grant.into_project()?;
    let action = KeyAction::parse(&FormData::parse(&body))?;
    let mut conn = state.db.write().await?;
    let key = keys::get(&mut conn.conn(), project.id, key_id)
        .await?
        .ok_or_else(UiError::not_found)?;
    match action.changes() {
        Some(changes) => keys::update(&mut conn.conn(), project.id, key.id, &changes).await?,
        None => keys::rotate(&mut conn.conn(), project.id, key.id).await?,
    };
    let message = action.done();
    drop(conn);
    state
        .keys
        .key_changed(&key, &format!("user {}", user.user.id), message);
    flash_redirect(
        &user.session,
        message,
        &format!("/settings/{}/projects/{}/#keys", org.slug, project.slug),
    )
    .await
}

/// What the key form asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyAction {
    Enable,
    Disable,
    Rotate,
    /// Set (or with `None` remove) the rate limit.
    RateLimit(Option<KeyRateLimit>),
}

impl KeyAction {
    /// `action`, with `count` and `window` for `rate_limit` (both empty is no limit).
    fn parse(form: &FormData) -> Result<KeyAction, UiError> {
        match form.text("action").unwrap_or("") {
            "enable" => Ok(KeyAction::Enable),
            "disable" => Ok(KeyAction::Disable),
            "rotate" => Ok(KeyAction::Rotate),
            "clear_rate_limit" => Ok(KeyAction::RateLimit(None)),
            "rate_limit" => {
                let count = form.positive("count").map_err(UiError::bad_request)?;
                let window = form.positive("window").map_err(UiError::bad_request)?;
                match (count, window) {
                    (None, None) => Ok(KeyAction::RateLimit(None)),
                    (Some(count), Some(window)) => KeyRateLimit::new(count, window)
                        .map(|limit| KeyAction::RateLimit(Some(limit)))
                        .map_err(|error| UiError::bad_request(error.to_string())),
                    _ => Err(UiError::bad_request(
                        "A rate limit needs both a count and a window.",
                    )),
                }
            }
            other => Err(UiError::bad_request(format!("Unknown action {other:?}."))),
        }
    }

    /// The change to the key; `None` for a rotation (new public and secret keys).
    fn changes(self) -> Option<KeyChanges<'static>> {
        let mut changes = KeyChanges::default();
        match self {
            KeyAction::Rotate => return None,
            KeyAction::Enable => changes.active = Some(true),
            KeyAction::Disable => changes.active = Some(false),
            KeyAction::RateLimit(limit) => changes.rate_limit = Some(limit),
        }
        Some(changes)
    }

    /// What the flash message says once it is done.
    fn done(self) -> &'static str {
        match self {
            KeyAction::Enable => "Key enabled.",
            KeyAction::Disable => "Key disabled: its DSN is refused from now on.",
            KeyAction::Rotate => "Key rotated: update your applications with the new DSN.",
            KeyAction::RateLimit(Some(_)) => {
                "Rate limit saved: events beyond it are refused from now on."
            }
            KeyAction::RateLimit(None) => "Rate limit removed.",
        }
    }
}
