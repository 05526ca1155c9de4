//! The superuser's admin page (`/manage/`): every organization (slug, name, member and project
//! counts, created, a link to its settings) and every user (e-mail, name, superuser, active,
//! last login, organizations), in pages of [`PAGE`] by id, and disabling or enabling a user.
//! Disabling ends the user's sessions ([`users::set_active`]); nobody disables themselves.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use errhound_store::orgs::OrganizationSummary;
use errhound_store::{admin, users};

use super::error::{UiError, UiResult};
use super::form::{self, FormData};
use super::format;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;

/// Rows per list page.
pub const PAGE: i64 = 100;

/// A user as listed.
struct UserRow {
    id: i64,
    email: String,
    name: String,
    is_superuser: bool,
    is_active: bool,
    created: String,
    last_login: String,
    orgs: Vec<String>,
    is_me: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Nav,
    orgs: Vec<OrganizationSummary>,
    users: Vec<UserRow>,
    /// Links to the next pages of each list, if any.
    next_orgs: Option<String>,
    next_users: Option<String>,
    /// Whether this is not the first page (a link back to it).
    paged: bool,
}

impl AdminPage {
    fn created(&self, org: &OrganizationSummary) -> String {
        format::short_datetime(org.created_at)
    }
}

/// Cursor `name` of the query (the last id of the previous page).
fn cursor(params: &FormData, name: &str) -> UiResult<i64> {
    match params.get(name) {
        None | Some("") => Ok(0),
        Some(text) => text
            .parse()
            .map_err(|_| UiError::bad_request(format!("Invalid {name}."))),
    }
}

/// `GET /manage/` with `orgs_after` and `users_after` (the last ids of the previous pages).
pub async fn page(
    State(state): State<AppState>,
    user: UiUser,
    RawQuery(query): RawQuery,
) -> UiResult {
    let params = FormData::parse(query.as_deref().unwrap_or(""));
    let orgs_after = cursor(&params, "orgs_after")?;
    let users_after = cursor(&params, "users_after")?;
    let nav = Nav::outside_org(&state, &user, "admin").await?;
    let mut conn = state.db.read().await?;
    let mut orgs = admin::organizations(&mut conn.conn(), orgs_after, PAGE + 1).await?;
    let mut listed = admin::users(&mut conn.conn(), users_after, PAGE + 1).await?;
    let more_orgs = orgs.len() as i64 > PAGE;
    let more_users = listed.len() as i64 > PAGE;
    orgs.truncate(PAGE as usize);
    listed.truncate(PAGE as usize);
    let mut memberships: HashMap<i64, Vec<String>> = HashMap::new();
    if let (Some(first), Some(last)) = (listed.first(), listed.last()) {
        for (user_id, slug) in admin::memberships(&mut conn.conn(), first.id, last.id).await? {
            memberships.entry(user_id).or_default().push(slug);
        }
    }
    drop(conn);
    let link = |orgs: i64, users: i64| {
        form::url(
            "/manage/",
            &[
                ("orgs_after", &orgs.to_string()),
                ("users_after", &users.to_string()),
            ],
        )
    };
    let next_orgs = more_orgs
        .then(|| orgs.last().map(|o| link(o.id, users_after)))
        .flatten();
    let next_users = more_users
        .then(|| listed.last().map(|u| link(orgs_after, u.id)))
        .flatten();
    let users = listed
        .into_iter()
        .map(|u| UserRow {
            orgs: memberships.remove(&u.id).unwrap_or_default(),
            is_me: u.id == user.user.id,
            created: format::short_datetime(u.created_at),
            last_login: u
                .last_login_at
                .map(format::short_datetime)
                .unwrap_or_else(|| "—".into()),
            id: u.id,
            email: u.email,
            name: u.name,
            is_superuser: u.is_superuser,
            is_active: u.is_active,
        })
        .collect();
    Ok(AdminPage {
        nav,
        orgs,
        users,
        next_orgs,
        next_users,
        paged: orgs_after > 0 || users_after > 0,
    }
    .into_response())
}

/// `POST /manage/users/{user}/` with `action` = `disable` or `enable`.
pub async fn user_action(
    State(state): State<AppState>,
    user: UiUser,
    Path(target): Path<i64>,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let active = match form.text("action").unwrap_or("") {
        "disable" => false,
        "enable" => true,
        other => return Err(UiError::bad_request(format!("Unknown action {other:?}."))),
    };
    if target == user.user.id && !active {
        return Err(UiError::bad_request(
            "You cannot disable your own account: ask another superuser.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let account = users::get(&mut tx.conn(), target)
        .await?
        .ok_or_else(UiError::not_found)?;
    let ended = users::set_active(&mut tx.conn(), target, active)
        .await?
        .ok_or_else(UiError::not_found)?;
    tx.commit().await?;
    tracing::info!(
        user.id = target,
        user.email = %account.email,
        by = user.user.id,
        active,
        sessions = ended,
        "user enabled or disabled by a superuser"
    );
    let message = if active {
        format!("{} is enabled.", account.email)
    } else {
        format!("{} is disabled and logged out everywhere.", account.email)
    };
    flash_redirect(&user.session, &message, "/manage/#users").await
}
