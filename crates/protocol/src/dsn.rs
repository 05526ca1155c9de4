//! The DSN: `{scheme}://{public_key}[:{secret}]@{host}[:{port}]{path}/{project_id}`.
//!
//! The server prints DSNs for its keys and reads the optional `dsn` envelope header that relay-era
//! clients may send instead of other auth.

use std::fmt;

/// A parsed DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// `http` or `https`.
    pub scheme: String,
    /// The public key (the DSN's user name).
    pub public_key: String,
    /// The deprecated secret key, if the DSN carries one.
    pub secret_key: Option<String>,
    /// Host name or address, without the port.
    pub host: String,
    /// The port, when not the scheme's default.
    pub port: Option<u16>,
    /// Path prefix before the project id, without a trailing slash (`""` or `/sub/path`).
    pub path: String,
    /// The numeric project id (last path segment).
    pub project_id: u64,
}

/// Why a DSN did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    /// Not `http://` or `https://`.
    #[error("DSN scheme must be http or https")]
    BadScheme,
    /// No `key@` part.
    #[error("DSN has no public key")]
    MissingKey,
    /// Missing or non-numeric project id.
    #[error("DSN has no numeric project id")]
    BadProjectId,
    /// Empty host or unparsable port.
    #[error("DSN host or port is invalid")]
    BadHost,
}

impl Dsn {
    /// Parses a DSN the way the SDKs do (lenient about the path prefix, strict about scheme and id).
    pub fn parse(text: &str) -> Result<Dsn, DsnError> {
        let (scheme, rest) = text.trim().split_once("://").ok_or(DsnError::BadScheme)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(DsnError::BadScheme);
        }
        let (userinfo, rest) = rest.split_once('@').ok_or(DsnError::MissingKey)?;
        let (public_key, secret_key) = match userinfo.split_once(':') {
            Some((key, secret)) => (key, Some(secret.to_owned()).filter(|s| !s.is_empty())),
            None => (userinfo, None),
        };
        if public_key.is_empty() {
            return Err(DsnError::MissingKey);
        }
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(authority)?;
        let path = path.trim_end_matches('/');
        let (prefix, project) = path.rsplit_once('/').ok_or(DsnError::BadProjectId)?;
        let project_id = project.parse::<u64>().map_err(|_| DsnError::BadProjectId)?;
        Ok(Dsn {
            scheme,
            public_key: public_key.to_owned(),
            secret_key,
            host,
            port,
            path: prefix.to_owned(),
            project_id,
        })
    }
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), DsnError> {
    if authority.is_empty() {
        return Err(DsnError::BadHost);
    }
    // Bracketed IPv6 literal: `[::1]:9000`.
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(DsnError::BadHost)?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port.parse().map_err(|_| DsnError::BadHost)?),
            None if after.is_empty() => None,
            None => return Err(DsnError::BadHost),
        };
        return Ok((format!("[{host}]"), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            if host.is_empty() {
                return Err(DsnError::BadHost);
            }
            let port = port.parse().map_err(|_| DsnError::BadHost)?;
            Ok((host.to_owned(), Some(port)))
        }
        None => Ok((authority.to_owned(), None)),
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.public_key)?;
        if let Some(secret) = &self.secret_key {
            write!(f, ":{secret}")?;
        }
        write!(f, "@{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}/{}", self.path, self.project_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_dsn_the_captures_used() {
        let dsn = Dsn::parse("http://0123456789abcdef0123456789abcdef@127.0.0.1:8911/sub/path/42")
            .unwrap();
        assert_eq!(dsn.public_key, "0123456789abcdef0123456789abcdef");
        assert_eq!(dsn.host, "127.0.0.1");
        assert_eq!(dsn.port, Some(8911));
        assert_eq!(dsn.path, "/sub/path");
        assert_eq!(dsn.project_id, 42);
        assert_eq!(
            dsn.to_string(),
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:8911/sub/path/42"
        );
    }

    #[test]
    fn keeps_a_secret_and_ipv6_hosts() {
        let dsn = Dsn::parse("https://pub:sec@[::1]:9000/7").unwrap();
        assert_eq!(dsn.secret_key.as_deref(), Some("sec"));
        assert_eq!(dsn.host, "[::1]");
        assert_eq!(dsn.to_string(), "https://pub:sec@[::1]:9000/7");
    }

    #[test]
    fn rejects_what_the_sdks_reject() {
        assert_eq!(Dsn::parse("ftp://k@h/1"), Err(DsnError::BadScheme));
        assert_eq!(Dsn::parse("http://h/1"), Err(DsnError::MissingKey));
        assert_eq!(Dsn::parse("http://k@h/abc"), Err(DsnError::BadProjectId));
        assert_eq!(Dsn::parse("http://k@h"), Err(DsnError::BadProjectId));
        assert_eq!(Dsn::parse("http://k@:1/1"), Err(DsnError::BadHost));
    }
}
