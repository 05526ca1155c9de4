//! Single sign-on pages: `/auth/login/{org}/` (a button that starts the organization's login)
//! and the one callback `/auth/sso/`, GET and POST, where identity providers answer (OIDC's
//! query and `form_post`, SAML's POST binding) and the account-link form comes back.
//!
//! The callback is the one state-changing UI route outside the CSRF layer ([`callback_routes`]):
//! an identity provider's POST is cross-site by nature and carries no session token. What
//! protects it instead is the attempt: the `state` (or `RelayState`) value must name an open
//! attempt, once, begun in the browser whose binding cookie comes with the request
//! (`sso::flow`). That cookie is `SameSite=None` (so the cross-site POST carries it) where the
//! browser allows it (https, or a loopback address), `Lax` otherwise; it is `HttpOnly`, limited
//! to the callback path and lives as long as an attempt.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use errhound_domain::sso::{CallbackRequest, Flow, Identity, SsoError};
use errhound_store::{auth_providers, orgs};
use tower_sessions::{Expiry, Session};

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::login::{LoginClient, begin_session, safe_next, session_user};
use super::session;
use crate::AppState;
use crate::routes::{Routes, Rule, Surface};
use crate::sso::flow::{self, SsoFailure, Step};

/// The binding cookie's name.
pub const BINDING_COOKIE: &str = "errhound_sso";
/// The one callback path.
pub const CALLBACK_PATH: &str = "/auth/sso/";
/// The session key listing the organizations this session logged in to through their provider
/// (an organization that requires single sign-on asks for it again otherwise).
pub const SSO_ORGANIZATIONS: &str = "sso_orgs";

/// The session key listing the organizations a superuser entered without their single
/// sign-on (the lock-out recovery), each audited once per session.
const RECOVERY_ORGANIZATIONS: &str = "sso_recovery_orgs";

/// An organization that requires single sign-on lets a session in only when it logged in
/// through the organization's provider; others are sent there (a GET) or refused. A superuser
/// gets in regardless, so an organization whose identity provider is broken can be repaired;
/// that recovery is audited (`sso.recovery-login`). API tokens never come here: this is the
/// UI's route guard.
pub(crate) async fn require_sso(
    state: &AppState,
    parts: &axum::http::request::Parts,
    grant: &crate::api::access::Grant,
) -> Result<(), axum::response::Response> {
    let internal = |e: &dyn std::fmt::Display| UiError::internal(e).into_response();
    let provider = {
        let mut conn = state.db.read().await.map_err(|e| internal(&e))?;
        auth_providers::get(&mut conn.conn(), grant.org.id)
            .await
            .map_err(|e| internal(&e))?
    };
    if !provider.is_some_and(|p| p.require_sso) {
        return Ok(());
    }
    let Some(session) = parts.extensions.get::<Session>() else {
        return Err(internal(&"the session layer is missing"));
    };
    let entered = |key: &'static str| async move {
        session
            .get::<Vec<i64>>(key)
            .await
            .map(Option::unwrap_or_default)
    };
    let through_sso = entered(SSO_ORGANIZATIONS).await.map_err(|e| internal(&e))?;
    if through_sso.contains(&grant.org.id) {
        return Ok(());
    }
    let user = grant.caller.user();
    if let Some(user) = user.filter(|u| u.is_superuser) {
        let mut recovered = entered(RECOVERY_ORGANIZATIONS)
            .await
            .map_err(|e| internal(&e))?;
        if !recovered.contains(&grant.org.id) {
            record_recovery(state, grant, user)
                .await
                .map_err(|e| internal(&e))?;
            recovered.push(grant.org.id);
            session
                .insert(RECOVERY_ORGANIZATIONS, recovered)
                .await
                .map_err(|e| internal(&e))?;
        }
        return Ok(());
    }
    if parts.method == Method::GET {
        let next = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let target = super::form::url(
            &format!("/auth/login/{}/", grant.org.slug),
            &[("next", next)],
        );
        return Err(Redirect::to(&target).into_response());
    }
    Err(
        UiError::forbidden("This organization requires single sign-on: log in through it first.")
            .into_response(),
    )
}

async fn record_recovery(
    state: &AppState,
    grant: &crate::api::access::Grant,
    user: &errhound_store::users::User,
) -> Result<(), errhound_store::StoreError> {
    let mut conn = state.db.write().await?;
    errhound_store::audit::record(
        &mut conn.conn(),
        grant.org.id,
        &grant.audit_actor(),
        errhound_domain::AuditAction::SsoRecoveryLogin,
        Some(user.id),
        &serde_json::json!({"email": user.email}),
        errhound_store::now_ms(),
    )
    .await?;
    tracing::warn!(
        organization.id = grant.org.id,
        user.email = %user.email,
        "a superuser entered an organization that requires single sign-on without it (recovery)"
    );
    Ok(())
}

/// The callback route, mounted with the session layer but outside the CSRF layer (see the
/// module documentation).
pub fn callback_routes() -> Routes {
    Routes::new(Surface::Ui)
        .get(CALLBACK_PATH, Rule::Public, callback)
        .post(CALLBACK_PATH, Rule::Public, callback)
}

#[derive(Template, WebTemplate)]
#[template(path = "sso_login.html")]
struct LoginPage {
    csrf: String,
    slug: String,
    organization: String,
    provider: String,
    next: String,
}

/// The answer to the login page's form when the provider sends the browser away: a page that
/// goes on by itself (meta refresh). A redirect would be blocked: the UI's CSP allows forms to
/// submit only to this server (`form-action 'self'`), and browsers apply that to where the
/// submission redirects.
#[derive(Template, WebTemplate)]
#[template(path = "sso_redirect.html")]
struct RedirectPage {
    url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "sso_confirm.html")]
struct ConfirmPage {
    state: String,
    email: String,
    failed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "sso_tested.html")]
struct TestedPage {
    slug: String,
    identity: Identity,
}

fn no_sso() -> UiError {
    UiError::new(
        StatusCode::NOT_FOUND,
        "This organization does not exist or has no single sign-on.",
    )
}

/// `GET /auth/login/{org}/`: what the organization logs in with, and the button that starts it.
pub async fn login_page(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> UiResult {
    let params = FormData::parse(query.as_deref().unwrap_or(""));
    let mut conn = state.db.read().await?;
    let org = orgs::find_by_slug(&mut conn.conn(), &slug)
        .await?
        .ok_or_else(no_sso)?;
    let provider = auth_providers::get(&mut conn.conn(), org.id)
        .await?
        .ok_or_else(no_sso)?;
    drop(conn);
    let description = state
        .sso
        .description(&provider.provider)
        .ok_or_else(no_sso)?;
    if session.id().is_none() {
        session.set_expiry(Some(Expiry::OnInactivity(session::ANONYMOUS_FOR)));
    }
    Ok(LoginPage {
        csrf: session::csrf_token(&session)
            .await
            .map_err(UiError::internal)?,
        slug: org.slug,
        organization: org.name,
        provider: description.title.to_owned(),
        next: safe_next(params.get("next")).unwrap_or_default(),
    }
    .into_response())
}

/// `GET /auth/saml/{org}/metadata/`: this server's SAML service-provider metadata for the
/// organization (its entity id and assertion consumer service), for the identity provider's
/// administrator; public, as metadata is.
pub async fn saml_metadata(State(state): State<AppState>, Path(slug): Path<String>) -> UiResult {
    let org = {
        let mut conn = state.db.read().await?;
        orgs::find_by_slug(&mut conn.conn(), &slug).await?
    };
    let org = org.ok_or_else(UiError::not_found)?;
    let context = crate::sso::ProviderContext::new(&state, &org.slug);
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        crate::sso::saml::sp_metadata(&context),
    )
        .into_response())
}

/// `POST /auth/login/{org}/` (CSRF-checked): starts the login through the organization's
/// provider (linking the account logged in here, if any).
pub async fn login_start(
    State(state): State<AppState>,
    session: Session,
    client: LoginClient,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let user = session_user(&state, &session).await?;
    let (binding, fresh) = binding_of(&headers);
    let step = flow::start(
        &state,
        &slug,
        Flow::Login,
        user.as_ref(),
        safe_next(form.get("next")),
        &binding,
        client.addr.as_deref(),
    )
    .await;
    respond(
        &state,
        &session,
        &client,
        step,
        Started::Here(fresh.then_some(&binding)),
    )
    .await
}

/// `GET|POST /auth/sso/`: an identity provider's answer, or the account-link form.
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    client: LoginClient,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: String,
) -> UiResult {
    let mut request = CallbackRequest {
        is_post: method == Method::POST,
        ..CallbackRequest::default()
    };
    let query = FormData::parse(query.as_deref().unwrap_or(""));
    let form = FormData::parse(if request.is_post { &body } else { "" });
    // A form field wins over a query parameter of the same name.
    for (name, value) in query.pairs().chain(form.pairs()) {
        request.params.insert(name.to_owned(), value.to_owned());
    }
    let (binding, _) = binding_of(&headers);
    let step = flow::resume(&state, request, &binding, client.addr.as_deref()).await;
    respond(&state, &session, &client, step, Started::Before).await
}

/// Answers a request of ours that started an attempt (the settings page's configuration
/// test), as the login page's form is answered.
pub(super) async fn answer_started(
    state: &AppState,
    session: &Session,
    step: Result<Step, SsoFailure>,
    new_binding: Option<&String>,
) -> UiResult {
    respond(
        state,
        session,
        &LoginClient::default(),
        step,
        Started::Here(new_binding),
    )
    .await
}

/// Whether the request started the login (from our login page's form, maybe with a new
/// binding cookie to set) or continues it.
enum Started<'a> {
    Here(Option<&'a String>),
    Before,
}

/// Renders where a step leaves the browser.
async fn respond(
    state: &AppState,
    session: &Session,
    client: &LoginClient,
    step: Result<Step, SsoFailure>,
    started: Started<'_>,
) -> UiResult {
    let mut response = match step.map_err(failure_page)? {
        Step::Redirect(url) if matches!(started, Started::Here(_)) => {
            RedirectPage { url }.into_response()
        }
        Step::Redirect(url) => Redirect::to(&url).into_response(),
        Step::ConfirmPassword {
            state: attempt_state,
            email,
            failed,
        } => {
            let status = if failed {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            };
            (
                status,
                ConfirmPage {
                    state: attempt_state,
                    email,
                    failed,
                },
            )
                .into_response()
        }
        Step::LoggedIn { login, next } => {
            begin_session(session, &login.user, client).await?;
            let mut sso_orgs: Vec<i64> = session
                .get(SSO_ORGANIZATIONS)
                .await
                .map_err(UiError::internal)?
                .unwrap_or_default();
            if !sso_orgs.contains(&login.organization_id) {
                sso_orgs.push(login.organization_id);
            }
            session
                .insert(SSO_ORGANIZATIONS, sso_orgs)
                .await
                .map_err(UiError::internal)?;
            tracing::info!(
                user.id = login.user.id,
                user.email = %login.user.email,
                organization.id = login.organization_id,
                provisioned = login.provisioned,
                linked = login.linked,
                "logged in through single sign-on"
            );
            let home = organization_home(state, login.organization_id).await?;
            Redirect::to(next.as_deref().unwrap_or(&home)).into_response()
        }
        Step::Tested {
            organization,
            identity,
        } => TestedPage {
            slug: organization,
            identity,
        }
        .into_response(),
    };
    if let Started::Here(Some(binding)) = started
        && let Ok(value) = HeaderValue::from_str(&binding_cookie(state, binding))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

async fn organization_home(state: &AppState, organization_id: i64) -> UiResult<String> {
    let mut conn = state.db.read_latest().await?;
    Ok(match orgs::get(&mut conn.conn(), organization_id).await? {
        Some(org) => format!("/organizations/{}/issues/", org.slug),
        None => "/".to_owned(),
    })
}

/// The page a failed login shows: what happened and what to do, with the status that fits.
fn failure_page(failure: SsoFailure) -> UiError {
    let status = match &failure {
        SsoFailure::NoProvider => return no_sso(),
        SsoFailure::AttemptLost | SsoFailure::Sso(SsoError::Attempt(_)) => StatusCode::BAD_REQUEST,
        SsoFailure::Sso(SsoError::InvalidAnswer(_) | SsoError::MissingClaim(_)) => {
            StatusCode::BAD_REQUEST
        }
        SsoFailure::Sso(SsoError::Refused(_)) | SsoFailure::Refused(_) => StatusCode::FORBIDDEN,
        SsoFailure::Sso(SsoError::Unavailable(_)) => StatusCode::BAD_GATEWAY,
        SsoFailure::NoServerKey => StatusCode::SERVICE_UNAVAILABLE,
        SsoFailure::Store(_) => return UiError::internal(failure),
    };
    tracing::warn!(error = %failure, "single sign-on login failed");
    UiError::new(
        status,
        format!("Single sign-on did not log you in: {failure}"),
    )
}

/// The browser's binding value, from its cookie, or a new one (`true`) to set.
pub(super) fn binding_of(headers: &HeaderMap) -> (String, bool) {
    let existing = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| {
            *name == BINDING_COOKIE
                && value.len() == 64
                && value.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|(_, value)| value.to_owned());
    match existing {
        Some(value) => (value, false),
        None => (errhound_store::sso_attempts::new_state(), true),
    }
}

/// The `Set-Cookie` value of the binding cookie.
fn binding_cookie(state: &AppState, binding: &str) -> String {
    let public_url = state.config.public_url();
    let max_age = errhound_domain::sso::Attempt::LIFETIME_MS / 1000;
    let same_site = if cross_site_cookie_allowed(&public_url) {
        "SameSite=None; Secure"
    } else {
        "SameSite=Lax"
    };
    format!(
        "{BINDING_COOKIE}={binding}; Path={CALLBACK_PATH}; Max-Age={max_age}; HttpOnly; {same_site}"
    )
}

/// Whether browsers keep a `SameSite=None; Secure` cookie from `public_url`: over https, or
/// from a loopback address (which browsers treat as secure).
fn cross_site_cookie_allowed(public_url: &str) -> bool {
    if public_url.starts_with("https://") {
        return true;
    }
    let host = host_of(public_url);
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host of `url` (`[::1]` with its brackets), without the port.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some(end) = authority.find(']') {
        return &authority[..=end];
    }
    authority.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binding_cookie_is_cross_site_only_where_browsers_keep_it() {
        assert!(cross_site_cookie_allowed("https://errors.example.com"));
        assert!(cross_site_cookie_allowed("http://127.0.0.1:9000"));
        assert!(cross_site_cookie_allowed("http://localhost:9000/"));
        assert!(cross_site_cookie_allowed("http://[::1]:9000"));
        assert!(!cross_site_cookie_allowed("http://errors.internal:9000"));
        assert!(!cross_site_cookie_allowed("http://127.0.0.1.evil.example/"));
    }

    #[test]
    fn only_a_well_formed_binding_cookie_is_read() {
        let mut headers = HeaderMap::new();
        let good = "ab".repeat(32);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=1; {BINDING_COOKIE}={good}")).unwrap(),
        );
        assert_eq!(binding_of(&headers), (good, false));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("errhound_sso=short"),
        );
        let (fresh, new) = binding_of(&headers);
        assert!(new && fresh.len() == 64);
    }
}
