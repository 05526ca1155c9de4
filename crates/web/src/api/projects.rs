//! Project settings through the API: grouping config, fingerprinting rules, stack trace rules and
//! data scrubbing, as Sentry's project fields.

use axum::Router;

use crate::AppState;

/// Routes of this module (merged into `/api/0`).
pub fn routes() -> Router<AppState> {
    Router::new()
}
