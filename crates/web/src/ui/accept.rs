//! Accepting an invitation (`/accept/{invite}/{secret}/`): a visitor with no account creates one
//! (the invited e-mail, a name and a password) and joins; a logged-in user with the invited
//! e-mail joins; anyone else is told whom the invitation is for. An invitation is used once and
//! expires; an unknown, used or expired link is a 404 that says no more.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use errhound_store::audit::Actor;
use errhound_store::invitations::{self, Invitation};
use errhound_store::members::MemberError;
use errhound_store::orgs::{self, Organization};
use errhound_store::users::{self, User};
use errhound_store::{StoreError, now_ms};
use tower_sessions::Session;

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::login::{LoginClient, begin_session, session_user};
use super::session;
use crate::AppState;
use crate::password::hash_password;

/// Shortest password accepted for a new account.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Template, WebTemplate)]
#[template(path = "accept.html")]
struct AcceptPage {
    csrf: String,
    org_name: String,
    email: String,
    role: &'static str,
    /// The logged-in user, if any.
    current: Option<String>,
    /// Whether an account with the invited e-mail exists.
    account_exists: bool,
    login_link: String,
    error: Option<String>,
}

async fn load(state: &AppState, id: i64, secret: &str) -> UiResult<(Invitation, Organization)> {
    let mut conn = state.db.read().await?;
    let invitation = invitations::find_valid(&mut conn.conn(), id, secret, now_ms())
        .await?
        .ok_or_else(|| {
            UiError::new(
                StatusCode::NOT_FOUND,
                "This invitation is not valid: it was used, it expired, or the link is incomplete.",
            )
        })?;
    let org = orgs::get(&mut conn.conn(), invitation.organization_id)
        .await?
        .ok_or_else(UiError::not_found)?;
    Ok((invitation, org))
}

async fn render(
    state: &AppState,
    session: &Session,
    invitation: &Invitation,
    org: &Organization,
    path: &str,
    error: Option<String>,
) -> UiResult {
    let current = session_user(state, session).await?;
    let mut conn = state.db.read().await?;
    let account_exists = users::find_by_email(&mut conn.conn(), &invitation.email)
        .await?
        .is_some();
    drop(conn);
    let csrf = session::csrf_token(session)
        .await
        .map_err(UiError::internal)?;
    Ok(AcceptPage {
        csrf,
        org_name: org.name.clone(),
        email: invitation.email.clone(),
        role: invitation.role.display_name(),
        current: current.map(|u| u.email),
        account_exists,
        login_link: super::form::url("/auth/login/", &[("next", path)]),
        error,
    }
    .into_response())
}

/// `GET /accept/{invite}/{secret}/`
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Path((id, secret)): Path<(i64, String)>,
) -> UiResult {
    let (invitation, org) = load(&state, id, &secret).await?;
    let path = super::super::invitations::accept_path(id, &secret);
    render(&state, &session, &invitation, &org, &path, None).await
}

/// `POST /accept/{invite}/{secret}/`: joins as the logged-in user (whose e-mail must be the
/// invited one), or creates the account (`name`, `password`) and joins, logged in.
pub async fn accept(
    State(state): State<AppState>,
    client: LoginClient,
    session: Session,
    Path((id, secret)): Path<(i64, String)>,
    body: String,
) -> UiResult {
    let (invitation, org) = load(&state, id, &secret).await?;
    let path = super::super::invitations::accept_path(id, &secret);
    let current = session_user(&state, &session).await?;
    let user = match current {
        Some(user) if user.email == invitation.email => user,
        Some(_) => {
            return Err(UiError::forbidden(
                "This invitation is for another e-mail address: log out first.",
            ));
        }
        None => {
            let form = FormData::parse(&body);
            let password = form.get("password").unwrap_or("").to_owned();
            if password.chars().count() < MIN_PASSWORD_CHARS {
                let error =
                    format!("Choose a password of at least {MIN_PASSWORD_CHARS} characters.");
                return render(&state, &session, &invitation, &org, &path, Some(error)).await;
            }
            let name = form.text("name").unwrap_or("").trim().to_owned();
            let hash = tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(UiError::internal)?
                .map_err(UiError::internal)?;
            let mut conn = state.db.write().await?;
            let created = users::create(
                &mut conn.conn(),
                &invitation.email,
                &name,
                Some(&hash),
                false,
                now_ms(),
            )
            .await;
            drop(conn);
            match created {
                Ok(user) => user,
                // Someone with this e-mail has an account: they log in first, then accept.
                Err(StoreError::AlreadyExists(_)) => {
                    return Ok(
                        Redirect::to(&super::form::url("/auth/login/", &[("next", &path)]))
                            .into_response(),
                    );
                }
                Err(error) => return Err(error.into()),
            }
        }
    };
    join(&state, &invitation, &user).await?;
    begin_session(&session, &user, &client).await?;
    tracing::info!(user.id = user.id, organization = %org.slug, "invitation accepted");
    Ok(Redirect::to(&format!("/organizations/{}/issues/", org.slug)).into_response())
}

async fn join(state: &AppState, invitation: &Invitation, user: &User) -> UiResult<()> {
    let actor = Actor::user(user.id, &user.email, None);
    let mut tx = state.db.begin().await?;
    match invitations::accept(&mut tx.conn(), invitation, user.id, &actor, now_ms()).await {
        Ok(()) => {}
        Err(MemberError::AlreadyMember) => {
            return Err(UiError::bad_request(
                "You are a member of this organization already.",
            ));
        }
        Err(MemberError::NotFound) => return Err(UiError::not_found()),
        Err(error) => return Err(UiError::from(error)),
    }
    tx.commit().await?;
    Ok(())
}
