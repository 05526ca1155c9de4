//! Real HTTP servers on loopback for the plugin tests: [`HttpReceiver`] records every request
//! and checks its signature the way a receiver would (and answers 401 to a wrong one), and
//! [`JiraStandIn`] follows the shapes of Jira's REST API v2 and v3 (a third-party SaaS, the one
//! place a stand-in is right).
//!
//! The signature checks are written here independently of `errhound-notify`, from the formats
//! its documentation states, so a test shows the format and not just agreement with itself.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

/// How a receiver checks signatures.
#[derive(Debug, Clone)]
pub enum Verify {
    /// Not at all (Slack and Discord webhooks are not signed).
    Nothing,
    /// `header` is the HMAC-SHA256 hex of the body keyed with `secret` (the `webhooks`
    /// plugin's `Sentry-Hook-Signature`).
    BodyHmac {
        /// The signature header.
        header: String,
        /// The shared secret.
        secret: String,
    },
    /// The `signed-chat` plugin's scheme: the HMAC-SHA256 hex, keyed with `secret`, of
    /// `METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY`, with the app key, timestamp (within 5 minutes),
    /// nonce (never seen before) and signature in the named headers.
    SignedChat {
        /// The app key expected in `key_header`.
        app_key: String,
        /// The app secret.
        secret: String,
        /// Header names: app key, timestamp, nonce, signature.
        headers: [String; 4],
    },
}

/// A request as received.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// The method.
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// The headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether its signature checked out (always true for [`Verify::Nothing`]).
    pub verified: bool,
}

impl ReceivedRequest {
    /// The first header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

struct Shared {
    verify: Verify,
    /// What requests that pass their check get; `None` holds them (see [`HttpReceiver::hold`]).
    status: Mutex<Option<u16>>,
    requests: Mutex<Vec<ReceivedRequest>>,
    nonces: Mutex<BTreeSet<String>>,
}

fn hmac_hex(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    hex::encode(mac.finalize().into_bytes()).into_bytes()
}

/// Constant-time comparison of two signatures.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Shared {
    fn verified(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
        match &self.verify {
            Verify::Nothing => true,
            Verify::BodyHmac {
                header: name,
                secret,
            } => header(headers, name)
                .is_some_and(|sig| same(sig.as_bytes(), &hmac_hex(secret.as_bytes(), body))),
            Verify::SignedChat {
                app_key,
                secret,
                headers: [key_h, ts_h, nonce_h, sig_h],
            } => {
                let (Some(key), Some(ts), Some(nonce), Some(sig)) = (
                    header(headers, key_h),
                    header(headers, ts_h),
                    header(headers, nonce_h),
                    header(headers, sig_h),
                ) else {
                    return false;
                };
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                let fresh = ts.parse::<i64>().is_ok_and(|t| (now - t).abs() <= 300);
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                let mut canonical = format!("{method}\n{path}\n{ts}\n{nonce}\n").into_bytes();
                canonical.extend_from_slice(body);
                let good = key == app_key
                    && fresh
                    && same(sig.as_bytes(), &hmac_hex(secret.as_bytes(), &canonical));
                // A replayed nonce is refused even with a good signature.
                good && self.nonces.lock().unwrap().insert(nonce.to_owned())
            }
        }
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verified = shared.verified(&method, &uri, &headers, &body);
    let request = ReceivedRequest {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.to_string()),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        verified,
    };
    shared.requests.lock().unwrap().push(request);
    if !verified {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let status = *shared.status.lock().unwrap();
    match status {
        Some(status) => (StatusCode::from_u16(status).unwrap(), "ok").into_response(),
        // Recorded, never answered: the client is left mid-request until it gives up or dies.
        None => std::future::pending().await,
    }
}

/// Serves `router` on a free 127.0.0.1 port until the returned task is dropped... or the test
/// ends (the runtime stops it).
async fn serve(router: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (addr, task)
}

/// A recording HTTP receiver on 127.0.0.1; stopped when dropped.
pub struct HttpReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    seen: usize,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpReceiver {
    /// Starts a receiver that checks signatures as `verify` says and answers 200 to the
    /// requests that pass (401 to the others).
    pub async fn start(verify: Verify) -> HttpReceiver {
        let shared = Arc::new(Shared {
            verify,
            status: Mutex::new(Some(200)),
            requests: Mutex::new(Vec::new()),
            nonces: Mutex::new(BTreeSet::new()),
        });
        let router = Router::new()
            .fallback(any(receive))
            .with_state(shared.clone());
        let (addr, task) = serve(router).await;
        HttpReceiver {
            addr,
            shared,
            seen: 0,
            task,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The status answered to requests whose signature checks out (e.g. 503).
    pub fn answer(&self, status: u16) {
        *self.shared.status.lock().unwrap() = Some(status);
    }

    /// Holds the requests that pass their check from now on: each is recorded and never
    /// answered, so its sender is stuck in the middle of a send. [`HttpReceiver::answer`]
    /// answers those that come after it (the held ones stay held).
    pub fn hold(&self) {
        *self.shared.status.lock().unwrap() = None;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for the next request not returned yet; panics when none comes.
    pub async fn next(&mut self, timeout: Duration) -> ReceivedRequest {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(request) = self.shared.requests.lock().unwrap().get(self.seen).cloned() {
                self.seen += 1;
                return request;
            }
            assert!(
                Instant::now() < deadline,
                "no request {} reached the receiver within {timeout:?}",
                self.seen + 1
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A Jira issue the stand-in holds.
#[derive(Debug, Clone)]
pub struct JiraIssue {
    /// `OPS-1`.
    pub key: String,
    /// The REST API version it was created through.
    pub version: String,
    /// The `fields` as sent.
    pub fields: Value,
    /// The `Authorization` header it was created with (empty for a seeded issue).
    pub authorization: String,
}

struct JiraState {
    user: String,
    token: String,
    projects: Vec<String>,
    issues: Mutex<Vec<JiraIssue>>,
}

impl JiraState {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.user, self.token))
        );
        header(headers, "authorization") == Some(expected.as_str())
    }
}

fn jira_errors(status: StatusCode, messages: &[&str], fields: Value) -> Response {
    (
        status,
        axum::Json(json!({"errorMessages": messages, "errors": fields})),
    )
        .into_response()
}

async fn jira_create(
    State(state): State<Arc<JiraState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return jira_errors(
            StatusCode::BAD_REQUEST,
            &["Unexpected character"],
            json!({}),
        );
    };
    let fields = &body["fields"];
    let project = fields["project"]["key"].as_str().unwrap_or_default();
    if !state.projects.iter().any(|p| p == project) {
        return jira_errors(
            StatusCode::BAD_REQUEST,
            &[],
            json!({"project": "valid project is required"}),
        );
    }
    if fields["summary"].as_str().unwrap_or_default().is_empty() {
        return jira_errors(
            StatusCode::BAD_REQUEST,
            &[],
            json!({"summary": "You must specify a summary of the issue."}),
        );
    }
    let description_ok = match version.as_str() {
        "2" => fields["description"].is_string(),
        "3" => fields["description"]["type"] == "doc" && fields["description"]["version"] == 1,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    if !description_ok {
        return jira_errors(
            StatusCode::BAD_REQUEST,
            &[],
            json!({"description": "Operation value must be an Atlassian Document (v3) or a string (v2)."}),
        );
    }
    let mut issues = state.issues.lock().unwrap();
    let key = format!("{project}-{}", issues.len() + 1);
    issues.push(JiraIssue {
        key: key.clone(),
        version,
        fields: fields.clone(),
        authorization: header(&headers, "authorization")
            .unwrap_or_default()
            .to_owned(),
    });
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": format!("{}", 10000 + issues.len()), "key": key, "self": "http://jira/rest/api/2/issue/1"})),
    )
        .into_response()
}

async fn jira_get(
    State(state): State<Arc<JiraState>>,
    Path((_version, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !state.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let issues = state.issues.lock().unwrap();
    match issues.iter().find(|i| i.key == key) {
        Some(issue) => axum::Json(json!({
            "id": "10001",
            "key": issue.key,
            "fields": {"summary": issue.fields["summary"]},
        }))
        .into_response(),
        None => jira_errors(
            StatusCode::NOT_FOUND,
            &["Issue does not exist or you do not have permission to see it."],
            json!({}),
        ),
    }
}

/// A stand-in for Jira's REST API (v2 and v3): `POST /rest/api/{2,3}/issue` and
/// `GET /rest/api/{2,3}/issue/{key}`, basic authentication with one user and API token, the
/// projects it is given, and Jira's error shapes (401, 400 with `errors`, 404).
pub struct JiraStandIn {
    addr: SocketAddr,
    state: Arc<JiraState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JiraStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JiraStandIn {
    /// Starts it with one account and the `projects` keys.
    pub async fn start(user: &str, token: &str, projects: &[&str]) -> JiraStandIn {
        let state = Arc::new(JiraState {
            user: user.to_owned(),
            token: token.to_owned(),
            projects: projects.iter().map(|p| (*p).to_owned()).collect(),
            issues: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/rest/api/{version}/issue", post(jira_create))
            .route("/rest/api/{version}/issue/{key}", get(jira_get))
            .with_state(state.clone());
        let (addr, task) = serve(router).await;
        JiraStandIn { addr, state, task }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds an existing issue `summary` to `project`, as if made in Jira; returns its key.
    pub fn seed(&self, project: &str, summary: &str) -> String {
        let mut issues = self.state.issues.lock().unwrap();
        let key = format!("{project}-{}", issues.len() + 1);
        issues.push(JiraIssue {
            key: key.clone(),
            version: "2".to_owned(),
            fields: json!({"project": {"key": project}, "summary": summary}),
            authorization: String::new(),
        });
        key
    }

    /// The issues created so far.
    pub fn issues(&self) -> Vec<JiraIssue> {
        self.state.issues.lock().unwrap().clone()
    }
}
