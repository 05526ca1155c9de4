//! A real OpenID provider for the single-sign-on tests: `tests/idp/oidc.mjs`, panva's
//! `oidc-provider` on 127.0.0.1, with clients and accounts registered at run time.
//!
//! [`OidcIdp::shared`] uses the IdP named by `TEST_OIDC_ISSUER` (scripts/test.sh starts
//! one per run), or else starts one for this test process with `node tests/idp/oidc.mjs --port 0`;
//! that one exits when the test process does (its stdin is a pipe from us, and it exits when the
//! pipe closes).
//!
//! Tests share the IdP, so each registers its own client ([`OidcIdp::register_client`], with the
//! redirect URI of its own server) and its own accounts ([`OidcIdp::set_account`], an upsert).
//!
//! An authorization request with `login_hint=<account id>` logs that account in and grants consent
//! without a page, so a client that follows redirects (reqwest, with or without a cookie store)
//! goes from the relying party to the IdP and back. Without a hint, `/interaction/<uid>` shows a
//! login form for a browser: `input[name=login]` (the account id), `input[name=password]` (any),
//! `button[type=submit]`, and `a#cancel` to end with `error=access_denied`.
//!
//! The ID token carries `sub`, `email`, `email_verified`, `name` and `groups` for the scopes
//! `openid email profile`. A client's [`Fault`] spoils its ID tokens for the negative tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use serde_json::{Value, json};

use crate::sdk::repo_root;

/// The variable naming a running IdP's issuer (`http://127.0.0.1:PORT`). Not `ERRHOUND_...`:
/// the server reads every such variable as configuration and refuses unknown ones.
pub const ISSUER_VAR: &str = "TEST_OIDC_ISSUER";

/// How long starting the IdP may take.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one control request may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// The algorithm that signs a client's ID tokens (its `id_token_signed_response_alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlg {
    /// RSA with SHA-256.
    #[default]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlg {
    /// The JOSE name: `RS256`, `ES256`, `EdDSA`.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl AuthMethod {
    /// The registered name: `client_secret_basic`, `client_secret_post`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
}

/// What goes wrong with every ID token the token endpoint returns to a client. The token is
/// re-signed after the change, so only the named check fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `nonce` is not the one of the authorization request.
    WrongNonce,
    /// `exp` an hour ago and `iat` two hours ago.
    Expired,
    /// `aud` names another client.
    WrongAudience,
    /// `iss` is not the issuer.
    WrongIssuer,
    /// Signed by a key that was never published, under a new `kid`.
    UnknownKey,
    /// Signed by the published key, with one bit of the signature flipped.
    BadSignature,
}

impl Fault {
    /// The IdP's name for it: `wrong_nonce`, `expired`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::WrongNonce => "wrong_nonce",
            Fault::Expired => "expired",
            Fault::WrongAudience => "wrong_audience",
            Fault::WrongIssuer => "wrong_issuer",
            Fault::UnknownKey => "unknown_key",
            Fault::BadSignature => "bad_signature",
        }
    }
}

/// A client to register: PKCE (S256) is required of it; `response_mode` `query` (the default)
/// and `form_post` both work.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Where the IdP sends the browser back, e.g. `http://127.0.0.1:PORT/auth/sso/`.
    pub redirect_uri: String,
    /// What signs its ID tokens.
    pub alg: SigningAlg,
    /// How it authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// What goes wrong with its ID tokens; `None` for a well-behaved IdP.
    pub fault: Option<Fault>,
}

impl ClientSpec {
    /// An RS256, `client_secret_basic`, fault-free client redirecting to `redirect_uri`.
    pub fn new(redirect_uri: impl Into<String>) -> ClientSpec {
        ClientSpec {
            redirect_uri: redirect_uri.into(),
            alg: SigningAlg::default(),
            auth_method: AuthMethod::default(),
            fault: None,
        }
    }

    /// The same with ID tokens signed by `alg`.
    pub fn alg(mut self, alg: SigningAlg) -> ClientSpec {
        self.alg = alg;
        self
    }

    /// The same authenticating with `auth_method`.
    pub fn auth_method(mut self, auth_method: AuthMethod) -> ClientSpec {
        self.auth_method = auth_method;
        self
    }

    /// The same with `fault` in every ID token.
    pub fn fault(mut self, fault: Fault) -> ClientSpec {
        self.fault = Some(fault);
        self
    }
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Its `client_id`.
    pub id: String,
    /// Its `client_secret`.
    pub secret: String,
}

/// A person at the IdP; their claims are read at each login, so changing them between two logins
/// shows in the second ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account id: the `sub` claim, the `login_hint` and what the login form takes.
    pub id: String,
    /// The `email` claim; `None` leaves it out.
    pub email: Option<String>,
    /// The `email_verified` claim.
    pub email_verified: bool,
    /// The `name` claim; `None` leaves it out.
    pub name: Option<String>,
    /// The `groups` claim.
    pub groups: Vec<String>,
}

impl Account {
    /// An account with a verified `email`, no name and no groups.
    pub fn new(id: impl Into<String>, email: impl Into<String>) -> Account {
        Account {
            id: id.into(),
            email: Some(email.into()),
            email_verified: true,
            name: None,
            groups: Vec::new(),
        }
    }

    /// The same with `name`.
    pub fn name(mut self, name: impl Into<String>) -> Account {
        self.name = Some(name.into());
        self
    }

    /// The same in `groups`.
    pub fn groups<S: Into<String>>(mut self, groups: impl IntoIterator<Item = S>) -> Account {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// The same with `email_verified: false`.
    pub fn unverified(mut self) -> Account {
        self.email_verified = false;
        self
    }
}

/// The `kid`s that sign from now on, after [`OidcIdp::rotate_keys`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedKeys {
    /// The new RS256 key.
    pub rs256: String,
    /// The new ES256 key.
    pub es256: String,
    /// The new Ed25519 key.
    pub eddsa: String,
}

impl RotatedKeys {
    /// The new `kid` for `alg`.
    pub fn kid(&self, alg: SigningAlg) -> &str {
        match alg {
            SigningAlg::Rs256 => &self.rs256,
            SigningAlg::Es256 => &self.es256,
            SigningAlg::EdDsa => &self.eddsa,
        }
    }
}

/// The IdP this test process started, kept until the process exits.
struct Started {
    issuer: String,
    _child: Child,
    /// Held open: the IdP exits when it closes, that is when this process exits.
    _stdin: ChildStdin,
}

/// A handle on the shared test IdP.
#[derive(Debug, Clone)]
pub struct OidcIdp {
    issuer: String,
    /// Per handle, not process-wide: a reqwest client's connections belong to the runtime that
    /// opened them, and each `#[tokio::test]` has its own.
    http: reqwest::Client,
}

impl OidcIdp {
    /// The IdP at `TEST_OIDC_ISSUER`, or else one started for this test process (the
    /// first call waits for it, up to 30 s). Panics with what to do when it cannot start.
    pub fn shared() -> OidcIdp {
        static STARTED: OnceLock<Started> = OnceLock::new();
        let issuer = match std::env::var(ISSUER_VAR) {
            Ok(issuer) if !issuer.is_empty() => issuer.trim_end_matches('/').to_owned(),
            _ => STARTED.get_or_init(start).issuer.clone(),
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(CONTROL_TIMEOUT)
            .build()
            .unwrap();
        OidcIdp { issuer, http }
    }

    /// The issuer, `http://127.0.0.1:PORT` (discovery is at
    /// `{issuer}/.well-known/openid-configuration`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Registers a client and returns its id and secret.
    pub async fn register_client(&self, spec: &ClientSpec) -> Client {
        let body = self
            .control(
                "clients",
                json!({
                    "redirect_uri": spec.redirect_uri,
                    "alg": spec.alg.as_str(),
                    "auth_method": spec.auth_method.as_str(),
                    "fault": spec.fault.map(Fault::as_str),
                }),
            )
            .await;
        Client {
            id: text(&body, "client_id"),
            secret: text(&body, "client_secret"),
        }
    }

    /// Creates the account, or replaces its claims.
    pub async fn set_account(&self, account: &Account) {
        self.control(
            "accounts",
            json!({
                "id": account.id,
                "email": account.email,
                "email_verified": account.email_verified,
                "name": account.name,
                "groups": account.groups,
            }),
        )
        .await;
    }

    /// New keys (one per algorithm) sign every client's ID tokens from now on; they join the
    /// JWKS and the old keys stay in it. A relying party with a cached JWKS meets an unknown
    /// `kid` and must fetch the JWKS again. This is IdP-wide: a test running beside it sees new
    /// `kid`s too; [`OidcIdp::rotate_client_key`] keeps it to one client.
    pub async fn rotate_keys(&self) -> RotatedKeys {
        let body = self.control("rotate", json!({})).await;
        let kid = |alg: SigningAlg| text(&body["kids"], alg.as_str());
        RotatedKeys {
            rs256: kid(SigningAlg::Rs256),
            es256: kid(SigningAlg::Es256),
            eddsa: kid(SigningAlg::EdDsa),
        }
    }

    /// A new key of the client's algorithm signs its ID tokens from now on and joins the JWKS;
    /// other clients keep their keys. Returns the new `kid`.
    pub async fn rotate_client_key(&self, client: &Client) -> String {
        let body = self
            .control("rotate", json!({ "client_id": client.id }))
            .await;
        text(&body, "kid")
    }

    async fn control(&self, route: &str, body: Value) -> Value {
        let url = format!("{}/__control/{route}", self.issuer);
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("the test IdP at {url} did not answer: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {url}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {url} returned {text:?}: {e}"))
    }
}

fn text(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("the test IdP answered {body} without {field:?}"))
        .to_owned()
}

/// Runs `node tests/idp/oidc.mjs --port 0` and waits for its ready line.
fn start() -> Started {
    let dir = repo_root().join("tests/idp");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "the test IdP's packages are not installed: run `npm ci` in {} (scripts/test.sh does), \
         or set {ISSUER_VAR} to a running IdP",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg(dir.join("oidc.mjs"))
        .args(["--port", "0"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (for the test IdP, tests/idp/oidc.mjs): {e}"));
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let line = match lines_rx.recv_timeout(START_TIMEOUT) {
        Ok(line) => line,
        Err(RecvTimeoutError::Disconnected) => {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            panic!(
                "the test IdP (node tests/idp/oidc.mjs) exited before it was ready ({status}); its stderr is above"
            )
        }
        Err(RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            panic!("the test IdP (node tests/idp/oidc.mjs) did not start within {START_TIMEOUT:?}")
        }
    };
    let issuer = serde_json::from_str::<Value>(&line)
        .ok()
        .and_then(|ready| ready["issuer"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("the test IdP printed {line:?}, not its ready line"));
    Started {
        issuer,
        _child: child,
        _stdin: stdin,
    }
}
