//! The error policy of the HTTP layer.
//!
//! * Handlers return `Result<_, ApiError>`. An `ApiError` carries the status and the `detail`
//!   message a client sees, as `{"detail": "..."}` (Relay and Sentry's API both use this shape).
//! * Client mistakes (4xx) are logged at `debug`/`info` by the code that detects them, once.
//! * Anything unexpected (`ApiError::internal`) is logged at `error` here, once, with its cause,
//!   and the client sees a generic 500 without internals.

use std::any::Any;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use errhound_store::StoreError;
use errhound_store::workflow::WorkflowError;
use serde_json::json;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `detail` message.
    pub detail: String,
    /// Extra headers (`WWW-Authenticate`, `Retry-After`, ...).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    /// For a validation error, the fields at fault in the shape Sentry's (Django REST
    /// Framework's) validation errors use, `{"field": ["message"]}` (nested for nested fields),
    /// merged into the body next to `detail`.
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    /// An error with a status and a message.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: detail.into(),
            headers: Vec::new(),
            fields: None,
        }
    }

    /// 400 for an invalid request field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid_fields(serde_json::json!({ field: [message.into()] }))
    }

    /// 400 for invalid request fields, given as `{"field": ["message"]}` (nested objects for
    /// nested fields, e.g. `{"statusDetails": {"ignoreCount": [...]}}`); `detail` repeats the
    /// first message.
    pub fn invalid_fields(fields: serde_json::Value) -> ApiError {
        fn first_message(value: &serde_json::Value) -> Option<&str> {
            match value {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Array(items) => items.iter().find_map(first_message),
                serde_json::Value::Object(map) => map.values().find_map(first_message),
                _ => None,
            }
        }
        let detail = first_message(&fields)
            .unwrap_or("Invalid request")
            .to_owned();
        let mut error = ApiError::bad_request(detail);
        if let serde_json::Value::Object(fields) = fields {
            error.fields = Some(fields);
        }
        error
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404 with Sentry's message.
    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "The requested resource does not exist",
        )
    }

    /// 403 with Sentry's message.
    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        )
    }

    /// An unexpected failure: logged here, 500 to the client.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %error, "internal error while handling a request");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Error")
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::internal(error)
    }
}

/// How a refused workflow change (see `store::workflow`) reads in Sentry's API.
impl From<WorkflowError> for ApiError {
    fn from(error: WorkflowError) -> ApiError {
        use WorkflowError as E;
        match error {
            E::Store(e) => ApiError::from(e),
            E::NotFound("release") => ApiError::invalid_fields(json!({
                "statusDetails": {"inRelease": ["Unable to find the given release."]}
            })),
            E::NotFound(_) => ApiError::not_found(),
            E::Invalid(message) => ApiError::bad_request(message),
            E::Conflict(message) => ApiError::new(StatusCode::CONFLICT, message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "detail": self.detail });
        for (field, errors) in self.fields.into_iter().flatten() {
            body[field] = errors;
        }
        let mut response = (self.status, Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// Turns a handler panic into a 500 (the panic is logged, the connection and server survive).
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = message, "request handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Error").into_response()
}
