//! The user's own account: personal API tokens (create with scopes, shown once; list with last
//! use; revoke). Tokens are the user's, not an organization's, so the page frame shows the
//! user's first organization.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use errhound_domain::{Scope, ScopeSet};
use errhound_store::now_ms;
use errhound_store::tokens::{self, PersonalToken};

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::format;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;

/// Longest token name.
const MAX_NAME_CHARS: usize = 255;

/// A token as listed.
struct TokenRow {
    id: i64,
    name: String,
    scopes: String,
    last_chars: String,
    created: String,
    last_used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tokens.html")]
struct TokensPage {
    nav: Nav,
    tokens: Vec<TokenRow>,
    scopes: [Scope; 19],
    /// The token just created: shown this once.
    new_token: Option<String>,
}

/// The page frame of an account page: the user's first organization, if any.
pub(super) async fn nav(state: &AppState, user: &UiUser) -> UiResult<Nav> {
    Nav::outside_org(state, user, "account").await
}

fn row(token: &PersonalToken) -> TokenRow {
    TokenRow {
        id: token.id,
        name: token.name.clone().unwrap_or_default(),
        scopes: token.scopes.names().collect::<Vec<_>>().join(" "),
        last_chars: token.last_chars.clone(),
        created: format::datetime(token.created_at),
        last_used: token
            .last_used_at
            .map(format::datetime)
            .unwrap_or_else(|| "never".into()),
    }
}

async fn render(state: &AppState, user: &UiUser, new_token: Option<String>) -> UiResult {
    let nav = nav(state, user).await?;
    let mut conn = state.db.read_latest().await?;
    let list = tokens::list_personal(&mut conn.conn(), user.user.id).await?;
    Ok(TokensPage {
        nav,
        tokens: list.iter().map(row).collect(),
        scopes: Scope::ALL,
        new_token,
    }
    .into_response())
}

/// `GET /settings/account/api/auth-tokens/`
pub async fn tokens_page(State(state): State<AppState>, user: UiUser) -> UiResult {
    render(&state, &user, None).await
}

/// `POST /settings/account/api/auth-tokens/`: `name` and the checked `scope`s. Answers the page
/// with the new token (not a redirect: the secret is never stored, not even in the session).
pub async fn create_token(State(state): State<AppState>, user: UiUser, body: String) -> UiResult {
    let form = FormData::parse(&body);
    let name = form.text("name").unwrap_or("").trim().to_owned();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(UiError::bad_request("The name is too long."));
    }
    let mut scopes = ScopeSet::EMPTY;
    for name in form.all("scope") {
        let scope = Scope::parse(name)
            .ok_or_else(|| UiError::bad_request(format!("Unknown scope {name:?}.")))?;
        scopes = scopes.with(scope);
    }
    if scopes.is_empty() {
        return Err(UiError::bad_request("Choose at least one scope."));
    }
    let name = Some(name).filter(|n| !n.is_empty());
    let mut conn = state.db.write().await?;
    let made = tokens::create_personal(
        &mut conn.conn(),
        user.user.id,
        name.as_deref(),
        scopes,
        now_ms(),
    )
    .await?;
    drop(conn);
    tracing::info!(
        user.id = user.user.id,
        token.id = made.id,
        "personal API token created"
    );
    render(&state, &user, Some(made.token)).await
}

/// `POST /settings/account/api/auth-tokens/{token}/revoke/`
pub async fn revoke_token(
    State(state): State<AppState>,
    user: UiUser,
    Path(token): Path<i64>,
) -> UiResult {
    let mut conn = state.db.write().await?;
    if !tokens::revoke_personal(&mut conn.conn(), user.user.id, token).await? {
        return Err(UiError::not_found());
    }
    drop(conn);
    tracing::info!(
        user.id = user.user.id,
        token.id = token,
        "personal API token revoked"
    );
    flash_redirect(
        &user.session,
        "Token revoked.",
        "/settings/account/api/auth-tokens/",
    )
    .await
}
