//! The mailer: lettre over the SMTP server of `[mail]`, pooled connections, rustls verifying
//! the server's certificate against the system's roots and those of `mail.ca_file`.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use errhound_config::{MailConfig, SmtpSecurity, SmtpServer};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::error::MailError;

/// Limit on each network step (connecting, and every read or write of the SMTP dialogue), so an
/// unresponsive server fails a send instead of holding it.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Limit on a whole send, which bounds a server that answers, slowly, forever.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Open connections kept for later mails.
const POOL_SIZE: u32 = 4;

/// Headers of a notification mail beyond From, To, Subject and Date. Values are whole header
/// values (`<id@host>` with its brackets); they are built by Errhound, not taken from events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailHeaders {
    /// `Message-ID`; `None` lets lettre make a random one.
    pub message_id: Option<String>,
    /// `In-Reply-To`: the message this one follows in its thread.
    pub in_reply_to: Option<String>,
    /// `References`: the thread's earlier messages.
    pub references: Option<String>,
    /// `List-Id` (RFC 2919): `"Name" <label.example.com>`, so filters can sort the mails.
    pub list_id: Option<String>,
    /// `Auto-Submitted: auto-generated` (RFC 3834), so vacation responders stay quiet.
    pub auto_generated: bool,
}

/// `List-Id`, which lettre has no type for.
#[derive(Debug, Clone)]
struct ListId(String);

impl Header for ListId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Id")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListId(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `Auto-Submitted: auto-generated`.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// One e-mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient: `user@example.com` or `Name <user@example.com>`.
    pub to: String,
    /// The subject line (any Unicode; encoded as RFC 2047 when needed).
    pub subject: String,
    /// The plain-text body, always sent.
    pub text: String,
    /// An HTML body; when given, the mail is `multipart/alternative` with both.
    pub html: Option<String>,
}

/// Sends mail through the configured SMTP server. Clones share the connection pool.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `scheme://host:port`, for errors and logs.
    server: String,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `[mail]`, or `None` when mail is not configured. Fails on an invalid URL or
    /// `from`. Must run inside the tokio runtime (the pool starts its clean-up task at once);
    /// nothing connects until the first send.
    pub fn from_config(config: &MailConfig) -> Result<Option<Mailer>, MailError> {
        let Some(server) = config.server().map_err(MailError::Config)? else {
            return Ok(None);
        };
        let from_text = config.from.as_deref().unwrap_or_default().trim();
        let from: Mailbox = from_text.parse().map_err(|e| {
            MailError::Config(format!(
                "mail.from {from_text:?} is not a mailbox like \"Errhound <errhound@example.com>\": {e}"
            ))
        })?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(MailError::Config(
                "the mailer must be created inside the tokio runtime".to_owned(),
            ));
        }
        let transport = transport(&server)?;
        Ok(Some(Mailer {
            transport,
            from,
            server: server.describe(),
        }))
    }

    /// The server as `scheme://host:port` (no credentials), for logs and the UI.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The sender every mail is sent from.
    pub fn from_address(&self) -> String {
        self.from.to_string()
    }

    /// Sends one mail; returns once the server has accepted it.
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        self.send_with(mail, &MailHeaders::default()).await
    }

    /// Sends one mail with the threading and list `headers` of a notification.
    pub async fn send_with(&self, mail: &Mail, headers: &MailHeaders) -> Result<(), MailError> {
        let message = self.message(mail, headers)?;
        let sent = tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await;
        match sent {
            Ok(Ok(_response)) => {
                tracing::debug!(mail.server = %self.server, mail.to = %mail.to, "mail sent");
                Ok(())
            }
            Ok(Err(e)) => Err(MailError::from_smtp(&self.server, &mail.to, &e)),
            Err(_elapsed) => Err(MailError::Timeout {
                server: self.server.clone(),
                limit: SEND_TIMEOUT,
            }),
        }
    }

    fn message(&self, mail: &Mail, headers: &MailHeaders) -> Result<Message, MailError> {
        let to: Mailbox = mail
            .to
            .trim()
            .parse()
            .map_err(
                |e: lettre::address::AddressError| MailError::InvalidRecipient {
                    address: mail.to.clone(),
                    reason: e.to_string(),
                },
            )?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .message_id(headers.message_id.clone());
        if let Some(parent) = &headers.in_reply_to {
            builder = builder.in_reply_to(parent.clone());
        }
        if let Some(references) = &headers.references {
            builder = builder.references(references.clone());
        }
        if let Some(list_id) = &headers.list_id {
            builder = builder.header(ListId(list_id.clone()));
        }
        if headers.auto_generated {
            builder = builder.header(AutoSubmitted);
        }
        let built = match &mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            )),
            None => builder.singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.text.clone()),
            ),
        };
        built.map_err(|e| MailError::Build(e.to_string()))
    }
}

/// The CA certificates of `mail.ca_file` at `path`.
fn extra_roots(path: &Path) -> Result<Certificate, MailError> {
    let unusable = |why: String| {
        MailError::Config(format!(
            "mail.ca_file {} cannot be used: {why}",
            path.display()
        ))
    };
    let pem = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
    // lettre takes a file without any certificate as an empty list, which would trust nothing
    // more while looking configured.
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(unusable("it holds no PEM certificate".to_owned()));
    }
    Certificate::from_pem(&pem).map_err(|e| unusable(e.to_string()))
}

/// The lettre transport for `server`.
fn transport(server: &SmtpServer) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let roots = server.ca_file.as_deref().map(extra_roots).transpose()?;
    let tls_parameters = || {
        let mut builder = TlsParameters::builder(server.host.clone());
        if let Some(roots) = &roots {
            builder = builder.add_root_certificate(roots.clone());
        }
        builder.build().map_err(|e| {
            MailError::Config(format!("cannot set up TLS for {}: {e}", server.describe()))
        })
    };
    let tls = match server.security {
        SmtpSecurity::StartTlsIfOffered => Tls::Opportunistic(tls_parameters()?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        SmtpSecurity::Plain => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
        .port(server.port)
        .tls(tls)
        .timeout(Some(STEP_TIMEOUT))
        .pool_config(PoolConfig::new().max_size(POOL_SIZE));
    if let Some(credentials) = &server.credentials {
        builder = builder.credentials(Credentials::new(
            credentials.user.clone(),
            credentials.password.expose().to_owned(),
        ));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use errhound_config::SecretUrl;

    use super::*;

    fn config(url: &str, from: &str) -> MailConfig {
        MailConfig {
            url: Some(SecretUrl::new(url)),
            from: Some(from.to_owned()),
            ca_file: None,
        }
    }

    #[tokio::test]
    async fn unconfigured_mail_is_none() {
        assert!(
            Mailer::from_config(&MailConfig::default())
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn every_scheme_builds_and_debug_hides_the_password() {
        for url in [
            "smtp://u:hunter2@mail.example.com:587",
            "smtps://u:hunter2@mail.example.com",
            "smtp+plain://u:hunter2@127.0.0.1",
        ] {
            let mailer = Mailer::from_config(&config(url, "Errhound <errhound@example.com>"))
                .unwrap()
                .unwrap();
            let debug = format!("{mailer:?}");
            assert!(!debug.contains("hunter2"), "{debug}");
            assert!(debug.contains(mailer.server()), "{debug}");
        }
    }

    #[tokio::test]
    async fn a_bad_from_or_recipient_is_named() {
        let err = Mailer::from_config(&config("smtp://mail", "not a mailbox")).unwrap_err();
        assert!(
            matches!(&err, MailError::Config(m) if m.contains("mail.from")),
            "{err}"
        );
        let mailer = Mailer::from_config(&config("smtp://mail", "errhound@example.com"))
            .unwrap()
            .unwrap();
        let err = mailer
            .send(&Mail {
                to: "nobody".to_owned(),
                subject: "s".to_owned(),
                text: "t".to_owned(),
                html: None,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::InvalidRecipient { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_ca_file_that_is_missing_or_holds_no_certificate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for path in [dir.path().join("missing.pem"), empty] {
            let err = Mailer::from_config(&MailConfig {
                ca_file: Some(path.clone()),
                ..config("smtp://mail", "e@example.com")
            })
            .unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, MailError::Config(_)) && text.contains(&path.display().to_string()),
                "{text}"
            );
        }
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let err = Mailer::from_config(&config("smtp://mail", "e@example.com")).unwrap_err();
        assert!(err.to_string().contains("runtime"), "{err}");
    }
}
