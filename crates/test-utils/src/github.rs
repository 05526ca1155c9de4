//! A stand-in for GitHub's OAuth web flow and the REST API calls a GitHub login makes (a
//! third-party SaaS, so a stand-in is right): `GET /login/oauth/authorize` (logs in the user
//! named by the `login` query parameter the test adds, as a person choosing their account
//! would, and redirects to the `redirect_uri` with a one-time code and the state),
//! `POST /login/oauth/access_token` (JSON, checks the client's id, secret and the code), and
//! `GET /user`, `/user/emails`, `/user/orgs`, `/user/teams` with the bearer token, in GitHub's
//! shapes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// A GitHub account of the stand-in.
#[derive(Debug, Clone)]
pub struct GithubUser {
    /// Its numeric id.
    pub id: i64,
    /// Its login.
    pub login: String,
    /// Its primary e-mail.
    pub email: String,
    /// Whether GitHub verified that address.
    pub verified: bool,
    /// The organizations it is a member of.
    pub orgs: Vec<String>,
    /// Its teams, as (organization, team slug).
    pub teams: Vec<(String, String)>,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, GithubUser>,
    codes: HashMap<String, String>,
    tokens: HashMap<String, String>,
    counter: u64,
}

#[derive(Clone)]
struct Shared {
    client_id: String,
    client_secret: String,
    inner: Arc<Mutex<Inner>>,
}

/// The running stand-in.
pub struct GithubStandIn {
    /// `http://127.0.0.1:<port>`: both the web and the API URL.
    pub url: String,
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret.
    pub client_secret: String,
    shared: Shared,
}

impl GithubStandIn {
    /// Starts it on a free loopback port with one OAuth app.
    pub async fn start() -> GithubStandIn {
        let shared = Shared {
            client_id: "Iv1.standin".to_owned(),
            client_secret: format!("secret-{}", hex::encode(rand::random::<[u8; 8]>())),
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/user", get(user))
            .route("/user/emails", get(emails))
            .route("/user/orgs", get(orgs))
            .route("/user/teams", get(teams))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind the GitHub stand-in");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GithubStandIn {
            url,
            client_id: shared.client_id.clone(),
            client_secret: shared.client_secret.clone(),
            shared,
        }
    }

    /// Adds or replaces an account.
    pub fn set_user(&self, user: GithubUser) {
        let mut inner = self.shared.inner.lock().expect("the stand-in's state");
        inner.users.insert(user.login.clone(), user);
    }
}

fn next_secret(inner: &mut Inner, prefix: &str) -> String {
    inner.counter += 1;
    format!(
        "{prefix}{}-{}",
        inner.counter,
        hex::encode(rand::random::<[u8; 8]>())
    )
}

async fn authorize(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    if param("client_id") != shared.client_id {
        return (StatusCode::NOT_FOUND, "unknown OAuth app").into_response();
    }
    let redirect_uri = param("redirect_uri");
    let state = param("state");
    let mut inner = shared.inner.lock().expect("the stand-in's state");
    let login = param("login");
    if login == "deny" {
        let target = format!(
            "{redirect_uri}?error=access_denied&error_description=The+user+has+denied+your+application+access.&state={state}"
        );
        return Redirect::to(&target).into_response();
    }
    if !inner.users.contains_key(&login) {
        return (StatusCode::UNAUTHORIZED, "no such account to log in").into_response();
    }
    let code = next_secret(&mut inner, "code-");
    inner.codes.insert(code.clone(), login);
    Redirect::to(&format!("{redirect_uri}?code={code}&state={state}")).into_response()
}

async fn access_token(State(shared): State<Shared>, body: String) -> Response {
    let form: HashMap<String, String> = url_form(&body);
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    if field("client_id") != shared.client_id || field("client_secret") != shared.client_secret {
        return axum::Json(json!({"error": "incorrect_client_credentials",
            "error_description": "The client_id and/or client_secret passed are incorrect."}))
        .into_response();
    }
    let mut inner = shared.inner.lock().expect("the stand-in's state");
    let Some(login) = inner.codes.remove(&field("code")) else {
        return axum::Json(json!({"error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired."}))
        .into_response();
    };
    let token = next_secret(&mut inner, "gho_");
    inner.tokens.insert(token.clone(), login);
    axum::Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:org,read:user,user:email"}))
        .into_response()
}

fn url_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| percent_decode(&s.replace('+', " "));
            (decode(k), decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The account of the request's bearer token.
fn caller(shared: &Shared, headers: &HeaderMap) -> Result<GithubUser, (StatusCode, &'static str)> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
        })
        .unwrap_or("");
    if headers.get("user-agent").is_none() {
        // GitHub refuses API requests without a User-Agent.
        return Err((StatusCode::FORBIDDEN, "a User-Agent is required"));
    }
    let inner = shared.inner.lock().expect("the stand-in's state");
    inner
        .tokens
        .get(token)
        .and_then(|login| inner.users.get(login))
        .cloned()
        .ok_or((
            StatusCode::UNAUTHORIZED,
            r#"{"message": "Bad credentials"}"#,
        ))
}

async fn user(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    match caller(&shared, &headers) {
        Ok(u) => axum::Json(json!({
            "login": u.login, "id": u.id, "type": "User", "name": format!("{} at GitHub", u.login),
            "email": Value::Null,
        }))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn emails(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    match caller(&shared, &headers) {
        Ok(u) => axum::Json(json!([
            {"email": format!("{}@users.noreply.github.com", u.login), "primary": false, "verified": true, "visibility": Value::Null},
            {"email": u.email, "primary": true, "verified": u.verified, "visibility": "private"},
        ]))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn orgs(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    match caller(&shared, &headers) {
        Ok(u) => axum::Json(Value::from(
            u.orgs
                .iter()
                .enumerate()
                .map(|(i, login)| json!({"login": login, "id": 1000 + i, "description": ""}))
                .collect::<Vec<_>>(),
        ))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn teams(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    match caller(&shared, &headers) {
        Ok(u) => axum::Json(Value::from(
            u.teams
                .iter()
                .map(|(org, slug)| json!({"slug": slug, "name": slug, "organization": {"login": org}}))
                .collect::<Vec<_>>(),
        ))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}
