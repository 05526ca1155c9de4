//! Passwords: reset by a mailed link (single use, within the hour; the request page answers the
//! same whether or not the address has an account, and is throttled per address and client),
//! and change with the current password. A reset or a change ends every other session of the
//! account.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use errhound_notify::Mail;
use errhound_store::users;
use errhound_store::{Conn, now_ms, password_resets};
use tower_sessions::Session;

use super::accept::MIN_PASSWORD_CHARS;
use super::error::{UiError, UiResult};
use super::form::FormData;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::{LoginThrottle, UiUser, renew_session};
use super::session;
use crate::AppState;
use crate::api::access::ClientAddr;
use crate::password::{hash_password, verify_password};

#[derive(Template, WebTemplate)]
#[template(path = "password_reset.html")]
struct ResetRequestPage {
    csrf: String,
    mail_configured: bool,
    /// After a request: the address it was for.
    requested: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "password_new.html")]
struct NewPasswordPage {
    csrf: String,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "password_change.html")]
struct ChangePage {
    nav: Nav,
    error: Option<String>,
}

async fn csrf(session: &Session) -> UiResult<String> {
    session::csrf_token(session)
        .await
        .map_err(UiError::internal)
}

/// `GET /auth/password-reset/`
pub async fn request_page(State(state): State<AppState>, session: Session) -> UiResult {
    Ok(ResetRequestPage {
        csrf: csrf(&session).await?,
        mail_configured: state.mailer.is_some(),
        requested: None,
    }
    .into_response())
}

/// `POST /auth/password-reset/` with `email`: mails a link when the address has an active
/// account; the answer is the same either way.
pub async fn request(
    State(state): State<AppState>,
    Extension(throttle): Extension<LoginThrottle>,
    ClientAddr(address): ClientAddr,
    session: Session,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let email = form.text("email").unwrap_or("").trim().to_lowercase();
    let page = ResetRequestPage {
        csrf: csrf(&session).await?,
        mail_configured: state.mailer.is_some(),
        requested: Some(email.clone()),
    };
    if !throttle.reset_allowed(&email, address.as_deref()) {
        tracing::warn!(user.email = %email, client.address = ?address, "password reset refused: too many requests");
        return Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response());
    }
    if let Some(mailer) = &state.mailer {
        let mut conn = state.db.write().await?;
        let user = users::find_by_email(&mut conn.conn(), &email).await?;
        if let Some(user) = user.filter(|u| u.is_active) {
            let (id, secret) = password_resets::create(&mut conn.conn(), user.id, now_ms()).await?;
            drop(conn);
            let link = format!(
                "{}/auth/password-reset/{id}/{secret}/",
                state.config.public_url()
            );
            let mail = Mail {
                to: user.email.clone(),
                subject: "Reset your Errhound password".into(),
                text: format!(
                    "Someone (hopefully you) asked to reset the password of {} on Errhound.\n\n\
                     Choose a new password (the link works once, within an hour):\n{link}\n\n\
                     If it was not you, ignore this mail: your password stays as it is.\n",
                    user.email
                ),
                html: None,
            };
            match mailer.send(&mail).await {
                Ok(()) => tracing::info!(user.id = user.id, "password reset link mailed"),
                Err(error) => {
                    tracing::warn!(user.id = user.id, %error, "the password reset mail was not sent")
                }
            }
        } else {
            tracing::info!(user.email = %email, "password reset for an address without an active account");
        }
    }
    Ok(page.into_response())
}

async fn reset_user(state: &AppState, id: i64, secret: &str) -> UiResult<i64> {
    let mut conn = state.db.read_latest().await?;
    password_resets::find_valid(&mut conn.conn(), id, secret, now_ms())
        .await?
        .ok_or_else(|| {
            UiError::new(
                StatusCode::NOT_FOUND,
                "This link is not valid: it was used, it expired, or it is incomplete. Ask for a new one.",
            )
        })
}

/// `GET /auth/password-reset/{reset}/{secret}/`
pub async fn new_password_page(
    State(state): State<AppState>,
    session: Session,
    Path((id, secret)): Path<(i64, String)>,
) -> UiResult {
    reset_user(&state, id, &secret).await?;
    Ok(NewPasswordPage {
        csrf: csrf(&session).await?,
        error: None,
    }
    .into_response())
}

/// Checks a new password: its length, and that both fields agree (the one policy of resets,
/// changes and sign-ups).
pub(super) fn new_password(form: &FormData) -> Result<String, String> {
    let password = form.get("password").unwrap_or("");
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "Choose a password of at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if form.get("confirm") != Some(password) {
        return Err("The two passwords differ.".into());
    }
    Ok(password.to_owned())
}

pub(super) async fn hash(password: String) -> UiResult<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(UiError::internal)?
        .map_err(UiError::internal)
}

/// Sets the password, which ends every session of the account.
async fn set_password(conn: &mut Conn<'_>, user_id: i64, hash: &str) -> UiResult<u64> {
    users::set_password(conn, user_id, hash)
        .await?
        .ok_or_else(UiError::not_found)
}

/// `POST /auth/password-reset/{reset}/{secret}/` with `password` and `confirm`.
pub async fn reset(
    State(state): State<AppState>,
    session: Session,
    Path((id, secret)): Path<(i64, String)>,
    body: String,
) -> UiResult {
    let user_id = reset_user(&state, id, &secret).await?;
    let form = FormData::parse(&body);
    let password = match new_password(&form) {
        Ok(password) => password,
        Err(error) => {
            let page = NewPasswordPage {
                csrf: csrf(&session).await?,
                error: Some(error),
            };
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let hash = hash(password).await?;
    let mut tx = state.db.begin().await?;
    if !password_resets::use_up(&mut tx.conn(), id, user_id, now_ms()).await? {
        return Err(UiError::not_found());
    }
    let ended = set_password(&mut tx.conn(), user_id, &hash).await?;
    tx.commit().await?;
    tracing::info!(user.id = user_id, sessions = ended, "password reset");
    Ok(Redirect::to("/auth/login/").into_response())
}

/// `GET /settings/account/password/`
pub async fn change_page(State(state): State<AppState>, user: UiUser) -> UiResult {
    let nav = super::account::nav(&state, &user).await?;
    Ok(ChangePage { nav, error: None }.into_response())
}

/// `POST /settings/account/password/` with `current`, `password` and `confirm`: the other
/// sessions of the account end; this one continues under a new id.
pub async fn change(State(state): State<AppState>, user: UiUser, body: String) -> UiResult {
    let form = FormData::parse(&body);
    let refuse = |error: String| async {
        let nav = super::account::nav(&state, &user).await?;
        Ok::<_, UiError>(
            (
                StatusCode::BAD_REQUEST,
                ChangePage {
                    nav,
                    error: Some(error),
                },
            )
                .into_response(),
        )
    };
    let current = form.get("current").unwrap_or("").to_owned();
    let stored = user.user.password_hash.clone().unwrap_or_default();
    let verified = tokio::task::spawn_blocking(move || verify_password(&current, &stored))
        .await
        .map_err(UiError::internal)?;
    if !verified {
        return refuse("The current password is not right.".into()).await;
    }
    let password = match new_password(&form) {
        Ok(password) => password,
        Err(error) => return refuse(error).await,
    };
    let hash = hash(password).await?;
    let mut conn = state.db.write().await?;
    let ended = set_password(&mut conn.conn(), user.user.id, &hash).await?;
    drop(conn);
    renew_session(&user.session).await?;
    tracing::info!(user.id = user.user.id, sessions = ended, "password changed");
    flash_redirect(
        &user.session,
        "Password changed; your other sessions were logged out.",
        "/settings/account/password/",
    )
    .await
}
