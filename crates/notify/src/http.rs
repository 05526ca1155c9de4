//! The one outbound HTTP client of the plugins (webhooks, chat, Jira), with its SSRF guard and
//! request signing.
//!
//! * Timeouts: 5 s to connect, 10 s for the whole request; responses are read up to
//!   [`MAX_RESPONSE_BYTES`] (the rest is dropped).
//! * No redirects are followed: a redirect could lead past the guard, and a webhook answering
//!   3xx is misconfigured anyway (reported, not retried).
//! * No proxy from the environment (reqwest's system-proxy support is not compiled in), since
//!   a proxy would resolve names where the guard cannot see.
//! * **SSRF guard**: unless `notify.allow_private_targets`, a URL whose host is a literal
//!   non-public address is refused before anything is sent, and names are resolved by
//!   [`GuardedResolver`], which drops non-public addresses (and fails when nothing is left), so a
//!   project's settings cannot make the server call its own network.
//! * Status codes: 2xx is success; 408, 429 and 5xx are refusals worth retrying; any other
//!   answer is a lasting refusal. Connection failures and timeouts are retried.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use errhound_domain::plugin::PluginError;
use hmac::{KeyInit, Mac};
use reqwest::Method;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Time to open a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a whole request, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a response body that is read (for error messages and Jira's JSON).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// HMAC-SHA256 of `data` with `key`, as lowercase hex.
pub fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `ip` is an address on the public internet: not loopback, private, link-local,
/// unique-local, shared (CGNAT), unspecified, broadcast, multicast or documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), 100.64/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || ip.segments()[..6].iter().all(|s| *s == 0)) // IPv4-compatible (deprecated)
}

/// The error a refused target gives (found again in reqwest's error chain).
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to non-public addresses ({addresses}); set {setting} to allow them")]
struct RefusedTarget {
    host: String,
    addresses: String,
    setting: &'static str,
}

/// A DNS resolver that keeps only public addresses (see [`is_public`]); a refusal names
/// `setting`, the configuration key that allows private ones.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// The key that allows private targets, named in the refusal.
    pub setting: &'static str,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let setting = self.setting;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                all.iter().copied().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let addresses = all
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(RefusedTarget {
                    host,
                    addresses,
                    setting,
                }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// An answer: its status and (the start of) its body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body, cut at [`MAX_RESPONSE_BYTES`].
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The refusal this answer means, with the target named: retried for 408, 429 and 5xx.
    pub fn refusal(&self, target: &str) -> PluginError {
        let retry = matches!(self.status, 408 | 429) || self.status >= 500;
        let mut snippet: String = self.text().chars().take(200).collect();
        snippet = snippet.replace(['\r', '\n'], " ");
        let detail = if (300..400).contains(&self.status) {
            format!(
                "{target} answered {} (a redirect, which is not followed)",
                self.status
            )
        } else if snippet.trim().is_empty() {
            format!("{target} answered {}", self.status)
        } else {
            format!("{target} answered {}: {}", self.status, snippet.trim())
        };
        PluginError::Refused { detail, retry }
    }
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `POST`, `GET`, ...
    pub method: Method,
    /// The URL (from project settings: checked by the guard).
    pub url: &'a str,
    /// Headers to add.
    pub headers: Vec<(String, String)>,
    /// The body (sent as `application/json` when not empty).
    pub body: Vec<u8>,
    /// HTTP basic credentials.
    pub basic_auth: Option<(&'a str, &'a str)>,
}

impl<'a> Request<'a> {
    /// A `POST` of a JSON body.
    pub fn post_json(url: &'a str, body: Vec<u8>) -> Request<'a> {
        Request {
            method: Method::POST,
            url,
            headers: Vec::new(),
            body,
            basic_auth: None,
        }
    }

    /// A `GET`.
    pub fn get(url: &'a str) -> Request<'a> {
        Request {
            method: Method::GET,
            url,
            headers: Vec::new(),
            body: Vec::new(),
            basic_auth: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request<'a> {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The shared outbound client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpClient {
    /// A client; `allow_private` is `notify.allow_private_targets`.
    pub fn new(allow_private: bool) -> Result<HttpClient, String> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("errhound/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver {
                setting: "notify.allow_private_targets",
            }));
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(HttpClient {
            client,
            allow_private,
        })
    }

    /// Whether private targets are allowed.
    pub fn allows_private_targets(&self) -> bool {
        self.allow_private
    }

    /// Checks `url` before sending: http or https, a host, and (unless allowed) no literal
    /// non-public address. A refusal is a configuration error (not retried).
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, PluginError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| PluginError::Config(format!("{url} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(PluginError::Config(format!(
                "{url} is not an http:// or https:// URL"
            )));
        }
        let literal = match parsed.host() {
            None => return Err(PluginError::Config(format!("{url} has no host"))),
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
        };
        if let Some(ip) = literal
            && !self.allow_private
            && !is_public(ip)
        {
            return Err(PluginError::Config(format!(
                "{ip} is not a public address; set notify.allow_private_targets to allow it"
            )));
        }
        Ok(parsed)
    }

    /// Sends `request` and reads (the start of) the answer. Any status is an `Ok`; the caller
    /// decides with [`Response::is_success`] and [`Response::refusal`].
    pub async fn send(&self, request: Request<'_>) -> Result<Response, PluginError> {
        let url = self.check_url(request.url)?;
        let target = target_name(&url);
        let mut builder = self.client.request(request.method, url);
        if !request.body.is_empty() {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some((user, password)) = request.basic_auth {
            builder = builder.basic_auth(user, Some(password));
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        let mut response = builder
            .send()
            .await
            .map_err(|e| send_error(&target, &e.without_url()))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_RESPONSE_BYTES - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= MAX_RESPONSE_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                // The status arrived: a body cut short does not undo it.
                Err(_) => break,
            }
        }
        Ok(Response { status, body })
    }
}

/// `scheme://host[:port]` of `url`, for messages (no path: it may hold a token).
pub fn target_name(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// The plugin error of a failed send: a refused target is a configuration error, the rest is
/// worth retrying.
fn send_error(target: &str, error: &reqwest::Error) -> PluginError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<RefusedTarget>() {
            return PluginError::Config(refused.to_string());
        }
        source = current.source();
    }
    if error.is_timeout() {
        PluginError::Unreachable(format!(
            "{target} did not answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        ))
    } else if error.is_connect() {
        PluginError::Unreachable(format!("cannot connect to {target}: {}", chain(error)))
    } else {
        PluginError::Unreachable(format!("{target}: {}", chain(error)))
    }
}

/// An error and its causes on one line (reqwest's own message is only the outermost).
fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(current) = source {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn statuses_decide_retries() {
        let answer = |status| Response {
            status,
            body: b"nope".to_vec(),
        };
        for (status, retry) in [
            (500, true),
            (503, true),
            (429, true),
            (408, true),
            (400, false),
            (401, false),
            (404, false),
            (302, false),
        ] {
            assert_eq!(
                answer(status).refusal("x").is_retryable(),
                retry,
                "{status}"
            );
        }
    }

    #[test]
    fn literal_private_urls_are_refused_unless_allowed() {
        let guarded = HttpClient::new(false).unwrap();
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]/",
            "http://10.0.0.1/",
            "http://[::ffff:7f00:1]/",
        ] {
            let err = guarded.check_url(url).unwrap_err();
            assert!(matches!(err, PluginError::Config(_)), "{url}: {err}");
            assert!(err.to_string().contains("allow_private_targets"), "{err}");
        }
        assert!(guarded.check_url("ftp://example.com/").is_err());
        assert!(guarded.check_url("https://example.com/hook").is_ok());
        let open = HttpClient::new(true).unwrap();
        assert!(open.check_url("http://127.0.0.1:9/x").is_ok());
    }
}
