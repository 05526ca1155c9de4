//! Cross-site request forgery protection for every state-changing UI request, in two layers:
//!
//! 1. **Origin.** A browser tells where a request comes from: `Sec-Fetch-Site` must be
//!    `same-origin` (or `none`, a user typing the URL); without it, an `Origin` header must name
//!    this server (the configured public URL, or the `Host` the request was sent to). Requests
//!    with neither (old browsers, scripts) go on to the token check alone.
//! 2. **Token.** The session's synchronizer token must come back in the form field `csrf` or the
//!    `X-CSRF-Token` header (htmx sends it, see `static/app.js`); compared in constant time.
//!
//! Safe methods (GET, HEAD, OPTIONS) change nothing and pass. A refused request gets a 403 page
//! and a log line naming the reason, never the token.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::error::UiError;
use super::form::FormData;
use super::session;
use crate::AppState;

/// The form field holding the token.
pub const FIELD: &str = "csrf";
/// The header holding the token (htmx requests).
pub const HEADER: &str = "x-csrf-token";
/// Largest form body the UI accepts (a comment is at most 100 000 characters).
pub const MAX_FORM_BYTES: usize = 1024 * 1024;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Sec-Fetch-Site` says another site sent it.
    CrossSite,
    /// `Origin` names another origin.
    ForeignOrigin,
    /// No token, or not the session's.
    BadToken,
}

/// The origin check: `Ok` for requests from this server's pages (or from no browser at all).
pub fn check_origin(headers: &HeaderMap, public_url: &str) -> Result<(), Refusal> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => Err(Refusal::CrossSite),
        };
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| Refusal::ForeignOrigin)?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let same_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| !host.is_empty() && rest.eq_ignore_ascii_case(host));
    if same_host || origin.eq_ignore_ascii_case(public_url.trim_end_matches('/')) {
        Ok(())
    } else {
        Err(Refusal::ForeignOrigin)
    }
}

/// Constant-time token comparison.
pub fn tokens_match(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

fn refuse(reason: Refusal) -> Response {
    tracing::warn!(reason = ?reason, "refused a UI request without valid CSRF protection");
    let message = match reason {
        Refusal::CrossSite | Refusal::ForeignOrigin => {
            "This request came from another site and was refused."
        }
        Refusal::BadToken => {
            "This form has expired or was not sent from Errhound. Go back, reload the page and \
             try again."
        }
    };
    UiError::new(StatusCode::FORBIDDEN, message).into_response()
}

/// The middleware (inside the session layer).
pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let public_url = state.config.public_url();
    if let Err(reason) = check_origin(request.headers(), &public_url) {
        return refuse(reason);
    }
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return refuse(Refusal::BadToken);
    };
    let expected = match session.get::<String>(session::CSRF).await {
        Ok(Some(token)) => token,
        Ok(None) => return refuse(Refusal::BadToken),
        Err(error) => return UiError::internal(error).into_response(),
    };
    let header_token = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return UiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.")
                .into_response();
        }
    };
    let form_token = FormData::parse(&String::from_utf8_lossy(&bytes))
        .get(FIELD)
        .map(str::to_owned);
    let valid = [header_token, form_token]
        .iter()
        .flatten()
        .any(|given| tokens_match(&expected, given));
    if !valid {
        return refuse(Refusal::BadToken);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn origin_rules() {
        let public = "https://errors.example.com";
        assert_eq!(check_origin(&headers(&[]), public), Ok(()));
        assert_eq!(
            check_origin(&headers(&[("sec-fetch-site", "same-origin")]), public),
            Ok(())
        );
        assert_eq!(
            check_origin(&headers(&[("sec-fetch-site", "cross-site")]), public),
            Err(Refusal::CrossSite)
        );
        assert_eq!(
            check_origin(&headers(&[("sec-fetch-site", "same-site")]), public),
            Err(Refusal::CrossSite)
        );
        assert_eq!(
            check_origin(
                &headers(&[("origin", "https://errors.example.com")]),
                public
            ),
            Ok(())
        );
        assert_eq!(
            check_origin(
                &headers(&[
                    ("origin", "http://127.0.0.1:9000"),
                    ("host", "127.0.0.1:9000")
                ]),
                public
            ),
            Ok(())
        );
        assert_eq!(
            check_origin(
                &headers(&[
                    ("origin", "https://evil.example"),
                    ("host", "127.0.0.1:9000")
                ]),
                public
            ),
            Err(Refusal::ForeignOrigin)
        );
        assert_eq!(
            check_origin(&headers(&[("origin", "null")]), public),
            Err(Refusal::ForeignOrigin)
        );
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", ""));
        assert!(!tokens_match("", ""));
    }
}
