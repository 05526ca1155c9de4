//! A real SMTP server on loopback: `tests/mail/smtp_sink.py` (aiosmtpd) run by the Python in
//! `SDK_PYTHON` (the test script's virtualenv, which has aiosmtpd from
//! `tests/sdk/python/requirements.txt`).
//!
//! The sink writes every accepted message as a JSON file into a temporary directory;
//! [`SmtpSink::next_mail`] waits (bounded) for the next one and returns its envelope, login,
//! headers and MIME parts as Python's `email` package decoded them.
//!
//! With TLS, each sink makes its own CA and a certificate it signed for 127.0.0.1 and
//! localhost: a client that trusts [`SmtpSink::ca_file`] connects, any other fails verification.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sdk::repo_root;

/// How long [`SmtpSink::next_mail`] waits by default.
pub const MAIL_WAIT: Duration = Duration::from_secs(10);

/// TLS offered by the sink, with a certificate from the sink's own CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkTls {
    /// STARTTLS is advertised; a client may stay plain.
    StartTls,
    /// STARTTLS before anything else (530 to MAIL, 538 to AUTH before it), as on a submission
    /// port, so a mail that arrives was encrypted and so was the login.
    RequiredStartTls,
    /// TLS from the first byte (`smtps`).
    Implicit,
}

/// The sink's CA and the server certificate it signed, in `dir`.
struct SinkCertificates {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl SinkCertificates {
    /// A new CA, and a certificate from it for 127.0.0.1 and localhost (rcgen's default
    /// validity, 1975 to 4096), written to `dir` as PEM.
    fn make(dir: &Path) -> SinkCertificates {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name
            .push(DnType::CommonName, "Errhound test SMTP sink CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

        let mut server =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "sink.errhound.test");
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.use_authority_key_identifier_extension = true;
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server.signed_by(&server_key, &ca).unwrap();

        let files = SinkCertificates {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        };
        std::fs::write(&files.ca, ca.pem()).unwrap();
        std::fs::write(&files.cert, server_cert.pem()).unwrap();
        std::fs::write(&files.key, server_key.serialize_pem()).unwrap();
        files
    }
}

/// How to start a sink.
#[derive(Debug, Clone, Default)]
pub struct SmtpSinkOptions {
    /// Require AUTH (PLAIN or LOGIN) with this user and password; without TLS unless
    /// [`SinkTls::RequiredStartTls`].
    pub user: Option<(String, String)>,
    /// Recipients refused with `550` at `RCPT TO`.
    pub reject: Vec<String>,
    /// TLS to offer.
    pub tls: Option<SinkTls>,
}

/// One MIME part of a received mail.
#[derive(Debug, Clone)]
pub struct MailPart {
    /// `text/plain`, `text/html`, ...
    pub content_type: String,
    /// The decoded content.
    pub text: String,
}

/// A mail as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// `MAIL FROM`.
    pub mail_from: String,
    /// `RCPT TO` addresses accepted.
    pub rcpt_tos: Vec<String>,
    /// The user that logged in, if any.
    pub login: Option<String>,
    /// Whether the session was encrypted.
    pub tls: bool,
    /// The top-level content type (`multipart/alternative`, `text/plain`).
    pub content_type: String,
    /// Headers in order, decoded (RFC 2047 words become Unicode).
    pub headers: Vec<(String, String)>,
    /// The leaf parts, in order.
    pub parts: Vec<MailPart>,
}

impl ReceivedMail {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The text of the first part of this content type.
    pub fn part(&self, content_type: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|p| p.content_type == content_type)
            .map(|p| p.text.as_str())
    }

    fn from_json(value: &Value) -> ReceivedMail {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
        ReceivedMail {
            mail_from: text(&value["mail_from"]),
            rcpt_tos: list(&value["rcpt_tos"]).iter().map(text).collect(),
            login: value["login"].as_str().map(str::to_owned),
            tls: value["tls"].as_bool().unwrap_or(false),
            content_type: text(&value["content_type"]),
            headers: list(&value["headers"])
                .iter()
                .map(|h| (text(&h[0]), text(&h[1])))
                .collect(),
            parts: list(&value["parts"])
                .iter()
                .map(|p| MailPart {
                    content_type: text(&p["content_type"]),
                    text: text(&p["text"]),
                })
                .collect(),
        }
    }
}

/// The Python to run the sink with: `SDK_PYTHON`, else the test script's virtualenv when it
/// exists. `None` means the mail tests cannot run here (they say so and skip).
pub fn sink_python() -> Option<String> {
    if let Ok(python) = std::env::var("SDK_PYTHON") {
        return Some(python);
    }
    let venv = repo_root().join("target/sdk-venv/bin/python");
    venv.exists().then(|| venv.display().to_string())
}

/// A running SMTP sink; stopped when dropped.
pub struct SmtpSink {
    port: u16,
    options: SmtpSinkOptions,
    dir: tempfile::TempDir,
    /// The CA of the sink's certificate, with TLS.
    ca_file: Option<PathBuf>,
    /// Holds the certificates, apart from the mails in `dir`.
    _tls_dir: tempfile::TempDir,
    received: usize,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl SmtpSink {
    /// Starts a sink, or returns `None` (printing why) when no Python is configured.
    pub fn start(options: SmtpSinkOptions) -> Option<SmtpSink> {
        let Some(python) = sink_python() else {
            eprintln!(
                "skipped: SDK_PYTHON is not set (run the tests through scripts/test.sh, which \
                 installs aiosmtpd into target/sdk-venv)"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mail_dir = repo_root().join("tests/mail");
        let mut command = Command::new(&python);
        command.arg(mail_dir.join("smtp_sink.py")).arg(dir.path());
        if let Some((user, password)) = &options.user {
            command.arg("--user").arg(format!("{user}:{password}"));
        }
        for address in &options.reject {
            command.arg("--reject").arg(address);
        }
        let tls_dir = tempfile::tempdir().expect("a temporary directory");
        let mut ca_file = None;
        if let Some(tls) = options.tls {
            let certificates = SinkCertificates::make(tls_dir.path());
            command
                .arg("--tls-cert")
                .arg(&certificates.cert)
                .arg(&certificates.key);
            match tls {
                SinkTls::StartTls => {}
                SinkTls::RequiredStartTls => {
                    command.arg("--require-starttls");
                }
                SinkTls::Implicit => {
                    command.arg("--implicit-tls");
                }
            }
            ca_file = Some(certificates.ca);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let port = match lines_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line
                .strip_prefix("PORT ")
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or_else(|| panic!("the SMTP sink printed {line:?}, not its port")),
            Err(_) => {
                let _ = child.kill();
                panic!("the SMTP sink ({python} tests/mail/smtp_sink.py) did not start within 30 s")
            }
        };
        Some(SmtpSink {
            port,
            options,
            dir,
            ca_file,
            _tls_dir: tls_dir,
            received: 0,
            child,
            stdin,
        })
    }

    /// The directory the sink stores mails in (`000001.json`, `000002.json`, ...), for browser
    /// tests that read them themselves.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM file of the CA that signed the sink's certificate (a `mail.ca_file`); `None`
    /// without TLS.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// A `[mail] url` for this sink with `scheme` (`smtp`, `smtps`, `smtp+plain`), carrying the
    /// sink's user and password when it requires a login.
    pub fn url(&self, scheme: &str) -> String {
        let login = match &self.options.user {
            Some((user, password)) => format!("{user}:{password}@"),
            None => String::new(),
        };
        format!("{scheme}://{login}127.0.0.1:{}", self.port)
    }

    fn path(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("{n:06}.json"))
    }

    /// How many mails the sink has stored so far.
    pub fn count(&self) -> usize {
        (1..).take_while(|n| self.path(*n).exists()).count()
    }

    /// Every mail not read yet, once no new one has arrived for `quiet` (a bounded wait for
    /// "nothing more").
    pub async fn drain(&mut self, quiet: Duration) -> Vec<ReceivedMail> {
        let mut seen = self.count();
        loop {
            tokio::time::sleep(quiet).await;
            let now = self.count();
            if now == seen {
                break;
            }
            seen = now;
        }
        let mut out = Vec::new();
        while self.received < seen {
            out.push(self.next_mail(quiet).await);
        }
        out
    }

    /// Waits up to `timeout` for the next mail; panics when none arrives.
    pub async fn next_mail(&mut self, timeout: Duration) -> ReceivedMail {
        let path = self.path(self.received + 1);
        let deadline = Instant::now() + timeout;
        while !path.exists() {
            assert!(
                Instant::now() < deadline,
                "no mail {} reached the SMTP sink within {timeout:?}",
                self.received + 1
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.received += 1;
        let text = std::fs::read_to_string(&path).expect("a readable mail file");
        ReceivedMail::from_json(&serde_json::from_str(&text).expect("a JSON mail file"))
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Closing stdin ends the sink; kill it as well in case it hangs.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
