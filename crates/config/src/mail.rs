//! The `[mail]` section: the SMTP server Errhound sends e-mail through.
//!
//! The URL is parsed here, once, into an [`SmtpServer`]; `Config::validate` does it at start-up,
//! so a bad scheme is a configuration error before anything runs. Error messages never include
//! the URL itself, which holds the password.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::secret::{Secret, SecretUrl};

/// Outgoing e-mail. Without `url`, mail is not configured: nothing is sent and the UI says so.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The SMTP server. `smtp://user:password@host:port` uses STARTTLS when the server offers
    /// it (plain text when it does not); `smtps://...` speaks TLS from the first byte (default
    /// port 465); `smtp+plain://...` never uses TLS (for a relay on the same machine). Default
    /// port 25 for `smtp` and `smtp+plain`: write `:587` for a submission port. User and password
    /// are optional and percent-encoded (`p%40ss` for `p@ss`); the password never appears in
    /// logs or `errhound config print`. Unset: mail is not configured. Env `ERRHOUND_MAIL__URL`.
    pub url: Option<SecretUrl>,
    /// The sender of every mail, an RFC 5322 mailbox such as `Errhound <errhound@example.com>`.
    /// Required with `url`. Env `ERRHOUND_MAIL__FROM`.
    pub from: Option<String>,
    /// A PEM file of CA certificates trusted for the SMTP server's certificate, besides the
    /// system's roots: for a server whose certificate comes from a private CA. Read at start-up;
    /// only for `smtp://` and `smtps://` (`smtp+plain://` has no TLS to verify). Default unset.
    /// Env `ERRHOUND_MAIL__CA_FILE`.
    pub ca_file: Option<PathBuf>,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: upgrade with STARTTLS when the server offers it, else stay plain.
    StartTlsIfOffered,
    /// `smtps://`: TLS from the first byte (implicit TLS).
    Tls,
    /// `smtp+plain://`: never TLS.
    Plain,
}

impl SmtpSecurity {
    /// The URL scheme.
    pub const fn scheme(self) -> &'static str {
        match self {
            SmtpSecurity::StartTlsIfOffered => "smtp",
            SmtpSecurity::Tls => "smtps",
            SmtpSecurity::Plain => "smtp+plain",
        }
    }

    /// The port used when the URL names none.
    pub const fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::StartTlsIfOffered | SmtpSecurity::Plain => 25,
        }
    }

    fn from_scheme(scheme: &str) -> Option<SmtpSecurity> {
        [
            SmtpSecurity::StartTlsIfOffered,
            SmtpSecurity::Tls,
            SmtpSecurity::Plain,
        ]
        .into_iter()
        .find(|s| s.scheme() == scheme)
    }
}

/// The SMTP server of `mail.url`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    /// TLS mode.
    pub security: SmtpSecurity,
    /// Host name or IP address (without brackets); also the name the TLS certificate must carry.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User and password for SMTP AUTH, when the URL has them.
    pub credentials: Option<SmtpCredentials>,
    /// Extra trusted CA certificates (`mail.ca_file`), only with TLS.
    pub ca_file: Option<PathBuf>,
}

impl SmtpServer {
    /// `scheme://host:port`, for logs and errors (never the credentials).
    pub fn describe(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{host}:{}", self.security.scheme(), self.port)
    }
}

/// SMTP AUTH credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    /// User name, percent-decoded.
    pub user: String,
    /// Password, percent-decoded.
    pub password: Secret,
}

impl MailConfig {
    /// Whether mail is configured (`url` is set).
    pub fn is_configured(&self) -> bool {
        self.url.is_some()
    }

    /// The parsed server, `None` when mail is not configured. The error says what is wrong
    /// without repeating the URL.
    pub fn server(&self) -> Result<Option<SmtpServer>, String> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        let mut server = parse_url(url.expose())?;
        if self.ca_file.is_some() && server.security == SmtpSecurity::Plain {
            return Err(
                "mail.ca_file is for TLS, and smtp+plain:// never uses it: use smtp:// or \
                 smtps://, or unset mail.ca_file"
                    .to_owned(),
            );
        }
        server.ca_file.clone_from(&self.ca_file);
        match self.from.as_deref().map(str::trim) {
            None | Some("") => Err(
                "mail.from is required when mail.url is set, e.g. \"Errhound <errhound@example.com>\""
                    .to_owned(),
            ),
            Some(_) => Ok(Some(server)),
        }
    }
}

fn parse_url(text: &str) -> Result<SmtpServer, String> {
    const SCHEMES: &str = "smtp://, smtps:// or smtp+plain://";
    let scheme = text.split_once("://").map(|(scheme, _)| scheme);
    let Some(security) = scheme.and_then(SmtpSecurity::from_scheme) else {
        return Err(match scheme {
            Some(scheme) => format!("mail.url must start with {SCHEMES}, not {scheme}://"),
            None => format!("mail.url must start with {SCHEMES}"),
        });
    };
    let url = url::Url::parse(text).map_err(|e| format!("mail.url is not a valid URL: {e}"))?;
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => String::new(),
    };
    if host.is_empty() {
        return Err("mail.url has no host".to_owned());
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(
            "mail.url takes no path, query or fragment: scheme://user:password@host:port"
                .to_owned(),
        );
    }
    let decode = |part: &str, what: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| format!("mail.url: the {what} is not UTF-8 once percent-decoded"))
    };
    let user = decode(url.username(), "user")?;
    let credentials = match url.password() {
        Some(password) => Some(SmtpCredentials {
            user,
            password: Secret::new(decode(password, "password")?),
        }),
        None if user.is_empty() => None,
        None => return Err("mail.url has a user but no password: user:password@host".to_owned()),
    };
    Ok(SmtpServer {
        security,
        host,
        port: url.port().unwrap_or(security.default_port()),
        credentials,
        ca_file: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &str) -> Result<Option<SmtpServer>, String> {
        MailConfig {
            url: Some(SecretUrl::new(url)),
            from: Some("Errhound <errhound@example.com>".to_owned()),
            ca_file: None,
        }
        .server()
    }

    #[test]
    fn schemes_ports_and_credentials() {
        let s = server("smtp://mail.example.com").unwrap().unwrap();
        assert_eq!(s.security, SmtpSecurity::StartTlsIfOffered);
        assert_eq!((s.host.as_str(), s.port), ("mail.example.com", 25));
        assert_eq!(s.credentials, None);

        let s = server("smtps://u:p%40ss%3A1@mail.example.com")
            .unwrap()
            .unwrap();
        assert_eq!((s.security, s.port), (SmtpSecurity::Tls, 465));
        let credentials = s.credentials.unwrap();
        assert_eq!(credentials.user, "u");
        assert_eq!(credentials.password.expose(), "p@ss:1");

        let s = server("smtp+plain://relay:2525/").unwrap().unwrap();
        assert_eq!((s.security, s.port), (SmtpSecurity::Plain, 2525));
        assert_eq!(s.describe(), "smtp+plain://relay:2525");

        let s = server("smtp+plain://[::1]").unwrap().unwrap();
        assert_eq!((s.host.as_str(), s.port), ("::1", 25));
        assert_eq!(s.describe(), "smtp+plain://[::1]:25");

        let s = server("smtp://user%2Bx:pw@127.0.0.1:587").unwrap().unwrap();
        assert_eq!(s.port, 587);
        assert_eq!(s.credentials.unwrap().user, "user+x");
    }

    #[test]
    fn bad_urls_are_named_without_the_password() {
        for (url, expected) in [
            ("http://u:hunter2@mail", "not http://"),
            ("mail.example.com:25", "must start with"),
            ("smtp://u:hunter2@", "host"),
            ("smtp://", "host"),
            ("smtp://u:hunter2@mail:99999", "not a valid URL"),
            ("smtp://u:hunter2@mail/inbox", "no path"),
            ("smtp://u:hunter2@mail?tls=required", "no path"),
            ("smtp://u@mail", "no password"),
        ] {
            let err = server(url).unwrap_err();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{url}: {err}");
        }
    }

    #[test]
    fn from_is_required_and_unset_url_is_unconfigured() {
        let config = MailConfig {
            url: Some(SecretUrl::new("smtp://mail")),
            from: None,
            ca_file: None,
        };
        assert!(config.server().unwrap_err().contains("mail.from"));
        let unset = MailConfig::default();
        assert!(!unset.is_configured());
        assert_eq!(unset.server(), Ok(None));
    }

    #[test]
    fn a_ca_file_goes_with_tls_only() {
        let with_ca = |url: &str| MailConfig {
            url: Some(SecretUrl::new(url)),
            from: Some("errhound@example.com".to_owned()),
            ca_file: Some(PathBuf::from("/etc/errhound/mail-ca.pem")),
        };
        for url in ["smtp://mail", "smtps://mail"] {
            let server = with_ca(url).server().unwrap().unwrap();
            assert_eq!(server.ca_file, with_ca(url).ca_file, "{url}");
        }
        let err = with_ca("smtp+plain://u:hunter2@mail").server().unwrap_err();
        assert!(err.contains("mail.ca_file"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
