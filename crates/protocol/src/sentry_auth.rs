//! Client authentication: which DSN key a request claims.
//!
//! SDKs put the key in one of four places (protocol.md §2): the `X-Sentry-Auth` header (Python,
//! Rust), `Authorization: Sentry ...` or `Authorization: Basic base64(key:)`, the query string
//! (`?sentry_key=...`, Node and browser SDKs) or the envelope header `dsn`. Only the key matters;
//! `sentry_secret` and `sentry_timestamp` are deprecated and ignored.

use base64::Engine as _;

/// The newest protocol version this server speaks.
pub const MAX_PROTOCOL_VERSION: u16 = 7;

/// What a request claims about its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    /// The DSN public key (32 characters).
    pub public_key: String,
    /// `sentry_version`, when sent.
    pub version: Option<u16>,
    /// `sentry_client` (e.g. `sentry.python/2.75.0`), when sent.
    pub client: Option<String>,
}

/// Why a request's authentication was refused. The web layer maps these onto Relay's statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No source carried a key (401).
    #[error("missing authorization information")]
    Missing,
    /// Two sources carried different keys (401).
    #[error("multiple authorization payloads detected")]
    Conflicting,
    /// A header was present but not in the `Sentry k=v, ...` or `Basic` form (401).
    #[error("bad x-sentry-auth header")]
    BadHeader,
    /// The key is not 32 ASCII alphanumeric characters (400).
    #[error("bad sentry DSN public key")]
    BadPublicKey,
    /// `sentry_version` is newer than 7 or not a number (400).
    #[error("unsupported protocol version ({0})")]
    UnsupportedVersion(String),
}

impl AuthError {
    /// Whether the error means "who are you?" (401) rather than "malformed request" (400).
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            AuthError::Missing | AuthError::Conflicting | AuthError::BadHeader
        )
    }
}

/// The raw auth-bearing parts of a request, as the web layer extracted them.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuthSources<'a> {
    /// The `X-Sentry-Auth` header value.
    pub x_sentry_auth: Option<&'a str>,
    /// The `Authorization` header value.
    pub authorization: Option<&'a str>,
    /// The raw (still percent-encoded) query string.
    pub query: Option<&'a str>,
}

/// Reads the claimed key from headers and query. The envelope `dsn` header is checked afterwards
/// by [`merge_envelope_dsn`], once the body has been read.
///
/// Returns `Ok(None)` when no source carries a key, so that an envelope `dsn` header can still
/// authenticate the request.
pub fn from_request(sources: AuthSources<'_>) -> Result<Option<ClientAuth>, AuthError> {
    let mut found: Option<ClientAuth> = None;
    if let Some(value) = sources.x_sentry_auth {
        merge(&mut found, parse_sentry_header(value)?)?;
    }
    if let Some(value) = sources.authorization {
        // Other Authorization schemes (e.g. Bearer from a proxy) are not ours to judge.
        if let Some(auth) = parse_authorization(value)? {
            merge(&mut found, auth)?;
        }
    }
    if let Some(query) = sources.query
        && let Some(auth) = parse_query(query)?
    {
        merge(&mut found, auth)?;
    }
    if let Some(auth) = &mut found {
        auth.public_key = normalize_key(&auth.public_key)?.to_owned();
    }
    Ok(found)
}

/// Combines request auth with the public key of an envelope's `dsn` header.
pub fn merge_envelope_dsn(
    request: Option<ClientAuth>,
    envelope_dsn_key: Option<&str>,
) -> Result<ClientAuth, AuthError> {
    let envelope_key = envelope_dsn_key.map(normalize_key).transpose()?;
    match (request, envelope_key) {
        (Some(auth), None) => Ok(auth),
        (Some(auth), Some(key)) if auth.public_key == key => Ok(auth),
        (Some(_), Some(_)) => Err(AuthError::Conflicting),
        (None, Some(key)) => Ok(ClientAuth {
            public_key: key.to_owned(),
            version: None,
            client: None,
        }),
        (None, None) => Err(AuthError::Missing),
    }
}

fn merge(found: &mut Option<ClientAuth>, new: ClientAuth) -> Result<(), AuthError> {
    match found {
        None => {
            *found = Some(new);
            Ok(())
        }
        // No official SDK sends two sources, but proxies and tunnels may repeat the same key.
        Some(existing) if existing.public_key == new.public_key => {
            existing.version = existing.version.or(new.version);
            if existing.client.is_none() {
                existing.client = new.client;
            }
            Ok(())
        }
        Some(_) => Err(AuthError::Conflicting),
    }
}

/// Checks a public key's shape and drops Relay's optional `.flag` suffix (e.g. `.no-cache`).
fn normalize_key(key: &str) -> Result<&str, AuthError> {
    let key = key.split_once('.').map_or(key, |(key, _)| key);
    if key.len() == 32 && key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(key)
    } else {
        Err(AuthError::BadPublicKey)
    }
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// Parses `Sentry sentry_key=..., sentry_version=7, sentry_client=...` (prefix optional).
fn parse_sentry_header(value: &str) -> Result<ClientAuth, AuthError> {
    let value = value.trim();
    let pairs = strip_prefix_ignore_case(value, "sentry ").unwrap_or(value);
    let mut auth = PartialAuth::default();
    for pair in pairs.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').ok_or(AuthError::BadHeader)?;
        let value = value.trim().trim_matches('"');
        auth.set(key.trim(), value);
    }
    auth.finish()?.ok_or(AuthError::BadHeader)
}

fn parse_authorization(value: &str) -> Result<Option<ClientAuth>, AuthError> {
    let value = value.trim();
    if strip_prefix_ignore_case(value, "sentry ").is_some() {
        return parse_sentry_header(value).map(Some);
    }
    if let Some(encoded) = strip_prefix_ignore_case(value, "basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| AuthError::BadHeader)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthError::BadHeader)?;
        let key = decoded.split_once(':').map_or(decoded.as_str(), |(k, _)| k);
        if key.is_empty() {
            return Err(AuthError::BadHeader);
        }
        return Ok(Some(ClientAuth {
            public_key: key.to_owned(),
            version: None,
            client: None,
        }));
    }
    Ok(None)
}

fn parse_query(query: &str) -> Result<Option<ClientAuth>, AuthError> {
    let mut auth = PartialAuth::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !key.starts_with("sentry_") {
            continue;
        }
        let value = percent_decode_query(value);
        auth.set(key, &value);
    }
    auth.finish()
}

fn percent_decode_query(value: &str) -> String {
    let plus_as_space = value.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

#[derive(Default)]
struct PartialAuth {
    key: Option<String>,
    version: Option<String>,
    client: Option<String>,
}

impl PartialAuth {
    fn set(&mut self, key: &str, value: &str) {
        match key {
            "sentry_key" => self.key = Some(value.to_owned()),
            "sentry_version" => self.version = Some(value.to_owned()),
            "sentry_client" => self.client = Some(value.to_owned()),
            // sentry_secret and sentry_timestamp are deprecated; unknown keys are tolerated.
            _ => {}
        }
    }

    fn finish(self) -> Result<Option<ClientAuth>, AuthError> {
        let Some(public_key) = self.key.filter(|k| !k.is_empty()) else {
            return Ok(None);
        };
        let version = match self.version {
            None => None,
            Some(text) => {
                // Old clients send "2.0"; only the major number matters.
                let major = text.split('.').next().unwrap_or("");
                match major.parse::<u16>() {
                    Ok(v) if v <= MAX_PROTOCOL_VERSION => Some(v),
                    _ => return Err(AuthError::UnsupportedVersion(text)),
                }
            }
        };
        Ok(Some(ClientAuth {
            public_key,
            version,
            client: self.client.filter(|c| !c.is_empty()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn header(value: &str) -> AuthSources<'_> {
        AuthSources {
            x_sentry_auth: Some(value),
            ..Default::default()
        }
    }

    #[test]
    fn python_sdk_header() {
        let auth = from_request(header(
            "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, sentry_client=sentry.python/2.75.0",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(auth.public_key, KEY);
        assert_eq!(auth.version, Some(7));
        assert_eq!(auth.client.as_deref(), Some("sentry.python/2.75.0"));
    }

    #[test]
    fn rust_sdk_header_with_timestamp_and_lowercase_name() {
        let auth = from_request(header(
            "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, sentry_timestamp=1795565900.7122264, sentry_client=sentry.rust/0.49.5",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(auth.client.as_deref(), Some("sentry.rust/0.49.5"));
    }

    #[test]
    fn node_sdk_query_string() {
        let auth = from_request(AuthSources {
            query: Some("sentry_version=7&sentry_key=0123456789abcdef0123456789abcdef&sentry_client=sentry.javascript.node%2F11.12.0"),
            ..Default::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(auth.public_key, KEY);
        assert_eq!(
            auth.client.as_deref(),
            Some("sentry.javascript.node/11.12.0")
        );
    }

    #[test]
    fn authorization_sentry_and_basic() {
        let sentry = from_request(AuthSources {
            authorization: Some("sentry sentry_key=0123456789abcdef0123456789abcdef"),
            ..Default::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(sentry.public_key, KEY);
        let basic_value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"))
        );
        let basic = from_request(AuthSources {
            authorization: Some(&basic_value),
            ..Default::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(basic.public_key, KEY);
    }

    #[test]
    fn bearer_authorization_is_not_ours() {
        let auth = from_request(AuthSources {
            authorization: Some("Bearer abc"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(auth, None);
    }

    #[test]
    fn same_key_twice_is_fine_different_keys_conflict() {
        let ok = from_request(AuthSources {
            x_sentry_auth: Some("Sentry sentry_key=0123456789abcdef0123456789abcdef"),
            query: Some("sentry_key=0123456789abcdef0123456789abcdef&sentry_version=7"),
            ..Default::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(ok.version, Some(7));
        let err = from_request(AuthSources {
            x_sentry_auth: Some("Sentry sentry_key=0123456789abcdef0123456789abcdef"),
            query: Some("sentry_key=ffffffffffffffffffffffffffffffff"),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err, AuthError::Conflicting);
    }

    #[test]
    fn malformed_inputs() {
        assert_eq!(
            from_request(header("Sentry garbage")).unwrap_err(),
            AuthError::BadHeader
        );
        assert_eq!(
            from_request(header("Sentry sentry_version=7")).unwrap_err(),
            AuthError::BadHeader
        );
        assert_eq!(
            from_request(header("Sentry sentry_key=short")).unwrap_err(),
            AuthError::BadPublicKey
        );
        assert_eq!(
            from_request(header(
                "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=8"
            ))
            .unwrap_err(),
            AuthError::UnsupportedVersion("8".into())
        );
        assert_eq!(from_request(AuthSources::default()).unwrap(), None);
    }

    #[test]
    fn envelope_dsn_authenticates_alone_or_must_agree() {
        let auth = merge_envelope_dsn(None, Some(KEY)).unwrap();
        assert_eq!(auth.public_key, KEY);
        assert_eq!(merge_envelope_dsn(None, None), Err(AuthError::Missing));
        let request = ClientAuth {
            public_key: KEY.into(),
            version: Some(7),
            client: None,
        };
        assert_eq!(
            merge_envelope_dsn(
                Some(request.clone()),
                Some("ffffffffffffffffffffffffffffffff")
            ),
            Err(AuthError::Conflicting)
        );
        assert_eq!(
            merge_envelope_dsn(Some(request.clone()), Some(KEY)),
            Ok(request)
        );
    }

    #[test]
    fn key_with_relay_flag_suffix() {
        assert_eq!(
            normalize_key("0123456789abcdef0123456789abcdef.no-cache"),
            Ok(KEY)
        );
    }
}
