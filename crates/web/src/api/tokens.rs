//! API tokens through the API, on Sentry's paths: a user's personal tokens
//! (`GET`/`POST`/`DELETE /api/0/api-tokens/`) and an organization's tokens for CI
//! (`GET`/`POST /api/0/organizations/{org}/org-auth-tokens/`, `DELETE .../{id}/`). A token's
//! secret is in the creation answer only. Tokens cannot make tokens: creating a personal token
//! needs a user calling with a token that carries every scope it asks for.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::{AuditAction, Scope, ScopeSet};
use errhound_store::audit;
use errhound_store::now_ms;
use errhound_store::tokens::{self, NewToken, OrgToken, PersonalToken};
use serde_json::{Map, Value, json};

use super::access::{ApiUser, Caller, Grant};
use super::request::{Reply, begin, json_response, parse_body};
use super::views;
use crate::AppState;
use crate::error::ApiError;
use crate::routes::{Routes, Rule, Surface};

/// Longest token name.
const MAX_NAME_CHARS: usize = 255;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    let org_tokens = "/organizations/{org}/org-auth-tokens/";
    Routes::new(Surface::Api)
        .get("/api-tokens/", Rule::Authenticated, list_personal)
        .post("/api-tokens/", Rule::Authenticated, create_personal)
        .delete("/api-tokens/", Rule::Authenticated, revoke_personal)
        .get(org_tokens, Scope::OrgRead, list_org)
        .post(org_tokens, Scope::OrgWrite, create_org)
        .delete(
            "/organizations/{org}/org-auth-tokens/{token_id}/",
            Scope::OrgWrite,
            revoke_org,
        )
}

fn personal_json(token: &PersonalToken) -> Value {
    json!({
        "id": token.id.to_string(),
        "name": token.name,
        "scopes": token.scopes.names().collect::<Vec<_>>(),
        "tokenLastCharacters": token.last_chars,
        "dateCreated": views::date(token.created_at),
        "dateLastUsed": token.last_used_at.map(views::date),
        "expiresAt": token.expires_at.map(views::date),
    })
}

fn org_json(token: &OrgToken) -> Value {
    json!({
        "id": token.id.to_string(),
        "name": token.name,
        "scopes": token.scopes.names().collect::<Vec<_>>(),
        "tokenLastCharacters": token.last_chars,
        "dateCreated": views::date(token.created_at),
        "dateLastUsed": token.last_used_at.map(views::date),
    })
}

fn name_of(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body.get("name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if name.chars().count() <= MAX_NAME_CHARS => {
            Ok(Some(name.trim().to_owned()).filter(|n| !n.is_empty()))
        }
        Some(_) => Err(ApiError::invalid_field(
            "name",
            "A name is a string of at most 255 characters.",
        )),
    }
}

fn scopes_of(body: &Map<String, Value>, default: ScopeSet) -> Result<ScopeSet, ApiError> {
    let Some(value) = body.get("scopes") else {
        return Ok(default);
    };
    let names = value
        .as_array()
        .ok_or_else(|| ApiError::invalid_field("scopes", "A list of scope names."))?;
    let mut scopes = ScopeSet::EMPTY;
    for name in names {
        let scope = name
            .as_str()
            .and_then(Scope::parse)
            .ok_or_else(|| ApiError::invalid_field("scopes", format!("Unknown scope: {name}.")))?;
        scopes = scopes.with(scope);
    }
    if scopes.is_empty() {
        return Err(ApiError::invalid_field(
            "scopes",
            "Name at least one scope.",
        ));
    }
    Ok(scopes)
}

fn created(secret: NewToken, mut body: Value) -> axum::response::Response {
    body["token"] = json!(secret.token);
    json_response(StatusCode::CREATED, body)
}

/// `GET /api/0/api-tokens/`: the caller's personal tokens.
pub async fn list_personal(State(state): State<AppState>, ApiUser(user): ApiUser) -> Reply {
    let mut conn = state.db.read().await?;
    let list = tokens::list_personal(&mut conn.conn(), user.id).await?;
    Ok(json_response(
        StatusCode::OK,
        Value::Array(list.iter().map(personal_json).collect()),
    ))
}

/// `POST /api/0/api-tokens/` with `name` and `scopes`: 201 with the token (shown once).
pub async fn create_personal(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let Caller::User { user, token } = caller else {
        return Err(ApiError::forbidden());
    };
    let body = parse_body(&body)?;
    let scopes = scopes_of(&body, ScopeSet::all())?;
    // A token only makes tokens that can do no more than itself.
    if let Some(token) = token {
        let mine = token.scopes.expanded();
        if scopes.expanded().intersection(mine) != scopes.expanded() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "A token cannot create a token with scopes it does not have.",
            ));
        }
    }
    let name = name_of(&body)?;
    let mut conn = state.db.write().await?;
    let secret =
        tokens::create_personal(&mut conn.conn(), user.id, name.as_deref(), scopes, now_ms())
            .await?;
    let list = tokens::list_personal(&mut conn.conn(), user.id).await?;
    drop(conn);
    let made = list
        .iter()
        .find(|t| t.id == secret.id)
        .ok_or_else(ApiError::not_found)?;
    tracing::info!(
        user.id = user.id,
        token.id = secret.id,
        "personal API token created"
    );
    let body = personal_json(made);
    Ok(created(secret, body))
}

/// `DELETE /api/0/api-tokens/` with `{"tokenId": ...}` (Sentry's form): 204.
pub async fn revoke_personal(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let id = body
        .get("tokenId")
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        .ok_or_else(|| ApiError::invalid_field("tokenId", "This field is required."))?;
    let mut conn = state.db.write().await?;
    if !tokens::revoke_personal(&mut conn.conn(), user.id, id).await? {
        return Err(ApiError::not_found());
    }
    tracing::info!(
        user.id = user.id,
        token.id = id,
        "personal API token revoked"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/0/organizations/{org}/org-auth-tokens/` (users only: a token does not list tokens).
pub async fn list_org(State(state): State<AppState>, _: ApiUser, grant: Grant) -> Reply {
    let mut conn = state.db.read().await?;
    let list = tokens::list_org_tokens(&mut conn.conn(), grant.org.id).await?;
    Ok(json_response(
        StatusCode::OK,
        Value::Array(list.iter().map(org_json).collect()),
    ))
}

/// `POST /api/0/organizations/{org}/org-auth-tokens/` with `name`: 201 with the token
/// (`org:ci`, shown once).
pub async fn create_org(
    State(state): State<AppState>,
    _: ApiUser,
    grant: Grant,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let Some(name) = name_of(&body)? else {
        return Err(ApiError::invalid_field("name", "This field is required."));
    };
    let scopes = ScopeSet::of(&[Scope::OrgCi]);
    let now = now_ms();
    let mut tx = begin(&state).await?;
    let secret = tokens::create_org_token(
        &mut tx.conn(),
        grant.org.id,
        &grant.org.slug,
        &name,
        scopes,
        grant.caller.user().map(|u| u.id),
        &state.config.public_url(),
        now,
    )
    .await?;
    let data = json!({"name": name, "scopes": scopes.to_stored()});
    let action = AuditAction::OrgTokenCreate;
    let actor = grant.audit_actor();
    audit::record(
        &mut tx.conn(),
        grant.org.id,
        &actor,
        action,
        Some(secret.id),
        &data,
        now,
    )
    .await?;
    let list = tokens::list_org_tokens(&mut tx.conn(), grant.org.id).await?;
    tx.commit().await?;
    let made = list
        .iter()
        .find(|t| t.id == secret.id)
        .ok_or_else(ApiError::not_found)?;
    let body = org_json(made);
    Ok(created(secret, body))
}

/// `DELETE /api/0/organizations/{org}/org-auth-tokens/{id}/`: 204.
pub async fn revoke_org(
    State(state): State<AppState>,
    grant: Grant,
    Path((_, token_id)): Path<(String, String)>,
) -> Reply {
    let id: i64 = token_id.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = begin(&state).await?;
    if !tokens::revoke_org_token(&mut tx.conn(), grant.org.id, id).await? {
        return Err(ApiError::not_found());
    }
    let action = AuditAction::OrgTokenRemove;
    let actor = grant.audit_actor();
    audit::record(
        &mut tx.conn(),
        grant.org.id,
        &actor,
        action,
        Some(id),
        &json!({}),
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
