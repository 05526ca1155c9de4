//! Values that must not be printed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const REDACTED: &str = "********";

/// A secret string (password, key). `Debug` and serialization show `********`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        scalar_string(deserializer).map(Secret)
    }
}

/// Environment values like `123456` arrive as numbers; a secret is still text.
fn scalar_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(s) => s,
        Scalar::Int(n) => n.to_string(),
        Scalar::Float(n) => n.to_string(),
        Scalar::Bool(b) => b.to_string(),
    })
}

/// A URL whose password (the `user:password@` part) is a secret: `Debug` and serialization
/// show it as `********`. The one redaction behind [`DatabaseUrl`] and the mail URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> SecretUrl {
        SecretUrl(url.into())
    }

    /// The URL itself, password included.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with the password (if any) replaced by `********`.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
            return url.clone();
        };
        let rest = &url[scheme_end..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let Some(at) = rest[..authority_end].rfind('@') else {
            return url.clone();
        };
        match rest[..at].find(':') {
            Some(colon) => format!(
                "{}{}:{REDACTED}{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            ),
            None => url.clone(),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretUrl)
    }
}

/// A database URL; its password is redacted when printed.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct DatabaseUrl(SecretUrl);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(SecretUrl::new(url))
    }

    /// The URL itself, password included.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Whether this is a PostgreSQL URL.
    pub fn is_postgres(&self) -> bool {
        let url = self.expose();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// The URL with the password (if any) replaced by `********`.
    pub fn redacted(&self) -> String {
        self.0.redacted()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_only_the_password() {
        let cases = [
            (
                "postgres://u:p@h:5432/db",
                "postgres://u:********@h:5432/db",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db?user=x", "postgres://h/db?user=x"),
            ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
            ("postgres://u:p%40ss@h/db", "postgres://u:********@h/db"),
            ("smtp://u:p@mail:587", "smtp://u:********@mail:587"),
            ("smtps://p@mail", "smtps://p@mail"),
        ];
        for (url, expected) in cases {
            assert_eq!(DatabaseUrl::new(url).redacted(), expected);
        }
        assert_eq!(format!("{:?}", Secret::new("x")), "********");
        assert_eq!(
            format!("{:?}", DatabaseUrl::new("postgres://u:p@h/db")),
            "postgres://u:********@h/db"
        );
    }
}
