//! The user's own single sign-on identities: which organizations' providers they are linked
//! to, and unlinking one (the next login through that provider links again, under the same
//! rules as the first).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use errhound_store::auth_identities;

use super::error::{UiError, UiResult};
use super::format;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::{LoginClient, UiUser};
use crate::AppState;

/// An identity as listed.
struct IdentityRow {
    id: i64,
    organization: String,
    provider: String,
    email: String,
    linked: String,
    last_login: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "identities.html")]
struct IdentitiesPage {
    nav: Nav,
    identities: Vec<IdentityRow>,
}

/// `GET /settings/account/identities/`
pub async fn page(State(state): State<AppState>, user: UiUser) -> UiResult {
    let nav = Nav::outside_org(&state, &user, "account").await?;
    let mut conn = state.db.read_latest().await?;
    let linked = auth_identities::list_for_user(&mut conn.conn(), user.user.id).await?;
    drop(conn);
    let identities = linked
        .into_iter()
        .map(|i| {
            let data: serde_json::Value = serde_json::from_str(&i.data).unwrap_or_default();
            IdentityRow {
                id: i.id,
                organization: i.organization_name,
                provider: state
                    .sso
                    .description(&i.provider)
                    .map_or(i.provider.clone(), |p| p.title.to_owned()),
                email: data["email"].as_str().unwrap_or("").to_owned(),
                linked: format::short_datetime(i.created_at),
                last_login: format::short_datetime(i.last_verified),
            }
        })
        .collect();
    Ok(IdentitiesPage { nav, identities }.into_response())
}

/// `POST /settings/account/identities/{identity}/unlink/`
pub async fn unlink(
    State(state): State<AppState>,
    user: UiUser,
    client: LoginClient,
    Path(identity): Path<i64>,
) -> UiResult {
    let unlinked =
        crate::sso::accounts::unlink(&state, &user.user, identity, client.addr.as_deref()).await?;
    if !unlinked {
        return Err(UiError::not_found());
    }
    flash_redirect(
        &user.session,
        "Identity unlinked: single sign-on no longer logs you in to this account until you link it again.",
        "/settings/account/identities/",
    )
    .await
}
