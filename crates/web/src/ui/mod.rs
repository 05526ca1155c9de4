//! The server-rendered web UI: askama templates, enhanced by htmx, behind a session login.
//!
//! * **Pages work without JavaScript.** Every view is a GET whose URL holds the whole state (so it
//!   can be shared); every change is a form POST answered with a redirect (Post/Redirect/Get).
//!   htmx only enhances: the issue list swaps its results in place (filters, pages). The issue
//!   page is not boosted: boosted forms would hide error pages (htmx does not swap 4xx/5xx) and
//!   leave the URL behind the event shown. The vendored htmx and the app script are static
//!   files; there is no inline script.
//! * **Sessions** ([`session`]): tower-sessions over our own store in the database, cookie
//!   `HttpOnly`, `SameSite=Lax`, `Secure` when the public URL is https; the id is rotated at login.
//!   The REST API keeps using bearer tokens and never reads the cookie.
//! * **CSRF** ([`csrf`]): every state-changing request must come from our origin (`Sec-Fetch-Site`
//!   or `Origin`) and carry the session's synchronizer token (form field `csrf` or the
//!   `X-CSRF-Token` header htmx sends).
//! * **Escaping**: askama escapes every interpolation in `.html` templates; the only unescaped
//!   output is markup this module builds itself (SVG charts from numbers, comment markdown with
//!   raw HTML turned into text, see [`markdown`]).
//! * **Security headers** on every UI response: a CSP without inline script or style,
//!   `frame-ancestors 'none'`, `nosniff`, a same-origin referrer policy and `X-Frame-Options`.
//! * **Errors** ([`error`]): one HTML error page with the right status; unexpected errors are
//!   logged once where they are converted.
//! * **Access** goes through [`crate::api::access`], as in the API: a page of an organization
//!   the user is not a member of, or of an issue outside their organizations, is a 404.

mod accept;
mod access;
mod account;
mod admin;
mod alert_form;
mod alerts;
mod assets;
pub mod csrf;
mod error;
mod event;
mod form;
mod format;
mod identities;
mod issue;
mod issue_tickets;
mod issues;
mod layout;
mod login;
pub mod markdown;
mod notifications;
mod org_settings;
mod org_sso;
mod password;
mod plugins;
pub mod query;
mod register;
mod releases;
pub mod session;
mod sessions;
mod settings;
pub mod sso;
mod teams;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use errhound_domain::Scope;
use tower_http::set_header::SetResponseHeaderLayer;

pub(crate) use access::{refusal, session_caller};
pub(crate) use error::UiError;

use crate::AppState;
use crate::routes::{Routes, Rule, Surface};

/// The Content-Security-Policy of every UI response: only our own scripts, styles and images
/// (plus `data:` images), no framing, no `<base>`, forms only to ourselves.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The UI pages, each with the scope it needs (see [`crate::routes`]).
pub fn pages() -> Routes {
    let org = "/organizations/{org}";
    let issue = "/organizations/{org}/issues/{issue}";
    let project = "/settings/{org}/projects/{project}";
    let (read, write) = (Scope::EventRead, Scope::EventWrite);
    Routes::new(Surface::Ui)
        .get("/", Rule::Public, login::root)
        .get("/auth/login/", Rule::Public, login::login_page)
        .post("/auth/login/", Rule::Public, login::login)
        .post("/auth/logout/", Rule::Public, login::logout)
        .get("/auth/login/{org}/", Rule::Public, sso::login_page)
        .post("/auth/login/{org}/", Rule::Public, sso::login_start)
        .get(
            "/auth/saml/{org}/metadata/",
            Rule::Public,
            sso::saml_metadata,
        )
        .get("/auth/register/", Rule::Public, register::page)
        .post("/auth/register/", Rule::Public, register::request)
        .get(
            "/auth/register/{registration}/{secret}/",
            Rule::Public,
            register::finish_page,
        )
        .post(
            "/auth/register/{registration}/{secret}/",
            Rule::Public,
            register::finish,
        )
        .get(
            "/auth/password-reset/",
            Rule::Public,
            password::request_page,
        )
        .post("/auth/password-reset/", Rule::Public, password::request)
        .get(
            "/auth/password-reset/{reset}/{secret}/",
            Rule::Public,
            password::new_password_page,
        )
        .post(
            "/auth/password-reset/{reset}/{secret}/",
            Rule::Public,
            password::reset,
        )
        .get(
            "/settings/account/password/",
            Rule::Authenticated,
            password::change_page,
        )
        .post(
            "/settings/account/password/",
            Rule::Authenticated,
            password::change,
        )
        .get(
            "/settings/account/notifications/",
            Rule::Authenticated,
            notifications::page,
        )
        .post(
            "/settings/account/notifications/projects/",
            Rule::Authenticated,
            notifications::set_project,
        )
        .post(
            "/settings/account/notifications/workflow/",
            Rule::Authenticated,
            notifications::set_workflow,
        )
        .post(
            "/settings/account/notifications/plugins/{plugin}/",
            Rule::Authenticated,
            notifications::set_plugin,
        )
        .get(
            "/settings/account/sessions/",
            Rule::Authenticated,
            sessions::page,
        )
        .post(
            "/settings/account/sessions/logout-all/",
            Rule::Authenticated,
            sessions::logout_everywhere,
        )
        .post(
            "/settings/account/sessions/{session}/revoke/",
            Rule::Authenticated,
            sessions::revoke,
        )
        .get(&format!("{org}/issues/"), read, issues::list)
        .post(&format!("{org}/issues/"), write, issues::bulk)
        .get(&format!("{issue}/"), read, issue::detail)
        .get(&format!("{issue}/events/{{event}}/"), read, issue::event)
        .get(
            &format!("{issue}/events/{{event}}/json/"),
            read,
            issue::event_json,
        )
        .post(&format!("{issue}/status/"), write, issue::status)
        .post(&format!("{issue}/assign/"), write, issue::assign)
        .post(&format!("{issue}/bookmark/"), write, issue::bookmark)
        .post(&format!("{issue}/comments/"), write, issue::comment)
        .post(
            &format!("{issue}/comments/{{note}}/delete/"),
            write,
            issue::delete_comment,
        )
        .post(&format!("{issue}/merge/"), write, issue::merge)
        .post(&format!("{issue}/unmerge/"), write, issue::unmerge)
        // Tickets act with the project's tracker account: project:write, as the API.
        .post(
            &format!("{issue}/plugins/{{plugin}}/create/"),
            Scope::ProjectWrite,
            issue_tickets::create,
        )
        .post(
            &format!("{issue}/plugins/{{plugin}}/link/"),
            Scope::ProjectWrite,
            issue_tickets::link,
        )
        .post(
            &format!("{issue}/plugins/{{plugin}}/unlink/"),
            Scope::ProjectWrite,
            issue_tickets::unlink,
        )
        .get(
            &format!("{org}/releases/"),
            Scope::ProjectRead,
            releases::releases,
        )
        .get(
            &format!("{org}/environments/"),
            Scope::ProjectRead,
            releases::environments,
        )
        .get(&format!("{project}/"), Scope::ProjectRead, settings::page)
        .post(
            &format!("{project}/"),
            Scope::ProjectWrite,
            settings::update,
        )
        .get(
            &format!("{project}/alerts/"),
            Scope::ProjectRead,
            alerts::page,
        )
        .get(
            &format!("{project}/alerts/new/"),
            Scope::ProjectWrite,
            alert_form::new_page,
        )
        .post(
            &format!("{project}/alerts/new/"),
            Scope::ProjectWrite,
            alert_form::create,
        )
        .get(
            &format!("{project}/alerts/{{rule}}/edit/"),
            Scope::ProjectWrite,
            alert_form::edit_page,
        )
        .post(
            &format!("{project}/alerts/{{rule}}/edit/"),
            Scope::ProjectWrite,
            alert_form::update,
        )
        .post(
            &format!("{project}/alerts/{{rule}}/delete/"),
            Scope::ProjectWrite,
            alert_form::delete,
        )
        .get(
            &format!("{project}/alerts/{{rule}}/preview/"),
            Scope::ProjectRead,
            alerts::preview,
        )
        .post(
            &format!("{project}/alerts/{{rule}}/test/"),
            Scope::ProjectWrite,
            alerts::send_test,
        )
        .post(
            &format!("{project}/alerts/deliveries/{{delivery}}/retry/"),
            Scope::ProjectWrite,
            alerts::retry,
        )
        .get(
            &format!("{project}/plugins/"),
            Scope::ProjectRead,
            plugins::list,
        )
        .get(
            &format!("{project}/plugins/{{plugin}}/"),
            Scope::ProjectRead,
            plugins::page,
        )
        .post(
            &format!("{project}/plugins/{{plugin}}/"),
            Scope::ProjectWrite,
            plugins::configure,
        )
        .post(
            &format!("{project}/plugins/{{plugin}}/enable/"),
            Scope::ProjectWrite,
            plugins::enable,
        )
        // Disabling: project:admin, as the API's DELETE (Sentry's ProjectPermission).
        .post(
            &format!("{project}/plugins/{{plugin}}/disable/"),
            Scope::ProjectAdmin,
            plugins::disable,
        )
        .post(
            &format!("{project}/delete/"),
            Scope::ProjectAdmin,
            settings::delete,
        )
        .post(
            &format!("{project}/keys/"),
            Scope::ProjectWrite,
            settings::create_key,
        )
        .post(
            &format!("{project}/keys/{{key}}/"),
            Scope::ProjectWrite,
            settings::key_action,
        )
        .get("/settings/{org}/", Scope::OrgRead, org_settings::page)
        .post("/settings/{org}/", Scope::OrgWrite, org_settings::update)
        .post(
            "/settings/{org}/rename/",
            Scope::OrgWrite,
            org_settings::rename,
        )
        .post(
            "/settings/{org}/delete/",
            Scope::OrgAdmin,
            org_settings::delete,
        )
        .get("/settings/{org}/sso/", Scope::OrgAdmin, org_sso::page)
        .post("/settings/{org}/sso/", Scope::OrgAdmin, org_sso::save)
        .post("/settings/{org}/sso/test/", Scope::OrgAdmin, org_sso::test)
        .post(
            "/settings/{org}/sso/delete/",
            Scope::OrgAdmin,
            org_sso::remove,
        )
        .get("/settings/{org}/teams/", Scope::TeamRead, teams::list)
        .post("/settings/{org}/teams/", Scope::TeamWrite, teams::create)
        .get(
            "/settings/{org}/teams/{team}/",
            Scope::TeamRead,
            teams::page,
        )
        .post(
            "/settings/{org}/teams/{team}/",
            Scope::TeamWrite,
            teams::rename,
        )
        .post(
            "/settings/{org}/teams/{team}/delete/",
            Scope::TeamAdmin,
            teams::delete,
        )
        // Joining and leaving: any member, under the API's membership rule.
        .post(
            "/settings/{org}/teams/{team}/members/",
            Scope::OrgRead,
            teams::membership,
        )
        .post(
            "/settings/{org}/teams/{team}/projects/",
            Scope::ProjectWrite,
            teams::projects,
        )
        .post(
            "/settings/{org}/invitations/",
            Scope::MemberWrite,
            org_settings::invite,
        )
        .get("/accept/{invite}/{secret}/", Rule::Public, accept::page)
        .post("/accept/{invite}/{secret}/", Rule::Public, accept::accept)
        .post(
            "/settings/{org}/members/{member}/",
            Scope::MemberWrite,
            org_settings::member_action,
        )
        .get(
            "/settings/{org}/audit-log/",
            Scope::OrgWrite,
            org_settings::audit_log,
        )
        .get(
            "/settings/account/api/auth-tokens/",
            Rule::Authenticated,
            account::tokens_page,
        )
        .post(
            "/settings/account/api/auth-tokens/",
            Rule::Authenticated,
            account::create_token,
        )
        .post(
            "/settings/account/api/auth-tokens/{token}/revoke/",
            Rule::Authenticated,
            account::revoke_token,
        )
        .get(
            "/settings/account/identities/",
            Rule::Authenticated,
            identities::page,
        )
        .post(
            "/settings/account/identities/{identity}/unlink/",
            Rule::Authenticated,
            identities::unlink,
        )
        .get("/manage/", Rule::Superuser, admin::page)
        .post("/manage/users/{user}/", Rule::Superuser, admin::user_action)
        .get("/static/{version}/{file}", Rule::Public, assets::serve)
}

/// The UI routes, with their session, CSRF and security-header layers.
pub fn routes(state: &AppState) -> Router<AppState> {
    let pages = pages()
        .into_router(state)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::protect,
        ))
        // The single sign-on callback checks its single-use state instead (see `sso`).
        .merge(sso::callback_routes().into_router(state))
        .layer(session::layer(state))
        .layer(axum::Extension(login::LoginThrottle::default()))
        // Pages show private data: never stored by shared caches, revalidated by browsers.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        ));
    security_headers(pages)
}

/// Adds the security headers to every response of `router`.
fn security_headers(router: Router<AppState>) -> Router<AppState> {
    let headers: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ))
    })
}
