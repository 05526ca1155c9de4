//! Calls to identity providers, shared by the providers: every answer is read to at most
//! [`MAX_ANSWER_BYTES`] (a hostile or broken provider cannot exhaust memory), and failures
//! become [`SsoError::Unavailable`] naming the endpoint ("its token endpoint could not be
//! reached: ..."). The client itself (no redirects, a timeout) is [`super::Registry::http`].

use errhound_domain::sso::SsoError;
use serde::de::DeserializeOwned;

/// The most of one answer from an identity provider (a discovery document, a JWKS, a token,
/// userinfo or API answer, metadata) that is read.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Sends `call` and reads the answer, at most [`MAX_ANSWER_BYTES`] of it.
pub async fn send(
    call: reqwest::RequestBuilder,
    what: &str,
) -> Result<(reqwest::StatusCode, Vec<u8>), SsoError> {
    let unreachable = |error: reqwest::Error| {
        let why = if error.is_timeout() {
            "it did not answer in time".to_owned()
        } else {
            describe_error(&error)
        };
        SsoError::Unavailable(format!("its {what} could not be reached: {why}"))
    };
    let too_large = || {
        SsoError::Unavailable(format!(
            "its {what} sent an answer larger than {} KiB",
            MAX_ANSWER_BYTES / 1024
        ))
    };
    let mut response = call.send().await.map_err(unreachable)?;
    let status = response.status();
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

pub async fn fetch_json<T: DeserializeOwned>(
    call: reqwest::RequestBuilder,
    what: &str,
) -> Result<T, SsoError> {
    let (status, body) = send(call, what).await?;
    if !status.is_success() {
        return Err(SsoError::Unavailable(format!(
            "its {what} answered HTTP {status}"
        )));
    }
    parse_json(&body, what)
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, SsoError> {
    serde_json::from_slice(body).map_err(|error| {
        SsoError::Unavailable(format!("its {what} is not the JSON expected ({error})"))
    })
}

/// An error with its causes ("error sending request: connection refused").
pub fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `pairs` as a URL query string (without the `?`), names and values form-encoded.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}
