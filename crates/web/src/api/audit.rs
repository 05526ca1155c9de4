//! `GET /api/0/organizations/{org}/audit-logs/`: the organization's audit log, newest first
//! (Sentry's shape: `{"rows": [...], "options": [...]}`), for owners and managers (`org:write`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use errhound_domain::{AuditAction, Scope};
use errhound_store::audit::{self, Entry};
use serde_json::{Value, json};

use super::access::Grant;
use super::pagination::{Cursor, MAX_PER_PAGE, finish_page, link_header};
use super::params::Params;
use super::views;
use crate::AppState;
use crate::error::ApiError;
use crate::routes::{Routes, Surface};

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Routes {
    Routes::new(Surface::Api).get("/organizations/{org}/audit-logs/", Scope::OrgWrite, list)
}

/// One entry as the API shows it.
pub fn entry_json(entry: &Entry) -> Value {
    json!({
        "id": entry.id.to_string(),
        "actor": {
            "id": entry.actor.user_id.map(|id| id.to_string()),
            "name": entry.actor.label,
            "email": entry.actor.user_id.map(|_| entry.actor.label.clone()),
        },
        "event": entry.action.map_or("unknown", AuditAction::as_str),
        "ipAddress": entry.actor.ip_address,
        "targetObject": entry.target_id,
        "data": entry.data,
        "dateCreated": views::date(entry.created_at),
    })
}

/// `GET /api/0/organizations/{org}/audit-logs/?per_page=&cursor=` (older entries follow the
/// `next` link).
pub async fn list(
    State(state): State<AppState>,
    grant: Grant,
    params: Params,
) -> Result<Response, ApiError> {
    let per_page = params.per_page(MAX_PER_PAGE)?;
    // Only forward pages (older entries): a cursor names the last entry seen.
    let cursor = Cursor::parse(params.get("cursor"))?.map(|c| Cursor {
        is_prev: false,
        ..c
    });
    let mut conn = state.db.read().await?;
    let rows = audit::list(
        &mut conn.conn(),
        grant.org.id,
        cursor.map(|c| c.id),
        per_page as i64 + 1,
    )
    .await?;
    let (rows, links) = finish_page(rows, per_page, cursor, |e| (e.id, e.id));
    let base = format!(
        "{}/api/0/organizations/{}/audit-logs/",
        state.config.public_url(),
        grant.org.slug
    );
    let link = link_header(&base, params.raw(), &links);
    let options: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
    let body = json!({
        "rows": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "options": options,
    });
    Ok(([link], axum::Json(body)).into_response())
}
