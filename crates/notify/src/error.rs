//! Why a mail was not sent.
//!
//! Each variant names the failing step. The server appears as `scheme://host:port` and the
//! server's own reply is quoted; the password never appears (lettre's errors do not carry it,
//! and the URL is never formatted). [`MailError::is_retryable`] tells a caller whether trying
//! the same mail later may succeed.

use std::error::Error as _;
use std::time::Duration;

use lettre::transport::smtp;

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// `[mail]` is unusable: a bad URL or `from`, or TLS could not be set up.
    #[error("invalid mail configuration: {0}")]
    Config(String),
    /// The recipient is not an e-mail address.
    #[error("invalid recipient address {address:?}: {reason}")]
    InvalidRecipient {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The message could not be assembled.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The server could not be reached, or the connection broke.
    #[error("cannot connect to the SMTP server {server}: {detail}")]
    Connection {
        /// `scheme://host:port`.
        server: String,
        /// The network error.
        detail: String,
    },
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS with the SMTP server {server} failed: {detail}")]
    Tls {
        /// `scheme://host:port`.
        server: String,
        /// The TLS error.
        detail: String,
    },
    /// The server refused the login (or demands one and none is configured).
    #[error("the SMTP server {server} refused the login: {detail}")]
    Auth {
        /// `scheme://host:port`.
        server: String,
        /// The server's reply.
        detail: String,
    },
    /// The server refused the sender, the recipient or the message.
    #[error("the SMTP server {server} rejected the mail to {to}: {detail}")]
    Rejected {
        /// `scheme://host:port`.
        server: String,
        /// The recipient.
        to: String,
        /// The server's reply, with its code.
        detail: String,
        /// A 5xx reply: the same mail will be refused again.
        permanent: bool,
    },
    /// The server did not answer in time.
    #[error("the SMTP server {server} did not answer within {limit:?}")]
    Timeout {
        /// `scheme://host:port`.
        server: String,
        /// The limit that passed.
        limit: Duration,
    },
    /// Any other failure of the SMTP dialogue (an unexpected reply, no usable login mechanism).
    #[error("SMTP with {server} failed: {detail}")]
    Smtp {
        /// `scheme://host:port`.
        server: String,
        /// What happened.
        detail: String,
    },
}

/// SMTP replies about authentication (RFC 4954): required, too weak, invalid, needs encryption.
const AUTH_CODES: [u16; 4] = [530, 534, 535, 538];

impl MailError {
    /// Whether the same mail may go through later (network trouble, a 4xx reply). Errors of
    /// configuration, of the mail itself or a permanent refusal are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            MailError::Connection { .. } | MailError::Timeout { .. } | MailError::Smtp { .. } => {
                true
            }
            MailError::Rejected { permanent, .. } => !permanent,
            MailError::Config(_)
            | MailError::InvalidRecipient { .. }
            | MailError::Build(_)
            | MailError::Tls { .. }
            | MailError::Auth { .. } => false,
        }
    }

    /// Sorts a lettre error into the step that failed.
    pub(crate) fn from_smtp(server: &str, to: &str, error: &smtp::Error) -> MailError {
        let server = server.to_owned();
        let detail = error.to_string();
        if error.is_timeout() {
            return MailError::Timeout {
                server,
                limit: crate::STEP_TIMEOUT,
            };
        }
        if let Some(code) = error.status() {
            let number = code_number(&code);
            if AUTH_CODES.contains(&number) {
                return MailError::Auth { server, detail };
            }
            return MailError::Rejected {
                server,
                to: to.to_owned(),
                detail,
                permanent: error.is_permanent(),
            };
        }
        if error.is_tls() || is_tls_handshake(error) {
            return MailError::Tls { server, detail };
        }
        if error.is_response() || error.is_client() {
            return MailError::Smtp { server, detail };
        }
        // What is left are lettre's connection and network errors (and a shut-down pool).
        MailError::Connection { server, detail }
    }
}

/// The reply code as a number (lettre keeps its three digits apart).
fn code_number(code: &smtp::response::Code) -> u16 {
    code.to_string().parse().unwrap_or(0)
}

/// lettre reports a failed handshake as a connection error around rustls' error, which tokio's
/// TLS stream hands over as an I/O error of kind `InvalidData`; plain TCP never produces that.
fn is_tls_handshake(error: &smtp::Error) -> bool {
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::InvalidData;
        }
        source = e.source();
    }
    false
}
