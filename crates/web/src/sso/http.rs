//! Calls to identity providers, shared by the providers: every answer is read to at most
//! [`MAX_ANSWER_BYTES`] (a hostile or broken provider cannot exhaust memory), and failures
//! become [`SsoError::Unavailable`] naming the endpoint ("its token endpoint could not be
//! reached: ..."). The client ([`IdpClient`]) follows no redirects (an endpoint that
//! redirects must not lead a token exchange elsewhere), gives up after [`IDP_TIMEOUT`], and,
//! unless `auth.sso_allow_private_idp`, reaches only public addresses: an organization's owner
//! sets the URLs, and must not make the server fetch from its private network (SSRF).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use errhound_domain::sso::SsoError;
use errhound_notify::http::{GuardedResolver, is_public};
use serde::de::DeserializeOwned;

/// The configuration key that lets identity providers be on private addresses.
pub const ALLOW_PRIVATE_SETTING: &str = "auth.sso_allow_private_idp";

/// How long a call to an identity provider may take.
pub const IDP_TIMEOUT: Duration = Duration::from_secs(10);

/// The client for calls to identity providers.
#[derive(Clone, Debug)]
pub struct IdpClient {
    client: reqwest::Client,
    allow_private: bool,
}

impl IdpClient {
    /// A client; `allow_private` is `auth.sso_allow_private_idp`.
    pub fn new(allow_private: bool) -> IdpClient {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(IDP_TIMEOUT);
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver {
                setting: ALLOW_PRIVATE_SETTING,
            }));
        }
        IdpClient {
            client: builder.build().unwrap_or_default(),
            allow_private,
        }
    }

    /// A GET of `url`, to [`IdpClient::send`].
    pub fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client.get(url)
    }

    /// A POST to `url`, to [`IdpClient::send`].
    pub fn post(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client.post(url)
    }

    /// Sends `call` and reads the answer, at most [`MAX_ANSWER_BYTES`] of it; `what` names the
    /// endpoint in errors. A URL naming a non-public address literally is refused first (names
    /// are checked as they resolve).
    pub async fn send(
        &self,
        call: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), SsoError> {
        let (client, request) = call.build_split();
        let request = request.map_err(|e| {
            SsoError::Unavailable(format!(
                "its {what} has no usable URL: {}",
                describe_error(&e)
            ))
        })?;
        let literal = match request.url().host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && !self.allow_private
            && !is_public(ip)
        {
            return Err(SsoError::Unavailable(format!(
                "its {what} is at {ip}, not a public address; set {ALLOW_PRIVATE_SETTING} to allow it"
            )));
        }
        read(client.execute(request).await, what).await
    }

    /// [`IdpClient::send`], for a JSON answer with a 2xx status.
    pub async fn fetch_json<T: DeserializeOwned>(
        &self,
        call: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, SsoError> {
        let (status, body) = self.send(call, what).await?;
        if !status.is_success() {
            return Err(SsoError::Unavailable(format!(
                "its {what} answered HTTP {status}"
            )));
        }
        parse_json(&body, what)
    }
}

/// The most of one answer from an identity provider (a discovery document, a JWKS, a token,
/// userinfo or API answer, metadata) that is read.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Reads the answer `sent`, at most [`MAX_ANSWER_BYTES`] of it.
async fn read(
    sent: Result<reqwest::Response, reqwest::Error>,
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
    let mut response = sent.map_err(unreachable)?;
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
