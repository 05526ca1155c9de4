//! What a logged-in user may see and change, through the API's access rules
//! ([`crate::api::access`]), with the UI's error pages: an organization the user is not a member
//! of is a 404 like a missing one, and a database failure is a 500, never a refusal.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::error::UiError;
use super::login::UiUser;
use crate::AppState;
use crate::api::access::{AccessError, Caller};

impl From<AccessError> for UiError {
    fn from(error: AccessError) -> UiError {
        match error {
            AccessError::Unauthenticated(_) => {
                UiError::new(StatusCode::UNAUTHORIZED, "Log in to see this page.")
            }
            // Pages do not reveal which organizations exist.
            AccessError::NotFound | AccessError::Forbidden => UiError::not_found(),
            AccessError::NotSuperuser => {
                UiError::forbidden("This page is for the administrators of this server.")
            }
            AccessError::MissingScope(_) => {
                UiError::forbidden("Your role in this organization does not allow this.")
            }
            AccessError::Misrouted => UiError::internal(AccessError::Misrouted),
            AccessError::Store(error) => UiError::from(error),
        }
    }
}

/// The logged-in user of a request, as the route guard's caller; a request without a session
/// is sent to the login page.
pub async fn session_caller(parts: &mut Parts, state: &AppState) -> Result<Caller, Response> {
    let ui = UiUser::from_request_parts(parts, state).await?;
    Ok(Caller::User {
        user: ui.user,
        token: None,
    })
}

/// The page for a refused access check.
pub fn refusal(error: AccessError) -> Response {
    UiError::from(error).into_response()
}

#[cfg(test)]
mod tests {
    use errhound_store::StoreError;

    use super::*;

    #[test]
    fn refusals_map_to_pages_and_a_database_failure_to_500() {
        let failed = UiError::from(AccessError::Store(StoreError::CorruptPayload(
            "connection lost".into(),
        )));
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
        // Pages do not tell which organizations exist, but say when a role is too low.
        assert_eq!(
            UiError::from(AccessError::Forbidden).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            UiError::from(AccessError::MissingScope(
                errhound_domain::Scope::ProjectWrite
            ))
            .status,
            StatusCode::FORBIDDEN
        );
    }
}
