//! Open sign-up (`[auth] allow_registration`, off by default): anyone may ask for an account at
//! `/auth/register/`, and the answer never says whether the address has one. Every request is
//! answered with the same "check your mail" page, and the mail decides: an address without an
//! account gets a link (single use, within the hour) to choose a password, which creates the
//! account and logs in; an address with an account gets a notice pointing to the login and the
//! password reset, and nothing is created. So sign-up needs mail: without `[mail]` it stays
//! closed (404, no link on the login page), like when it is off. Requests are throttled per
//! address and per client, as password resets are. A new account belongs to no organization.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use errhound_notify::Mail;
use errhound_store::registrations::{self, Registration};
use errhound_store::users::{self, User};
use errhound_store::{StoreError, now_ms};
use tower_sessions::Session;

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::login::{LoginClient, LoginThrottle, begin_session};
use super::password::{hash, new_password};
use super::session;
use crate::AppState;

/// Longest name.
const MAX_NAME_CHARS: usize = 255;
/// Longest address (RFC 5321's path limit).
const MAX_EMAIL_CHARS: usize = 254;

#[derive(Template, WebTemplate)]
#[template(path = "register.html")]
struct RegisterPage {
    csrf: String,
    /// After a request: the address it was for.
    requested: Option<String>,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "register_finish.html")]
struct FinishPage {
    csrf: String,
    email: String,
    error: Option<String>,
}

/// Whether sign-up is open: allowed by the configuration, and mail configured.
pub fn is_open(state: &AppState) -> bool {
    state.config.auth.allow_registration && state.mailer.is_some()
}

fn closed() -> UiError {
    UiError::not_found()
}

async fn csrf(session: &Session) -> UiResult<String> {
    session::csrf_token(session)
        .await
        .map_err(UiError::internal)
}

/// `GET /auth/register/`
pub async fn page(State(state): State<AppState>, session: Session) -> UiResult {
    if !is_open(&state) {
        return Err(closed());
    }
    Ok(RegisterPage {
        csrf: csrf(&session).await?,
        requested: None,
        error: None,
    }
    .into_response())
}

/// `POST /auth/register/` with `email` and `name`: the same answer for every address; the mail
/// it sends depends on whether the address has an account.
pub async fn request(
    State(state): State<AppState>,
    Extension(throttle): Extension<LoginThrottle>,
    client: LoginClient,
    session: Session,
    body: String,
) -> UiResult {
    if !is_open(&state) {
        return Err(closed());
    }
    let form = FormData::parse(&body);
    let email = form.text("email").unwrap_or("").trim().to_lowercase();
    let name = form.text("name").unwrap_or("").trim().to_owned();
    if !email.contains('@') || email.chars().count() > MAX_EMAIL_CHARS {
        return refused(
            &session,
            StatusCode::BAD_REQUEST,
            "Enter your e-mail address.",
        )
        .await;
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return refused(&session, StatusCode::BAD_REQUEST, "The name is too long.").await;
    }
    if !throttle.signup_allowed(&email, client.addr.as_deref()) {
        tracing::warn!(user.email = %email, client.address = ?client.addr, "sign-up refused: too many requests");
        return refused(
            &session,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests. Try again in a few minutes.",
        )
        .await;
    }
    let mut conn = state.db.write().await?;
    let existing = users::find_by_email(&mut conn.conn(), &email).await?;
    let mail = match existing {
        Some(user) => {
            tracing::info!(
                user.id = user.id,
                "sign-up for an address with an account: notice mailed"
            );
            existing_account_mail(&state, &user)
        }
        None => {
            let (id, secret) =
                registrations::create(&mut conn.conn(), &email, &name, now_ms()).await?;
            tracing::info!(registration.id = id, "sign-up requested: link mailed");
            signup_mail(&state, &email, id, &secret)
        }
    };
    drop(conn);
    // In the background: how long the mail server takes must not tell the two cases apart.
    if let Some(mailer) = state.mailer.clone() {
        tokio::spawn(async move {
            if let Err(error) = mailer.send(&mail).await {
                tracing::warn!(%error, "the sign-up mail was not sent");
            }
        });
    }
    Ok(RegisterPage {
        csrf: csrf(&session).await?,
        requested: Some(email),
        error: None,
    }
    .into_response())
}

async fn refused(session: &Session, status: StatusCode, error: &str) -> UiResult {
    let page = RegisterPage {
        csrf: csrf(session).await?,
        requested: None,
        error: Some(error.to_owned()),
    };
    Ok((status, page).into_response())
}

fn signup_mail(state: &AppState, email: &str, id: i64, secret: &str) -> Mail {
    let base = state.config.public_url();
    Mail {
        to: email.to_owned(),
        subject: "Finish creating your Errhound account".into(),
        text: format!(
            "Someone (hopefully you) asked for an Errhound account for {email} at {base}.\n\n\
             Choose your password to create it (the link works once, within an hour):\n\
             {base}/auth/register/{id}/{secret}/\n\n\
             If it was not you, ignore this mail: no account is created.\n"
        ),
        html: None,
    }
}

fn existing_account_mail(state: &AppState, user: &User) -> Mail {
    let base = state.config.public_url();
    Mail {
        to: user.email.clone(),
        subject: "You already have an Errhound account".into(),
        text: format!(
            "Someone (hopefully you) asked for an Errhound account for {} at {base}, but this \
             address has one already; nothing was changed.\n\n\
             Log in: {base}/auth/login/\n\
             Forgot your password? {base}/auth/password-reset/\n\n\
             If it was not you, ignore this mail.\n",
            user.email
        ),
        html: None,
    }
}

async fn valid(state: &AppState, id: i64, secret: &str) -> UiResult<Registration> {
    if !is_open(state) {
        return Err(closed());
    }
    let mut conn = state.db.read_latest().await?;
    registrations::find_valid(&mut conn.conn(), id, secret, now_ms())
        .await?
        .ok_or_else(|| {
            UiError::new(
                StatusCode::NOT_FOUND,
                "This link is not valid: it was used, it expired, or it is incomplete. Sign up again.",
            )
        })
}

/// `GET /auth/register/{registration}/{secret}/`
pub async fn finish_page(
    State(state): State<AppState>,
    session: Session,
    Path((id, secret)): Path<(i64, String)>,
) -> UiResult {
    let registration = valid(&state, id, &secret).await?;
    Ok(FinishPage {
        csrf: csrf(&session).await?,
        email: registration.email,
        error: None,
    }
    .into_response())
}

/// `POST /auth/register/{registration}/{secret}/` with `password` and `confirm`: creates the
/// account, logs in and goes to the home page (which says what a user without an organization
/// can do).
pub async fn finish(
    State(state): State<AppState>,
    client: LoginClient,
    session: Session,
    Path((id, secret)): Path<(i64, String)>,
    body: String,
) -> UiResult {
    let registration = valid(&state, id, &secret).await?;
    let form = FormData::parse(&body);
    let password = match new_password(&form) {
        Ok(password) => password,
        Err(error) => {
            let page = FinishPage {
                csrf: csrf(&session).await?,
                email: registration.email,
                error: Some(error),
            };
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let hash = hash(password).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if !registrations::use_up(&mut tx.conn(), &registration, now).await? {
        return Err(UiError::not_found());
    }
    let created = users::create(
        &mut tx.conn(),
        &registration.email,
        &registration.name,
        Some(&hash),
        false,
        now,
    )
    .await;
    let user = match created {
        Ok(user) => user,
        // The address got an account meanwhile (an invitation, the command line).
        Err(StoreError::AlreadyExists(_)) => {
            return Err(UiError::new(
                StatusCode::NOT_FOUND,
                "This address has an account already: log in, or reset its password.",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    users::record_login(&mut tx.conn(), user.id, now).await?;
    tx.commit().await?;
    begin_session(&session, &user, &client).await?;
    tracing::info!(user.id = user.id, user.email = %user.email, "account created by sign-up");
    Ok(Redirect::to("/").into_response())
}
