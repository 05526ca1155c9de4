//! The UI's error policy: every failure renders the same HTML error page with the right status.
//!
//! Client mistakes (404, 403, 400) are shown with a short message. Unexpected failures are logged
//! once, where they are converted into a [`UiError`] (a `StoreError` here, an `ApiError::internal`
//! in the shared access code), and the page says only that something went wrong.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use errhound_store::StoreError;
use errhound_store::workflow::WorkflowError;

use crate::error::ApiError;

/// An error page.
#[derive(Debug)]
pub struct UiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What the page says.
    pub message: String,
}

impl UiError {
    /// An error with a status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> UiError {
        UiError {
            status,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found() -> UiError {
        UiError::new(
            StatusCode::NOT_FOUND,
            "This page does not exist, or you do not have access to it.",
        )
    }

    /// 400 with a message for the user.
    pub fn bad_request(message: impl Into<String>) -> UiError {
        UiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403 with a message for the user.
    pub fn forbidden(message: impl Into<String>) -> UiError {
        UiError::new(StatusCode::FORBIDDEN, message)
    }

    /// An unexpected failure: logged here, a generic 500 for the user.
    pub fn internal(error: impl std::fmt::Display) -> UiError {
        tracing::error!(error = %error, "internal error while rendering a page");
        UiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. The error was logged.",
        )
    }
}

impl From<StoreError> for UiError {
    fn from(error: StoreError) -> UiError {
        UiError::internal(error)
    }
}

impl From<askama::Error> for UiError {
    fn from(error: askama::Error) -> UiError {
        UiError::internal(error)
    }
}

impl From<ApiError> for UiError {
    /// Access errors from the shared API code. Its 500s were logged already; a 403 for an
    /// organization becomes a 404, so pages do not reveal which organizations exist.
    fn from(error: ApiError) -> UiError {
        match error.status {
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => UiError::not_found(),
            StatusCode::INTERNAL_SERVER_ERROR => UiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. The error was logged.",
            ),
            status => UiError::new(status, error.detail),
        }
    }
}

impl From<WorkflowError> for UiError {
    fn from(error: WorkflowError) -> UiError {
        match error {
            WorkflowError::Store(e) => UiError::from(e),
            WorkflowError::NotFound(what) => UiError::new(
                StatusCode::NOT_FOUND,
                format!("That {what} does not exist."),
            ),
            WorkflowError::Invalid(message) => UiError::bad_request(message),
            WorkflowError::Conflict(message) => UiError::new(StatusCode::CONFLICT, message),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(error = %error, "cannot render the error page");
                (self.status, self.message).into_response()
            }
        }
    }
}

/// What UI handlers return.
pub type UiResult<T = Response> = Result<T, UiError>;
