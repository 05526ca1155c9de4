//! The user's own sessions: where they are logged in (browser, address, login time, last use to
//! the minute), each revocable, and "log out everywhere". A session is named by its stored key
//! (the SHA-256 of its id), which is no use as a cookie; a key of someone else's session is a
//! 404, as a missing one.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use errhound_domain::user_agent;
use errhound_store::{now_ms, sessions};

use super::error::{UiError, UiResult};
use super::format;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;

/// A session as listed.
struct SessionRow {
    handle: String,
    browser: String,
    user_agent: String,
    address: String,
    created: String,
    last_seen: String,
    current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "sessions.html")]
struct SessionsPage {
    nav: Nav,
    sessions: Vec<SessionRow>,
}

/// The handle of the request's own session.
fn current_handle(user: &UiUser) -> Option<String> {
    user.session
        .id()
        .map(|id| sessions::handle(&id.to_string()))
}

fn when(ms: Option<i64>) -> String {
    ms.map(format::short_datetime)
        .unwrap_or_else(|| "unknown".into())
}

/// `GET /settings/account/sessions/`
pub async fn page(State(state): State<AppState>, user: UiUser) -> UiResult {
    let nav = Nav::outside_org(&state, &user, "account").await?;
    let mut conn = state.db.read_latest().await?;
    let listed = sessions::list_for_user(&mut conn.conn(), user.user.id, now_ms()).await?;
    drop(conn);
    let current = current_handle(&user);
    let rows = listed
        .into_iter()
        .map(|s| SessionRow {
            current: current.as_deref() == Some(s.handle.as_str()),
            browser: user_agent::summary(s.user_agent.as_deref().unwrap_or("")),
            user_agent: s.user_agent.unwrap_or_default(),
            address: s.client_addr.unwrap_or_else(|| "unknown".into()),
            created: when(s.created_at),
            last_seen: when(s.last_seen_at),
            handle: s.handle,
        })
        .collect();
    Ok(SessionsPage {
        nav,
        sessions: rows,
    }
    .into_response())
}

/// `POST /settings/account/sessions/{session}/revoke/`: ends one of the user's sessions (this
/// one too: that is logging out).
pub async fn revoke(
    State(state): State<AppState>,
    user: UiUser,
    Path(handle): Path<String>,
) -> UiResult {
    let mut conn = state.db.write().await?;
    let revoked = sessions::revoke(&mut conn.conn(), user.user.id, &handle).await?;
    drop(conn);
    if !revoked {
        return Err(UiError::not_found());
    }
    tracing::info!(user.id = user.user.id, "session revoked");
    if current_handle(&user).as_deref() == Some(handle.as_str()) {
        user.session.flush().await.map_err(UiError::internal)?;
        return Ok(Redirect::to("/auth/login/").into_response());
    }
    flash_redirect(
        &user.session,
        "Session revoked: that browser is logged out.",
        "/settings/account/sessions/",
    )
    .await
}

/// `POST /settings/account/sessions/logout-all/`: ends every session of the account, this one
/// included.
pub async fn logout_everywhere(State(state): State<AppState>, user: UiUser) -> UiResult {
    let mut conn = state.db.write().await?;
    let ended = sessions::delete_for_user(&mut conn.conn(), user.user.id).await?;
    drop(conn);
    user.session.flush().await.map_err(UiError::internal)?;
    tracing::info!(
        user.id = user.user.id,
        sessions = ended,
        "logged out everywhere"
    );
    Ok(Redirect::to("/auth/login/").into_response())
}
