//! Logging in and out, and the [`UiUser`] extractor every page uses.
//!
//! Failed logins cost the same time whether or not the account exists (a dummy Argon2 verify),
//! are logged with the e-mail (never the password), and after [`MAX_FAILURES`] failures within
//! [`FAILURE_WINDOW`] an e-mail is refused for the rest of the window, as is a client address
//! after [`MAX_ADDRESS_FAILURES`] (over any e-mails). The refusal says the same whether or not
//! the account exists.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use errhound_store::users::{self, User};
use errhound_store::{orgs, sessions};
use tower_sessions::{Expiry, Session};

use super::error::{UiError, UiResult};
use super::form::{self, FormData};
use super::session::{self, USER_ID};
use crate::AppState;
use crate::api::access::ClientAddr;
use crate::password::{hash_password, verify_password};

/// Failed logins allowed per e-mail within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u32 = 10;
/// See [`MAX_FAILURES`].
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Entries kept before old ones are pruned (bounds memory under a spraying attack).
const MAX_TRACKED: usize = 10_000;

/// A logged-in user, with the session's CSRF token for the page's forms.
pub struct UiUser {
    /// The account.
    pub user: User,
    /// The CSRF token to put in forms.
    pub csrf: String,
    /// The session (for one-time messages).
    pub session: Session,
}

/// Where to send someone who is not logged in: the login page, coming back here afterwards.
fn to_login(parts: &Parts) -> Response {
    let next = if parts.method == Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let target = form::url("/auth/login/", &[("next", &next)]);
    // An htmx request would follow a redirect inside its XMLHttpRequest (which never shows the
    // 3xx and its headers) and swap the login page into the current one. It gets a 200 with
    // `HX-Redirect` instead, which makes htmx load the login page as a whole page.
    if parts.headers.contains_key("hx-request")
        && let Ok(value) = HeaderValue::from_str(&target)
    {
        return (StatusCode::OK, [("hx-redirect", value)]).into_response();
    }
    Redirect::to(&target).into_response()
}

impl FromRequestParts<AppState> for UiUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            return Err(UiError::internal("the session layer is missing").into_response());
        };
        let uid = session
            .get::<i64>(USER_ID)
            .await
            .map_err(|e| UiError::internal(e).into_response())?;
        let Some(uid) = uid else {
            return Err(to_login(parts));
        };
        let mut conn = state
            .db
            .read()
            .await
            .map_err(|e| UiError::from(e).into_response())?;
        let Some(user) = sessions::user(&mut conn.conn(), uid)
            .await
            .map_err(|e| UiError::from(e).into_response())?
        else {
            // The account was disabled or deleted: end the session.
            let _ = session.flush().await;
            return Err(to_login(parts));
        };
        let csrf = session::csrf_token(&session)
            .await
            .map_err(|e| UiError::internal(e).into_response())?;
        Ok(UiUser {
            user,
            csrf,
            session,
        })
    }
}

/// Failed logins allowed from one client address within [`FAILURE_WINDOW`], whatever the
/// e-mails: higher than per account, so colleagues behind one office address are not locked out
/// by one of them, low enough to stop one address spraying passwords over many accounts.
pub const MAX_ADDRESS_FAILURES: u32 = 50;

/// Counts failed logins per key (an e-mail, or a client address) within [`FAILURE_WINDOW`].
#[derive(Clone)]
struct FailureCounter {
    limit: u32,
    failures: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
}

impl FailureCounter {
    fn new(limit: u32) -> FailureCounter {
        FailureCounter {
            limit,
            failures: Arc::default(),
        }
    }

    fn blocked(&self, key: &str) -> bool {
        let Ok(map) = self.failures.lock() else {
            return false;
        };
        map.get(key)
            .is_some_and(|(n, since)| *n >= self.limit && since.elapsed() < FAILURE_WINDOW)
    }

    fn failed(&self, key: &str) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        if map.len() >= MAX_TRACKED {
            return;
        }
        let entry = map.entry(key.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn forget(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }
}

/// Password reset requests allowed per e-mail within [`FAILURE_WINDOW`] (each mails a link).
pub const MAX_RESET_REQUESTS: u32 = 5;
/// Password reset requests allowed per client address within [`FAILURE_WINDOW`].
pub const MAX_ADDRESS_RESET_REQUESTS: u32 = 20;

/// Counts failed logins per account ([`MAX_FAILURES`]) and per client address
/// ([`MAX_ADDRESS_FAILURES`]), and password reset and sign-up requests (each mails someone).
#[derive(Clone)]
pub struct LoginThrottle {
    accounts: FailureCounter,
    addresses: FailureCounter,
    reset_accounts: FailureCounter,
    reset_addresses: FailureCounter,
    signup_accounts: FailureCounter,
    signup_addresses: FailureCounter,
}

impl Default for LoginThrottle {
    fn default() -> LoginThrottle {
        LoginThrottle {
            accounts: FailureCounter::new(MAX_FAILURES),
            addresses: FailureCounter::new(MAX_ADDRESS_FAILURES),
            reset_accounts: FailureCounter::new(MAX_RESET_REQUESTS),
            reset_addresses: FailureCounter::new(MAX_ADDRESS_RESET_REQUESTS),
            signup_accounts: FailureCounter::new(MAX_RESET_REQUESTS),
            signup_addresses: FailureCounter::new(MAX_ADDRESS_RESET_REQUESTS),
        }
    }
}

impl LoginThrottle {
    /// Counts a password reset request for `email` from `address`; whether it may go ahead (so
    /// nobody floods an inbox, or probes many addresses, through the reset form).
    pub fn reset_allowed(&self, email: &str, address: Option<&str>) -> bool {
        let blocked = self.reset_accounts.blocked(email)
            || address.is_some_and(|a| self.reset_addresses.blocked(a));
        self.reset_accounts.failed(email);
        if let Some(address) = address {
            self.reset_addresses.failed(address);
        }
        !blocked
    }

    /// Counts a sign-up request for `email` from `address`; whether it may go ahead (limits as
    /// for password resets, counted apart).
    pub fn signup_allowed(&self, email: &str, address: Option<&str>) -> bool {
        let blocked = self.signup_accounts.blocked(email)
            || address.is_some_and(|a| self.signup_addresses.blocked(a));
        self.signup_accounts.failed(email);
        if let Some(address) = address {
            self.signup_addresses.failed(address);
        }
        !blocked
    }

    /// Whether a login to `email` from `address` is refused for now.
    pub fn blocked(&self, email: &str, address: Option<&str>) -> bool {
        self.accounts.blocked(email) || address.is_some_and(|a| self.addresses.blocked(a))
    }

    /// Records a failure.
    pub fn failed(&self, email: &str, address: Option<&str>) {
        self.accounts.failed(email);
        if let Some(address) = address {
            self.addresses.failed(address);
        }
    }

    /// Forgets the failures of `email` after a successful login. The address keeps its count:
    /// one right password does not excuse a spray over other accounts.
    pub fn succeeded(&self, email: &str) {
        self.accounts.forget(email);
    }
}

/// A hash to verify against when the account does not exist, so that answering takes as long
/// as for a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password(&crate::password::random_password(24)).unwrap_or_default());

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    next: String,
    error: Option<String>,
    /// Sign-up is open (the page links to it).
    signup: bool,
}

/// A safe place to go after logging in: a path on this server, nothing else.
pub(crate) fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.starts_with("/auth/")
        && next.chars().all(|c| !c.is_control());
    ok.then(|| next.to_owned())
}

/// `GET /`: the issue list of the user's first organization, or the login page.
pub async fn root(State(state): State<AppState>, session: Session) -> UiResult {
    let uid = session
        .get::<i64>(USER_ID)
        .await
        .map_err(UiError::internal)?;
    let Some(uid) = uid else {
        return Ok(Redirect::to("/auth/login/").into_response());
    };
    let mut conn = state.db.read().await?;
    let Some(user) = sessions::user(&mut conn.conn(), uid).await? else {
        return Ok(Redirect::to("/auth/login/").into_response());
    };
    let orgs = orgs::list_for_user(&mut conn.conn(), user.id, user.is_superuser).await?;
    // The oldest organization first: that is the one the first start created.
    match orgs.last() {
        Some(org) => {
            Ok(Redirect::to(&format!("/organizations/{}/issues/", org.slug)).into_response())
        }
        // A page of its own rather than an error page: it must let the user log out.
        None => Ok(NoOrganizationPage {
            email: user.email,
            csrf: session::csrf_token(&session)
                .await
                .map_err(UiError::internal)?,
        }
        .into_response()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "no_org.html")]
struct NoOrganizationPage {
    email: String,
    csrf: String,
}

/// `GET /auth/login/`
pub async fn login_page(
    State(state): State<AppState>,
    session: Session,
    params: axum::extract::RawQuery,
) -> UiResult {
    let params = FormData::parse(params.0.as_deref().unwrap_or(""));
    let next = safe_next(params.get("next"));
    // The page's single sign-on form: on to the organization's own login page.
    if let Some(organization) = params.text("organization") {
        let slug: String = organization
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect::<String>()
            .to_lowercase();
        let target = form::url(
            &format!("/auth/login/{slug}/"),
            &[("next", next.as_deref().unwrap_or(""))],
        );
        return Ok(Redirect::to(&target).into_response());
    }
    if session
        .get::<i64>(USER_ID)
        .await
        .map_err(UiError::internal)?
        .is_some()
    {
        return Ok(Redirect::to(next.as_deref().unwrap_or("/")).into_response());
    }
    if session.id().is_none() {
        session.set_expiry(Some(Expiry::OnInactivity(session::ANONYMOUS_FOR)));
    }
    let csrf = session::csrf_token(&session)
        .await
        .map_err(UiError::internal)?;
    Ok(LoginPage {
        csrf,
        email: String::new(),
        next: next.unwrap_or_default(),
        error: None,
        signup: super::register::is_open(&state),
    }
    .into_response())
}

/// `POST /auth/login/` (the CSRF middleware has checked the form's token).
pub async fn login(
    State(state): State<AppState>,
    Extension(throttle): Extension<LoginThrottle>,
    client: LoginClient,
    session: Session,
    body: String,
) -> UiResult {
    let address = client.addr.clone();
    let form = FormData::parse(&body);
    let email = form.text("email").unwrap_or("").to_lowercase();
    let password = form.get("password").unwrap_or("").to_owned();
    let next = safe_next(form.get("next"));
    let csrf = session::csrf_token(&session)
        .await
        .map_err(UiError::internal)?;
    let page = |status: StatusCode, error: &str| {
        (
            status,
            LoginPage {
                csrf: csrf.clone(),
                email: email.clone(),
                next: next.clone().unwrap_or_default(),
                error: Some(error.to_owned()),
                signup: super::register::is_open(&state),
            },
        )
            .into_response()
    };
    if throttle.blocked(&email, address.as_deref()) {
        tracing::warn!(user.email = %email, client.address = ?address, "login refused: too many failed attempts");
        return Ok(page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts. Try again in a few minutes.",
        ));
    }
    let user = {
        let mut conn = state.db.read().await?;
        users::find_by_email(&mut conn.conn(), &email).await?
    };
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(UiError::internal)?;
    let user = match user {
        Some(user) if verified && user.is_active && user.password_hash.is_some() => user,
        _ => {
            throttle.failed(&email, address.as_deref());
            tracing::warn!(user.email = %email, "failed login");
            return Ok(page(
                StatusCode::UNAUTHORIZED,
                "Invalid e-mail or password.",
            ));
        }
    };
    throttle.succeeded(&email);
    let mut conn = state.db.write().await?;
    users::record_login(&mut conn.conn(), user.id, errhound_store::now_ms()).await?;
    drop(conn);
    begin_session(&session, &user, &client).await?;
    tracing::info!(user.id = user.id, user.email = %user.email, "logged in");
    Ok(Redirect::to(next.as_deref().unwrap_or("/")).into_response())
}

/// The browser a login comes from, as the user's session list shows it: the connection's peer
/// address and the `User-Agent` (cut to [`session::MAX_USER_AGENT_CHARS`]).
#[derive(Debug, Clone, Default)]
pub struct LoginClient {
    /// The client address.
    pub addr: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for LoginClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(session::MAX_USER_AGENT_CHARS).collect());
        Ok(LoginClient {
            addr: ClientAddr::of(parts).0,
            user_agent,
        })
    }
}

/// Logs `user` in on `session` from `client`, under a new session id and CSRF token: an id
/// planted before login (fixation) is worthless after it.
pub async fn begin_session(session: &Session, user: &User, client: &LoginClient) -> UiResult<()> {
    session
        .insert(session::CLIENT_ADDR, &client.addr)
        .await
        .map_err(UiError::internal)?;
    session
        .insert(session::USER_AGENT, &client.user_agent)
        .await
        .map_err(UiError::internal)?;
    session
        .insert(USER_ID, user.id)
        .await
        .map_err(UiError::internal)?;
    renew_session(session).await?;
    session.set_expiry(Some(Expiry::OnInactivity(session::LOGGED_IN_FOR)));
    Ok(())
}

/// Gives `session` a new id and CSRF token, keeping its login: after a change of the user's own
/// password or privileges, which ended every stored session of theirs
/// ([`errhound_store::sessions::delete_for_user`]), the browser that made the change continues
/// under an id nobody else held. Call it after the change's transaction committed (it deletes
/// the old row).
pub async fn renew_session(session: &Session) -> UiResult<()> {
    session.cycle_id().await.map_err(UiError::internal)?;
    session
        .insert(session::CSRF, session::new_token())
        .await
        .map_err(UiError::internal)?;
    Ok(())
}

/// The logged-in user of `session`, if any (pages that also serve visitors).
pub async fn session_user(state: &AppState, session: &Session) -> UiResult<Option<User>> {
    let Some(uid) = session
        .get::<i64>(USER_ID)
        .await
        .map_err(UiError::internal)?
    else {
        return Ok(None);
    };
    let mut conn = state.db.read().await?;
    Ok(sessions::user(&mut conn.conn(), uid).await?)
}

/// `POST /auth/logout/`: ends the session (row and cookie).
pub async fn logout(session: Session) -> UiResult {
    session.flush().await.map_err(UiError::internal)?;
    let mut response = Redirect::to("/auth/login/").into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/organizations/x/issues/?query=a")).as_deref(),
            Some("/organizations/x/issues/?query=a")
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "",
            "x",
            "/auth/logout/",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn one_address_spraying_many_accounts_is_stopped_and_others_are_not() {
        let throttle = LoginThrottle::default();
        let sprayer = Some("192.0.2.7");
        for n in 0..MAX_ADDRESS_FAILURES {
            let email = format!("user{n}@b.c");
            assert!(!throttle.blocked(&email, sprayer), "{n}");
            throttle.failed(&email, sprayer);
        }
        assert!(throttle.blocked("fresh@b.c", sprayer));
        assert!(!throttle.blocked("fresh@b.c", Some("192.0.2.8")));
        // A right password for one account does not clear the address.
        throttle.succeeded("user1@b.c");
        assert!(throttle.blocked("user1@b.c", sprayer));
    }

    #[test]
    fn throttle_blocks_after_failures() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            assert!(!throttle.blocked("a@b.c", None));
            throttle.failed("a@b.c", None);
        }
        assert!(throttle.blocked("a@b.c", None));
        assert!(!throttle.blocked("other@b.c", None));
        throttle.succeeded("a@b.c");
        assert!(!throttle.blocked("a@b.c", None));
    }
}
