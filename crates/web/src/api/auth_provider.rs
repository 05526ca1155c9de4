//! An organization's single sign-on provider, as Sentry's
//! `OrganizationAuthProviderDetailsEndpoint`: `GET /organizations/{org}/auth-provider/` shows
//! it (204 without one: a valid state, as Sentry answers), `POST` sets one up (201), `PUT` changes it (200), `DELETE` removes it
//! (204); 400 with `{"errors": {...}}` on invalid settings. Owners only (`org:admin`). Secret
//! values are never returned, only `hasSavedValue`. The rule is [`crate::sso_settings`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::Scope;
use serde_json::{Value, json};

use super::access::Grant;
use super::request::{Reply, json_response, parse_body};
use crate::AppState;
use crate::routes::{Routes, Surface};
use crate::sso_settings::{self, SsoSetup};

/// Routes of this module: owners only.
pub fn routes() -> Routes {
    let path = "/organizations/{org}/auth-provider/";
    Routes::new(Surface::Api)
        .get(path, Scope::OrgAdmin, detail)
        .post(path, Scope::OrgAdmin, set_up)
        .put(path, Scope::OrgAdmin, change)
        .delete(path, Scope::OrgAdmin, remove)
}

/// The provider as Sentry's `AuthProviderSerializer` shows it, with its `config`, the e-mail
/// domains it admits and the login path.
fn view(state: &AppState, grant: &Grant, setup: &SsoSetup) -> Value {
    let stored = &setup.stored;
    json!({
        "id": stored.id.to_string(),
        "provider": stored.provider,
        "provider_name": setup.description.title,
        "login_url": format!("{}/auth/login/{}/", state.config.public_url().trim_end_matches('/'), grant.org.slug),
        "default_role": stored.default_role.as_str(),
        "require_link": stored.require_sso,
        "allowed_domains": stored.allowed_domains,
        "group_mappings": setup.group_mappings(),
        "scim_enabled": false,
        "pending_links_count": 0,
        "config": setup.config(),
    })
}

/// `GET /api/0/organizations/{org}/auth-provider/`
async fn detail(State(state): State<AppState>, grant: Grant) -> Reply {
    match sso_settings::get(&state, grant.org.id).await? {
        Some(setup) => Ok(json_response(StatusCode::OK, view(&state, &grant, &setup))),
        // Sentry answers a 2xx: having no provider is a valid state, not a missing resource.
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// `POST /api/0/organizations/{org}/auth-provider/` with `provider`, `config` and the policy.
async fn set_up(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let setup = sso_settings::set_up(&state, &grant, &body).await?;
    Ok(json_response(
        StatusCode::CREATED,
        view(&state, &grant, &setup),
    ))
}

/// `PUT /api/0/organizations/{org}/auth-provider/`
async fn change(State(state): State<AppState>, grant: Grant, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let setup = sso_settings::change(&state, &grant, &body).await?;
    Ok(json_response(StatusCode::OK, view(&state, &grant, &setup)))
}

/// `DELETE /api/0/organizations/{org}/auth-provider/`: 204.
async fn remove(State(state): State<AppState>, grant: Grant) -> Reply {
    sso_settings::remove(&state, &grant).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
