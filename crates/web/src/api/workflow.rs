//! The issue workflow through the API: status, assignment, bookmarks, comments, merges.

use axum::Router;

use crate::AppState;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Router<AppState> {
    Router::new()
}
