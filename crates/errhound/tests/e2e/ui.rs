//! The server-rendered web UI, end to end.
//!
//! * In a real browser: headless Debian Chromium driven by `playwright-core` under node's test
//!   runner (`tests/ui/*.test.mjs`, installed by `scripts/test.sh`, which exports
//!   `UI_TESTS_DIR`). The Rust side starts the server, sends real Python SDK events, finds the
//!   issues through the API, and runs one node test file with the server's URL, the admin's
//!   login and the DSN in its environment; the node process must pass. Screenshots (light and
//!   dark) go to `target/ui-screenshots/`.
//! * Over raw HTTP with a logged-in session cookie: a corpus of hostile event content sent
//!   through the ingest endpoint must come back escaped on every page that shows it; CSRF
//!   refusals and the security headers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use errhound_test_utils::TestServer;
use errhound_test_utils::sdk::{repo_root, run_python};
use errhound_test_utils::server::{ADMIN_EMAIL, ADMIN_PASSWORD};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::api::{PROCESSING, issue_of, send_event, sent_by_tag};
use crate::binary;
use crate::hostile::{event_envelope, new_event_id, post_envelope, wait_for_event};

// ------------------------------------------------------------------------------------------------
// Running the browser tests.

/// `tests/ui` with `playwright-core` installed (`UI_TESTS_DIR`, set by `scripts/test.sh`).
fn ui_dir() -> PathBuf {
    let dir = std::env::var("UI_TESTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("tests/ui"));
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed in {}: run the tests through scripts/test.sh (or run \
         `npm ci` there with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1)",
        dir.display()
    );
    dir
}

/// The Python with `sentry-sdk` the SDK tests use.
fn sdk_python() -> String {
    std::env::var("SDK_PYTHON").unwrap_or_else(|_| {
        repo_root()
            .join("target/sdk-venv/bin/python")
            .display()
            .to_string()
    })
}

/// Where the browser tests save their screenshots.
fn screenshot_dir() -> PathBuf {
    let dir = repo_root().join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

/// Runs `node --test <file>` in `tests/ui` against `server`, with `extra` in its environment;
/// fails with the node output unless every node test passed.
pub(crate) fn run_browser_tests(server: &TestServer, file: &str, extra: &[(&str, String)]) {
    let dir = ui_dir();
    let screenshots = screenshot_dir();
    let mut command = Command::new("node");
    command
        .arg("--test")
        .arg("--test-reporter=spec")
        .arg(file)
        .current_dir(&dir)
        .env("ERRHOUND_URL", &server.base_url)
        .env("ERRHOUND_EMAIL", ADMIN_EMAIL)
        .env("ERRHOUND_PASSWORD", ADMIN_PASSWORD)
        .env("ERRHOUND_DSN", &server.dsn)
        .env("UI_SCREENSHOT_DIR", &screenshots)
        .env("SDK_PYTHON", sdk_python())
        .env(
            "SEND_EVENTS_PY",
            repo_root().join("tests/sdk/python/send_events.py"),
        )
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy");
    for (key, value) in extra {
        command.env(key, value);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    println!("screenshots: {}", screenshots.display());
    assert!(
        output.status.success(),
        "browser tests {file} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // A runner that found nothing to run exits 0 too: insist that tests ran and none failed.
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("ℹ pass ") && l.trim_start() != "ℹ pass 0"),
        "no browser test passed:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.trim_start() == "ℹ fail 0"),
        "{stdout}"
    );
}

/// The id of the issue holding the first event of each scenario tag.
async fn issue_ids(server: &TestServer, sent: &HashMap<String, Vec<String>>) -> Value {
    let mut ids = serde_json::Map::new();
    for (tag, events) in sent {
        let issue = issue_of(server, &events[0]).await;
        let id: i64 = issue["id"].as_str().unwrap().parse().unwrap();
        ids.insert(tag.clone(), json!(id));
    }
    Value::Object(ids)
}

#[tokio::test]
async fn ui_browser_scenario_on_python_sdk_events() {
    let server = TestServer::start(binary()).await;
    let mut sent = HashMap::new();
    for scenario in ["grouping", "message", "fingerprint"] {
        sent.extend(sent_by_tag(&run_python(
            "send_events.py",
            &[&server.dsn, scenario],
        )));
    }
    // 3 + 2 charge/inventory, 2 messages, 2 custom, 1 + 1 salted.
    server.wait_for_events(11, PROCESSING).await;
    let issues = issue_ids(&server, &sent).await;
    assert_eq!(
        issues.as_object().unwrap().len(),
        6,
        "six scenario tags: {issues}"
    );
    // A team with the admin in it, to assign issues to.
    let (status, team) = server
        .api_send(
            reqwest::Method::POST,
            "organizations/errhound/teams/",
            &json!({"slug": "backend"}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{team}");
    let (status, member) = server
        .api_send(
            reqwest::Method::POST,
            "organizations/errhound/members/me/teams/backend/",
            &json!({}),
            None,
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {member}");
    run_browser_tests(
        &server,
        "scenario.test.mjs",
        &[("UI_ISSUES", issues.to_string())],
    );
}

#[tokio::test]
async fn ui_browser_organization_members_and_team_visibility() {
    let server = TestServer::start(binary()).await;
    let post = |path: &'static str, body: Value| {
        let server = &server;
        async move {
            let (status, answer) = server
                .api_send(reqwest::Method::POST, path, &body, None)
                .await;
            assert!(
                status == 201 || status == 204,
                "POST {path}: {status} {answer}"
            );
        }
    };
    post("organizations/errhound/teams/", json!({"slug": "vault"})).await;
    post(
        "teams/errhound/vault/projects/",
        json!({"name": "Secret", "slug": "secret"}),
    )
    .await;
    let (status, _) = server
        .api_put("organizations/errhound/", &json!({"openMembership": false}))
        .await;
    assert_eq!(status, 200);
    let email = "member@a.test";
    server.create_member(email);
    let (_, members) = server.api_get("organizations/errhound/members/").await;
    let id = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .unwrap();
    let (status, _) = server
        .api_send(
            reqwest::Method::POST,
            &format!("organizations/errhound/members/{id}/teams/errhound/"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(status, 201);
    run_browser_tests(
        &server,
        "members.test.mjs",
        &[
            ("MEMBER_EMAIL", email.to_owned()),
            ("MEMBER_PASSWORD", "member-password-1".to_owned()),
        ],
    );
}

/// Projects and teams in the browser: rename a project, create a team, add a member and the
/// project to it, delete the project with its typed slug (a wrong one refused); its DSN is
/// refused afterwards and every step is in the audit log.
#[tokio::test]
async fn ui_browser_project_rename_team_pages_and_project_deletion() {
    let server = TestServer::start(binary()).await;
    let (status, project) = server
        .api_send(
            reqwest::Method::POST,
            "teams/errhound/errhound/projects/",
            &json!({"name": "Scratch", "slug": "scratch"}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{project}");
    let (status, keys) = server.api_get("projects/errhound/scratch/keys/").await;
    assert_eq!(status, 200, "{keys}");
    let email = "member@a.test";
    server.create_member(email);
    run_browser_tests(
        &server,
        "lifecycle.test.mjs",
        &[
            ("MEMBER_EMAIL", email.to_owned()),
            (
                "SCRATCH_PROJECT_ID",
                project["id"].as_str().unwrap().to_owned(),
            ),
            (
                "SCRATCH_KEY",
                keys[0]["public"].as_str().unwrap().to_owned(),
            ),
        ],
    );
}

/// The organization settings page renames the organization (the page moves to the new slug,
/// the old one is gone) and deletes it for owners only, once its slug is typed: a wrong slug is
/// refused by the server and changes nothing; the DSN is refused afterwards.
#[tokio::test]
async fn ui_organization_rename_and_deletion_with_typed_confirmation() {
    let server = TestServer::start(binary()).await;
    server.create_member("member@a.test");
    let admin = UiSession::login(&server).await;
    let member = UiSession::login_as(&server, "member@a.test", "member-password-1").await;

    let page = admin
        .post(
            "/settings/errhound/rename/",
            &[("name", "Acme Corp"), ("slug", "acme")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.headers[LOCATION], "/settings/acme/");
    let settings = admin.get("/settings/acme/").await;
    assert_eq!(settings.status, 200);
    assert!(settings.body.contains("Acme Corp"), "{}", settings.body);
    assert_eq!(admin.get("/settings/errhound/").await.status, 404);
    let taken = admin
        .post("/settings/acme/rename/", &[("slug", "Bad Slug!")])
        .await;
    assert_eq!(taken.status, 400, "{}", taken.body);

    // A member has no org:admin: refused before the confirmation is even read.
    let refused = member
        .post("/settings/acme/delete/", &[("confirm", "acme")])
        .await;
    assert_eq!(refused.status, 403);
    let wrong = admin
        .post("/settings/acme/delete/", &[("confirm", "errhound")])
        .await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.body.contains("Type acme to confirm"),
        "{}",
        wrong.body
    );
    assert_eq!(admin.get("/settings/acme/").await.status, 200);
    let deleted = admin
        .post("/settings/acme/delete/", &[("confirm", "acme")])
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(deleted.headers[LOCATION], "/");
    assert_eq!(admin.get("/settings/acme/").await.status, 404);
    assert_eq!(admin.get("/organizations/acme/issues/").await.status, 404);

    let (status, log) = server.api_get("organizations/").await;
    assert_eq!((status, log), (200, json!([])));
    let answer = server
        .client()
        .post(format!(
            "{}/api/{}/store/?sentry_key={}&sentry_version=7",
            server.base_url, server.project_id, server.public_key
        ))
        .json(&json!({"message": "after the deletion"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 403);
}

/// Invitations in the browser, mailed through a real SMTP server on loopback: an owner invites
/// an address onto one team, the invitee follows the mailed link, creates their account, and sees
/// only that team's projects; the link works once.
#[tokio::test]
async fn ui_browser_invitation_by_mail_is_accepted_once_and_scoped_to_its_team() {
    let sink = errhound_test_utils::smtp::SmtpSink::start(Default::default())
        .expect("the browser tests need the Python of scripts/test.sh (SDK_PYTHON)");
    let server = TestServer::start_with(
        binary(),
        errhound_test_utils::server::ServerOptions {
            database_url: None,
            env: vec![
                ("ERRHOUND_MAIL__URL".into(), sink.url("smtp+plain")),
                (
                    "ERRHOUND_MAIL__FROM".into(),
                    "Errhound <errhound@test.local>".into(),
                ),
            ],
        },
    )
    .await;
    let (status, _) = server
        .api_send(
            reqwest::Method::POST,
            "organizations/errhound/teams/",
            &json!({"slug": "vault", "name": "Vault"}),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .api_send(
            reqwest::Method::POST,
            "teams/errhound/vault/projects/",
            &json!({"name": "Secret", "slug": "secret"}),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .api_put("organizations/errhound/", &json!({"openMembership": false}))
        .await;
    assert_eq!(status, 200);
    run_browser_tests(
        &server,
        "invitations.test.mjs",
        &[("MAIL_DIR", sink.dir().display().to_string())],
    );
}

/// Passwords in the browser, the reset link mailed through a real SMTP server on loopback.
#[tokio::test]
async fn ui_browser_password_reset_change_and_logging_out_everywhere() {
    let sink = errhound_test_utils::smtp::SmtpSink::start(Default::default())
        .expect("the browser tests need the Python of scripts/test.sh (SDK_PYTHON)");
    let server = TestServer::start_with(
        binary(),
        errhound_test_utils::server::ServerOptions {
            database_url: None,
            env: vec![
                ("ERRHOUND_MAIL__URL".into(), sink.url("smtp+plain")),
                (
                    "ERRHOUND_MAIL__FROM".into(),
                    "Errhound <errhound@test.local>".into(),
                ),
            ],
        },
    )
    .await;
    let email = "reset@a.test";
    server.create_member(email);
    run_browser_tests(
        &server,
        "passwords.test.mjs",
        &[
            ("MAIL_DIR", sink.dir().display().to_string()),
            ("MEMBER_EMAIL", email.to_owned()),
            ("MEMBER_PASSWORD", "member-password-1".to_owned()),
        ],
    );
}

/// Sessions in the browser: revoking one browser's session from another's sessions page.
#[tokio::test]
async fn ui_browser_a_session_revoked_from_another_browser_is_logged_out() {
    let server = TestServer::start(binary()).await;
    let email = "sessions@a.test";
    server.create_member(email);
    run_browser_tests(
        &server,
        "sessions.test.mjs",
        &[
            ("MEMBER_EMAIL", email.to_owned()),
            ("MEMBER_PASSWORD", "member-password-1".to_owned()),
        ],
    );
}

/// `path` of the UI route table with its placeholders filled: for `target`'s resources, and
/// ids that exist nowhere for the rest.
fn ui_path(path: &str, target: Option<&crate::access::Target>) -> String {
    match target {
        Some(t) => path
            .replace("{org}", t.org)
            .replace("{project}", t.project)
            .replace("{team}", t.team)
            .replace("{issue}", &t.issue_id)
            .replace("{event}", &t.event_id)
            .replace("{note}", "999999")
            .replace("{key}", "999999")
            .replace("{member}", "999999")
            .replace("{token}", "999999")
            .replace("{plugin}", "webhooks"),
        None => path
            .replace("{version}", "0")
            .replace("{file}", "app.css")
            .replace("{invite}", "1")
            .replace("{reset}", "1")
            .replace("{registration}", "1")
            .replace("{secret}", &"0".repeat(64))
            .replace("{session}", &"0".repeat(64))
            .replace("{user}", "999999")
            .replace("{identity}", "999999")
            .replace("{token}", "999999")
            .replace("{plugin}", "webhooks"),
    }
}

/// The authorization matrix of the UI: every page of the route table, opened (GET) or posted to
/// (refused callers only: a POST that gets through would change the world) by the superuser, a
/// member whose team owns only `default`, and a member of another organization, for the
/// resources of both organizations. A page the caller may not see is a 404 (pages do not tell
/// which organizations, projects or issues exist); one they see but may not use is a 403.
#[tokio::test]
async fn every_ui_page_answers_each_session_what_its_scopes_and_teams_allow() {
    use errhound_domain::Role;
    use errhound_web::routes::Rule;

    let server = TestServer::start(binary()).await;
    let targets = crate::access::world(&server).await;
    server.create_member("member@a.test");
    crate::access::join_team(&server, "member@a.test").await;
    server.create_user("outsider@b.test", Some("borg"));
    let admin = UiSession::login(&server).await;
    let member = UiSession::login_as(&server, "member@a.test", "member-password-1").await;
    let outsider = UiSession::login_as(&server, "outsider@b.test", "member-password-1").await;
    // (session, name, the organization they belong to, whether they see `secret`, superuser)
    let sessions = [
        (&admin, "superuser", "errhound", true, true),
        (&member, "member", "errhound", false, false),
        (&outsider, "outsider", "borg", true, false),
    ];
    let table = errhound_web::ui::pages().table();
    let mut failures = Vec::new();
    let mut checked = 0;
    for route in &table {
        let fills: Vec<Option<&crate::access::Target>> = if route.path.contains("{org}") {
            targets.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for target in fills {
            let path = ui_path(&route.path, target);
            for (session, who, home, sees_secret, superuser) in &sessions {
                // What the page needs, and whether this session has it.
                let expect: Option<u16> = match (route.rule, target) {
                    // Sign-up is off unless configured (this server has the default).
                    (Rule::Public, _) if route.path.starts_with("/auth/register/") => Some(404),
                    (Rule::Public | Rule::Authenticated, _) => None,
                    (Rule::Superuser, _) => (!superuser).then_some(403),
                    (Rule::Scoped(scope), Some(t)) => {
                        let member_of = *superuser || t.org == *home;
                        let reaches = *superuser
                            || t.org != "errhound"
                            || *sees_secret
                            || t.project != "secret";
                        let names_project =
                            route.path.contains("{project}") || route.path.contains("{issue}");
                        if !member_of || (names_project && !reaches) {
                            Some(404)
                        } else if !*superuser && !Role::Member.scopes().contains(scope) {
                            Some(403)
                        } else {
                            None
                        }
                    }
                    (Rule::Scoped(_), None) => panic!("{route:?} names no organization"),
                };
                if route.method != Method::GET && expect.is_none() {
                    continue;
                }
                let page = if route.method == Method::GET {
                    session.get(&path).await
                } else {
                    session.post(&path, &[]).await
                };
                checked += 1;
                let ok = match expect {
                    Some(status) => page.status == status,
                    None => {
                        ![401, 403, 404].contains(&page.status) && page.status < 500
                            || (page.status == 404
                                && [
                                    "{note}",
                                    "{key}",
                                    "{member}",
                                    "{token}",
                                    "{file}",
                                    "{invite}",
                                    "{reset}",
                                    "{session}",
                                    "{user}",
                                    "{identity}",
                                ]
                                .iter()
                                .any(|p| route.path.contains(p)))
                            // An organization without single sign-on has no SSO login page.
                            || (page.status == 404 && route.path == "/auth/login/{org}/")
                    }
                };
                if !ok {
                    failures.push(format!(
                        "{} {path} as {who}: {} (expected {expect:?})",
                        route.method, page.status
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} page calls answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 100, "{checked}");
}

/// CSRF on every state-changing page of the route table, not only the ones a test happens to
/// post to: the superuser (whom every handler would obey) posts to each with the right token but
/// from a foreign origin, and from the right origin without the token; each is refused by the
/// CSRF layer, before any handler runs.
#[tokio::test]
async fn every_ui_post_refuses_a_foreign_origin_and_a_missing_token() {
    let server = TestServer::start(binary()).await;
    let targets = crate::access::world(&server).await;
    let own = targets.iter().find(|t| t.org == "errhound");
    let session = UiSession::login(&server).await;
    let table = errhound_web::ui::pages().table();
    let mut failures = Vec::new();
    let mut checked = 0;
    // Logging out goes last: were it let through, the session would end and every later post
    // be refused for that alone.
    let mut posts: Vec<_> = table.iter().filter(|r| r.method == Method::POST).collect();
    posts.sort_by_key(|r| r.path == "/auth/logout/");
    for route in posts {
        let path = ui_path(
            &route.path,
            route.path.contains("{org}").then_some(own).flatten(),
        );
        let with_token = format!("csrf={}", session.csrf);
        for (what, body, headers) in [
            (
                "a foreign Origin",
                with_token.as_str(),
                vec![("origin", "http://evil.example")],
            ),
            (
                "a cross-site fetch",
                with_token.as_str(),
                vec![("sec-fetch-site", "cross-site")],
            ),
            ("no token", "", vec![]),
        ] {
            let page = session.post_raw(&path, body, &headers).await;
            checked += 1;
            if page.status != 403 || !page.body.contains("<h1>403") {
                failures.push(format!("POST {path} with {what}: {}", page.status));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} posts were not refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 90, "{checked}");
    // The one state-changing route outside the CSRF layer is the single sign-on callback,
    // which its single-use state protects instead (see `sso_oidc`, `sso_saml`).
    let exempt: Vec<(Method, String)> = errhound_web::ui::sso::callback_routes()
        .table()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(
        exempt,
        [
            (Method::GET, "/auth/sso/".to_owned()),
            (Method::POST, "/auth/sso/".to_owned())
        ]
    );
    // The session still works: nothing above logged it out.
    assert_eq!(
        session.get("/organizations/errhound/issues/").await.status,
        200
    );
}

// ------------------------------------------------------------------------------------------------
// A logged-in session over raw HTTP.

/// A browser-like session: the session cookie and the page's CSRF token, redirects not followed.
pub(crate) struct UiSession {
    client: reqwest::Client,
    base: String,
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

/// A response read completely.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("errhound_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// The value of the first `<meta name="csrf-token">` or `name="csrf"` field of a page.
pub(crate) fn csrf_of(html: &str) -> String {
    for marker in [
        "<meta name=\"csrf-token\" content=\"",
        "name=\"csrf\" value=\"",
    ] {
        if let Some(start) = html.find(marker) {
            let rest = &html[start + marker.len()..];
            return rest[..rest.find('"').unwrap()].to_owned();
        }
    }
    panic!("no CSRF token in the page:\n{html}");
}

pub(crate) fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

impl UiSession {
    fn client(user_agent: Option<&str>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none());
        if let Some(agent) = user_agent {
            builder = builder.user_agent(agent);
        }
        builder.build().unwrap()
    }

    /// A visitor without a session yet.
    pub(crate) fn anonymous(server: &TestServer) -> UiSession {
        UiSession {
            client: UiSession::client(None),
            base: server.base_url.clone(),
            cookie: String::new(),
            csrf: String::new(),
        }
    }

    /// A session that sends `cookie` (`errhound_session=...`).
    pub(crate) fn with_cookie(server: &TestServer, cookie: &str) -> UiSession {
        UiSession {
            cookie: cookie.to_owned(),
            ..UiSession::anonymous(server)
        }
    }

    /// Logs in as the admin through the login form.
    pub(crate) async fn login(server: &TestServer) -> UiSession {
        UiSession::login_as(server, ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Logs in through the login form.
    pub(crate) async fn login_as(server: &TestServer, email: &str, password: &str) -> UiSession {
        UiSession::login_with_agent(server, email, password, None).await
    }

    /// Logs in through the login form from a browser sending `user_agent`.
    pub(crate) async fn login_with_agent(
        server: &TestServer,
        email: &str,
        password: &str,
        user_agent: Option<&str>,
    ) -> UiSession {
        let client = UiSession::client(user_agent);
        let base = server.base_url.clone();
        let form = client
            .get(format!("{base}/auth/login/"))
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), 200);
        let anonymous = session_cookie(form.headers()).expect("the login page sets a session");
        let csrf = csrf_of(&form.text().await.unwrap());
        let response = client
            .post(format!("{base}/auth/login/"))
            .header(COOKIE, &anonymous)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(&[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("next", ""),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "a login redirects");
        let cookie = session_cookie(response.headers()).expect("a login sets the cookie");
        assert_ne!(cookie, anonymous, "the session id is rotated at login");
        let mut session = UiSession {
            client,
            base,
            cookie,
            csrf: String::new(),
        };
        // Every logged-in page carries the session's token; the login page shows it as well.
        let page = session.get("/auth/login/").await;
        assert_eq!(page.status, 303, "a logged-in user skips the login form");
        let page = session.get("/organizations/errhound/issues/").await;
        if page.status != 200 {
            // Not a member of the organization: its pages are 404; the home page has the token.
            assert_eq!(page.status, 404, "{}", page.body);
            let mut home = session.get("/").await;
            if home.status == 303 {
                // The home page sends a member of another organization to its issues.
                let location = home.headers[LOCATION].to_str().unwrap().to_owned();
                home = session.get(&location).await;
            }
            session.csrf = csrf_of(&home.body);
            return session;
        }
        session.csrf = csrf_of(&page.body);
        assert_ne!(session.csrf, csrf, "a new CSRF token after login");
        session
    }

    /// Takes the session cookie a page set, if it set one (as a browser would).
    pub(crate) fn adopt(&mut self, page: &Page) {
        if let Some(cookie) = session_cookie(&page.headers) {
            self.cookie = cookie;
        }
    }

    pub(crate) async fn read(response: reqwest::Response) -> Page {
        Page {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        UiSession::read(response).await
    }

    /// A form POST as a browser on our own pages sends it (same-origin, the session's token
    /// unless `pairs` brings its own).
    pub(crate) async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let mut fields: Vec<(&str, &str)> = pairs.to_vec();
        if !pairs.iter().any(|(k, _)| *k == "csrf") {
            fields.push(("csrf", &self.csrf));
        }
        self.post_raw(
            path,
            &form_body(&fields),
            &[("sec-fetch-site", "same-origin")],
        )
        .await
    }

    pub(crate) async fn post_raw(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        UiSession::read(request.send().await.unwrap()).await
    }
}

// ------------------------------------------------------------------------------------------------
// CSRF and security headers.

#[tokio::test]
async fn ui_csrf_is_required_and_security_headers_are_set() {
    let server = TestServer::start(binary()).await;
    // Before the first event, the list tells a newcomer how to send one.
    let newcomer = UiSession::login(&server).await;
    let empty = newcomer.get("/organizations/errhound/issues/").await;
    assert_eq!(empty.status, 200);
    assert!(
        empty
            .body
            .contains("Waiting for the first event of default"),
        "{}",
        empty.body
    );
    for snippet in [
        format!("<code id=\"onboarding-dsn\">{}</code>", server.dsn),
        format!("sentry_sdk.init(dsn=\"{}\")", server.dsn),
        format!("Sentry.init({{ dsn: \"{}\" }});", server.dsn),
        format!("sentry::init((\"{}\"", server.dsn),
    ] {
        assert!(empty.body.contains(&snippet), "{snippet} in {}", empty.body);
    }
    let id = new_event_id();
    send_event(
        &server,
        &json!({"event_id": id, "platform": "python", "level": "error",
                "exception": {"values": [{"type": "CsrfCheck", "value": "target"}]}}),
    )
    .await;
    let event = wait_for_event(&server, &id).await;
    let issue = event["groupID"].as_str().unwrap().to_owned();
    let session = UiSession::login(&server).await;
    let status_path = format!("/organizations/errhound/issues/{issue}/status/");
    let status_of = |page: &Page| {
        page.body
            .split("data-status=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned)
    };
    let issue_page = format!("/organizations/errhound/issues/{issue}/");

    // No token, a wrong token, a token of another session: 403, and nothing changed.
    let other = UiSession::login(&server).await;
    assert_ne!(other.csrf, session.csrf);
    for (what, body, headers) in [
        ("no token", "action=resolve".to_owned(), vec![]),
        (
            "a wrong token",
            format!("action=resolve&csrf={}", "0".repeat(64)),
            vec![],
        ),
        (
            "another session's token",
            format!("action=resolve&csrf={}", other.csrf),
            vec![],
        ),
        (
            "a wrong header token",
            "action=resolve".to_owned(),
            vec![("x-csrf-token", "not-the-token")],
        ),
        (
            "a cross-site request with the right token",
            format!("action=resolve&csrf={}", session.csrf),
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "a foreign Origin with the right token",
            format!("action=resolve&csrf={}", session.csrf),
            vec![("origin", "http://evil.example")],
        ),
    ] {
        let page = session.post_raw(&status_path, &body, &headers).await;
        assert_eq!(page.status, 403, "{what}: {}", page.body);
        assert!(
            page.body.contains("<h1>403"),
            "{what}: an error page: {}",
            page.body
        );
        let now = session.get(&issue_page).await;
        assert_eq!(
            status_of(&now).as_deref(),
            Some("unresolved"),
            "{what} changed nothing"
        );
    }
    // Logging out and in again without a token: refused too.
    let page = session.post_raw("/auth/logout/", "", &[]).await;
    assert_eq!(page.status, 403, "logout needs the token");
    let anonymous = UiSession::client(None)
        .post(format!("{}/auth/login/", server.base_url))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.status(),
        403,
        "a login without the form's token (login CSRF)"
    );

    // The right token, in the form or in the htmx header: accepted.
    let page = session.post(&status_path, &[("action", "resolve")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.headers[LOCATION],
        format!("/organizations/errhound/issues/{issue}/")
    );
    assert_eq!(
        status_of(&session.get(&issue_page).await).as_deref(),
        Some("resolved")
    );
    let page = session
        .post_raw(
            &status_path,
            "action=unresolve",
            &[("x-csrf-token", session.csrf.as_str())],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        status_of(&session.get(&issue_page).await).as_deref(),
        Some("unresolved")
    );

    // Security headers on pages, the login page, error pages and static files.
    let login = UiSession::client(None)
        .get(format!("{}/auth/login/", server.base_url))
        .send()
        .await
        .unwrap();
    let login = UiSession::read(login).await;
    let list = session.get("/organizations/errhound/issues/").await;
    let missing = session.get("/organizations/errhound/issues/999999/").await;
    assert_eq!(missing.status, 404);
    let css_path = list
        .body
        .split("href=\"")
        .find_map(|rest| {
            let url = rest.split('"').next()?;
            url.ends_with("/app.css").then(|| url.to_owned())
        })
        .expect("the stylesheet link");
    let css = session.get(&css_path).await;
    assert_eq!(css.status, 200);
    for (what, page) in [
        ("login", &login),
        ("list", &list),
        ("404", &missing),
        ("css", &css),
    ] {
        let header = |name: &str| {
            page.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{what}: no {name} header"))
                .to_owned()
        };
        let csp = header("content-security-policy");
        let directives: HashMap<&str, &str> = csp
            .split(';')
            .filter_map(|d| d.trim().split_once(' '))
            .collect();
        assert_eq!(
            directives.get("script-src"),
            Some(&"'self'"),
            "{what}: {csp}"
        );
        assert_eq!(
            directives.get("frame-ancestors"),
            Some(&"'none'"),
            "{what}: {csp}"
        );
        assert_eq!(
            directives.get("default-src"),
            Some(&"'self'"),
            "{what}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{what}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("referrer-policy"), "same-origin", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
    }
    // Pages with private data are not stored by shared caches.
    assert_eq!(
        list.headers["cache-control"].to_str().unwrap(),
        "private, no-cache"
    );
    // The session cookie: HttpOnly and SameSite.
    let form = UiSession::client(None)
        .get(format!("{}/auth/login/", server.base_url))
        .send()
        .await
        .unwrap();
    let cookie = form
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("errhound_session="))
        .unwrap()
        .to_ascii_lowercase();
    assert!(cookie.contains("httponly"), "{cookie}");
    assert!(cookie.contains("samesite=lax"), "{cookie}");
    // No inline script anywhere: every <script> has a src.
    for (what, page) in [("login", &login), ("list", &list), ("404", &missing)] {
        for tag in page.body.split("<script").skip(1) {
            let open = tag.split('>').next().unwrap();
            assert!(
                open.contains(" src=\"/static/"),
                "{what}: inline script {open}"
            );
        }
        assert!(!page.body.contains(" style=\""), "{what}: inline style");
    }
    // The REST API keeps using tokens: the session cookie alone is not enough.
    let api = session.get("/api/0/organizations/").await;
    assert_eq!(api.status, 401, "{}", api.body);
}

// ------------------------------------------------------------------------------------------------
// Hostile event content.

/// A hostile value for `field`: breaks out of text, attributes and script contexts, and carries
/// a marker (`<b>field`) whose escaped form proves it was rendered as text.
fn hostile(field: &str) -> String {
    format!(
        "{field}<b>{field}</b>\" autofocus onfocus=\"alert('{field}')\" '><img src=x \
         onerror=alert('{field}')><script>alert('{field}')</script>"
    )
}

/// The same without `/` (a release may not contain one).
fn hostile_no_slash(field: &str) -> String {
    format!(
        "{field}<b>{field}\" autofocus onfocus=\"alert('{field}')\" '><img src=x \
         onerror=alert('{field}')><svg onload=alert('{field}')>"
    )
}

/// A short one without `/` (an environment or a key label has at most 64 characters).
fn hostile_short(field: &str) -> String {
    format!("{field}<b>{field}\"'><img src=x onerror=alert(9)>")
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Markup a page must never contain if every value was escaped.
const NEVER: [&str; 4] = ["<img", "<script>alert", "<svg onload", "<b>"];

/// Attributes the hostile values try to add; inside a tag they would be live.
const HANDLERS: [&str; 3] = ["onfocus=", "onerror=", "onload="];

/// Whether byte offset `at` of `html` is inside a tag (after a `<` not yet closed by `>`) and
/// outside a double-quoted attribute value, where an attribute name would be live. (Content
/// that broke out of a value would bring its own raw `"` and shift the count.)
fn live_in_tag(html: &str, at: usize) -> bool {
    let before = &html[..at];
    match (before.rfind('<'), before.rfind('>')) {
        (Some(open), close) if Some(open) > close => {
            before[open..].matches('"').count().is_multiple_of(2)
        }
        _ => false,
    }
}

/// Asserts `html` shows each of `fields` as escaped text and contains no live markup from them.
fn assert_escaped(what: &str, html: &str, fields: &[&str]) {
    for never in NEVER {
        assert!(
            !html.contains(never),
            "{what}: unescaped {never:?} in:\n{}",
            context_of(html, never)
        );
    }
    for handler in HANDLERS {
        for (at, _) in html.match_indices(handler) {
            assert!(
                !live_in_tag(html, at),
                "{what}: {handler:?} inside a tag:\n{}",
                context_of(&html[at.saturating_sub(400)..], handler)
            );
        }
    }
    // Entities as askama writes them or as another escaper might.
    let normalized = html
        .replace("&#60;", "&lt;")
        .replace("&#x3c;", "&lt;")
        .replace("&#x3C;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#x3e;", "&gt;")
        .replace("&#x3E;", "&gt;");
    for field in fields {
        let marker = format!("{field}&lt;b&gt;{field}");
        assert!(
            normalized.contains(&marker),
            "{what}: {field} is not shown (escaped) on the page"
        );
    }
}

fn context_of(html: &str, needle: &str) -> String {
    let at = html.find(needle).unwrap_or(0);
    let start = html[..at]
        .char_indices()
        .rev()
        .nth(300)
        .map_or(0, |(i, _)| i);
    let end = html[at..]
        .char_indices()
        .nth(300)
        .map_or(html.len(), |(i, _)| at + i);
    html[start..end].to_owned()
}

/// The hostile event: every field the issue page shows.
fn hostile_event(id: &str) -> Value {
    let h = hostile;
    json!({
        "event_id": id,
        "timestamp": now_secs(),
        "platform": "python",
        "level": "error",
        "release": hostile_no_slash("xss_release"),
        "environment": hostile_short("xss_env"),
        "server_name": h("xss_server_name"),
        "transaction": h("xss_transaction"),
        "logentry": {"formatted": h("xss_message")},
        "exception": {"values": [{
            "type": h("xss_exc_type"),
            "value": h("xss_exc_value"),
            "module": h("xss_exc_module"),
            "mechanism": {"type": h("xss_mechanism"), "handled": false},
            "stacktrace": {"frames": [
                {"filename": h("xss_sys_file"), "function": h("xss_sys_function"), "in_app": false,
                 "lineno": 1, "context_line": h("xss_sys_line")},
                {"filename": h("xss_filename"), "function": h("xss_function"),
                 "module": h("xss_module"), "lineno": 10, "in_app": true,
                 "pre_context": [h("xss_pre_context")],
                 "context_line": h("xss_context_line"),
                 "post_context": [h("xss_post_context")],
                 "vars": {"hostile_var": h("xss_var_value"), "nested": {"k": h("xss_var_nested")}}}
            ]}
        }]},
        "breadcrumbs": {"values": [{
            "timestamp": now_secs() - 1.0,
            "type": "default",
            "category": h("xss_crumb_category"),
            "level": "info",
            "message": h("xss_crumb_message"),
            "data": {"url": h("xss_crumb_data")}
        }]},
        "request": {
            "method": "POST",
            "url": format!("https://shop.example/{}", h("xss_request_url")),
            "query_string": [["q", h("xss_request_query")]],
            "headers": [["X-Hostile", h("xss_request_header")]],
            "data": {"field": h("xss_request_data")}
        },
        "user": {"id": h("xss_user_id"), "username": h("xss_user_name"), "email": h("xss_user_email")},
        "tags": {"hostile": h("xss_tag_value")},
        "contexts": {
            "os": {"name": h("xss_os_name"), "version": "1"},
            "hostile": {"type": "default", "field": h("xss_context_field")}
        },
        "extra": {"hostile_extra": h("xss_extra")},
        "sdk": {"name": h("xss_sdk_name"), "version": "1.0"}
    })
}

/// Every field of [`hostile_event`] the issue page must show.
const EVENT_FIELDS: [&str; 30] = [
    "xss_release",
    "xss_env",
    "xss_server_name",
    "xss_transaction",
    "xss_message",
    "xss_exc_type",
    "xss_exc_value",
    "xss_exc_module",
    "xss_mechanism",
    "xss_sys_file",
    "xss_sys_function",
    "xss_sys_line",
    "xss_filename",
    "xss_function",
    "xss_module",
    "xss_pre_context",
    "xss_context_line",
    "xss_post_context",
    "xss_var_value",
    "xss_var_nested",
    "xss_crumb_category",
    "xss_crumb_message",
    "xss_crumb_data",
    "xss_request_url",
    "xss_request_query",
    "xss_request_header",
    "xss_request_data",
    "xss_user_name",
    "xss_tag_value",
    "xss_context_field",
];

#[tokio::test]
async fn ui_hostile_event_content_is_escaped_on_every_page() {
    let server = TestServer::start(binary()).await;
    let id = new_event_id();
    send_event(&server, &hostile_event(&id)).await;
    let stored = wait_for_event(&server, &id).await;
    let issue = stored["groupID"].as_str().unwrap().to_owned();
    let session = UiSession::login(&server).await;
    let org = "/organizations/errhound";

    // The issue page: every section.
    let detail = session.get(&format!("{org}/issues/{issue}/")).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert_escaped("issue page", &detail.body, &EVENT_FIELDS);
    for extra in ["xss_user_id", "xss_extra", "xss_os_name", "xss_sdk_name"] {
        assert_escaped("issue page", &detail.body, &[extra]);
    }
    // Library frames are folded, the in-app frame with the error line is open; the request has
    // its cURL rendition.
    assert!(detail.body.contains("<details class=\"system-frames\">"));
    assert!(
        detail
            .body
            .contains("<li class=\"frame in-app\">\n  <details open>")
    );
    assert!(
        detail
            .body
            .contains("<tr class=\"current\" aria-current=\"true\">")
    );
    let curl = detail.body.split("<pre id=\"curl\">").nth(1).unwrap();
    assert!(
        curl.starts_with("curl -X &#39;POST&#39; &#39;https://shop.example/"),
        "{curl}"
    );
    // Breadcrumbs are filtered by their text.
    for (filter, shown) in [("xss_crumb_message", "1 of 1"), ("no-such-crumb", "0 of 1")] {
        let page = session
            .get(&format!("{org}/issues/{issue}/?crumbs={filter}"))
            .await;
        assert!(
            page.body
                .contains(&format!("Breadcrumbs <span class=\"muted\">{shown}</span>")),
            "breadcrumbs filtered by {filter}"
        );
    }
    let event_page = session
        .get(&format!("{org}/issues/{issue}/events/{id}/"))
        .await;
    assert_eq!(event_page.status, 200);
    assert_escaped("event page", &event_page.body, &EVENT_FIELDS);

    // The list: title (type and value), culprit, and a search reflected in the search box.
    let list = session.get(&format!("{org}/issues/?query=")).await;
    assert_escaped("issue list", &list.body, &["xss_exc_type", "xss_exc_value"]);
    let query = format!("hostile:\"{}\"", hostile("xss_query").replace('"', "\\\""));
    let searched = session
        .get(&format!("{org}/issues/?query={}", urlencode(&query)))
        .await;
    assert_escaped("search", &searched.body, &["xss_query"]);
    // A search that names an unknown member is refused with a message that quotes it.
    let refused = session
        .get(&format!(
            "{org}/issues/?query={}",
            urlencode(&format!("assigned:{}", hostile_no_slash("xss_assignee")))
        ))
        .await;
    assert_escaped("query error", &refused.body, &["xss_assignee"]);
    // The environment selector lists the hostile environment.
    assert_escaped("environment selector", &list.body, &["xss_env"]);
    // The tag value of the event also finds it (the tag distribution links use it).
    assert!(
        detail.body.contains("hostile"),
        "the hostile tag key is shown"
    );

    // Breadcrumb filter reflected in its input.
    let filtered = session
        .get(&format!(
            "{org}/issues/{issue}/?crumbs={}",
            urlencode(&hostile("xss_crumb_filter"))
        ))
        .await;
    assert_escaped("breadcrumb filter", &filtered.body, &["xss_crumb_filter"]);

    // Releases and environments pages.
    let releases = session.get(&format!("{org}/releases/")).await;
    assert_escaped("releases", &releases.body, &["xss_release"]);
    let environments = session.get(&format!("{org}/environments/")).await;
    assert_escaped("environments", &environments.body, &["xss_env"]);

    // A comment with raw HTML and a javascript: link; a key label and a project name.
    let comment = format!(
        "{}\n\n[click](javascript:alert('xss_link'))",
        hostile("xss_comment")
    );
    let page = session
        .post(
            &format!("{org}/issues/{issue}/comments/"),
            &[("text", &comment)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let detail = session.get(&format!("{org}/issues/{issue}/")).await;
    assert_escaped("comment", &detail.body, &["xss_comment"]);
    assert!(
        !detail.body.contains("javascript:alert"),
        "no javascript: link"
    );
    let settings = "/settings/errhound/projects/default/";
    let page = session
        .post(
            &format!("{settings}keys/"),
            // A key label has at most 64 characters, as in Sentry.
            &[("label", &hostile_short("xss_key_label"))],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = session
        .post(
            settings,
            &[("name", &hostile("xss_project_name")), ("slug", "default")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let settings_page = session.get(settings).await;
    assert_escaped(
        "settings",
        &settings_page.body,
        &["xss_key_label", "xss_project_name"],
    );
    let list = session.get(&format!("{org}/issues/?query=")).await;
    assert_escaped("project picker", &list.body, &["xss_project_name"]);

    // The login page reflects `next` in a hidden field.
    let login = UiSession::client(None)
        .get(format!(
            "{}/auth/login/?next={}",
            server.base_url,
            urlencode(&format!("/{}", hostile("xss_next")))
        ))
        .send()
        .await
        .unwrap();
    let login = UiSession::read(login).await;
    assert_escaped("login next", &login.body, &["xss_next"]);

    // The same pages in a real browser: no dialog opens, no element carries an event handler
    // from the content, and the hostile text is shown literally.
    // Values shown as JSON (with their quotes escaped) are not shown literally.
    let as_json = ["xss_var_nested", "xss_request_data", "xss_crumb_data"];
    let literal: Vec<String> = EVENT_FIELDS
        .iter()
        .filter(|f| !as_json.contains(f) && !["xss_release", "xss_env"].contains(f))
        // The start of each: the normalizer cuts some fields (breadcrumb categories, user
        // names) short, and the start holds the markup that must stay text.
        .map(|f| hostile(f).chars().take(60).collect())
        .collect();
    let pages = json!([
        {"path": format!("{org}/issues/{issue}/"),
         "texts": literal},
        {"path": format!("{org}/issues/{issue}/"),
         "texts": [hostile_no_slash("xss_release"), hostile_short("xss_env"), hostile("xss_comment")]},
        {"path": format!("{org}/issues/?query="), "texts": [hostile("xss_project_name")]},
        {"path": format!("{org}/issues/?query={}", urlencode(&query)), "texts": []},
        {"path": format!("{org}/releases/"), "texts": [hostile_no_slash("xss_release")]},
        {"path": format!("{org}/environments/"), "texts": [hostile_short("xss_env")]},
        {"path": settings, "texts": [hostile_short("xss_key_label")]},
    ]);
    run_browser_tests(
        &server,
        "xss.test.mjs",
        &[("UI_XSS_PAGES", pages.to_string())],
    );
}

// ------------------------------------------------------------------------------------------------
// Pagination and page errors.

/// The `href` of the pager link with `rel`, unescaped.
fn pager_link(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\""))?;
    let tag = &html[html[..at].rfind("<a ")?..at];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

/// The issue ids of a list page, in order.
fn row_ids(html: &str) -> Vec<String> {
    html.split("<input type=\"checkbox\" name=\"id\" value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn ui_issue_list_pages_through_every_issue() {
    let server = TestServer::start(binary()).await;
    for i in 0..27 {
        send_event(
            &server,
            &json!({"event_id": new_event_id(), "platform": "python", "level": "error",
                    "timestamp": now_secs() - f64::from(i),
                    "exception": {"values": [{"type": format!("PagingError{i}"), "value": "page"}]}}),
        )
        .await;
    }
    server.wait_for_events(27, PROCESSING).await;
    let session = UiSession::login(&server).await;
    let first = session.get("/organizations/errhound/issues/?query=").await;
    assert_eq!(first.status, 200);
    let first_ids = row_ids(&first.body);
    assert_eq!(first_ids.len(), 25, "a page holds 25 issues");
    assert!(pager_link(&first.body, "prev").is_none());
    let next = pager_link(&first.body, "next").expect("a next page");
    assert!(next.contains("query="), "the view is kept: {next}");

    let second = session.get(&next).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let second_ids = row_ids(&second.body);
    assert_eq!(second_ids.len(), 2);
    assert!(second_ids.iter().all(|id| !first_ids.contains(id)));
    assert!(pager_link(&second.body, "next").is_none(), "the last page");
    let previous = pager_link(&second.body, "prev").expect("a previous page");
    let back = session.get(&previous).await;
    assert_eq!(
        row_ids(&back.body),
        first_ids,
        "previous leads back to the first page"
    );

    // htmx asks for the results only: no page frame around them.
    let partial = session
        .client
        .get(format!("{}{next}", server.base_url))
        .header(COOKIE, &session.cookie)
        .header("HX-Request", "true")
        .header("HX-Target", "results")
        .send()
        .await
        .unwrap();
    let partial = UiSession::read(partial).await;
    assert_eq!(partial.status, 200);
    assert!(!partial.body.contains("<html"), "{}", partial.body);
    assert_eq!(row_ids(&partial.body), second_ids);

    // A sort is shown as the current column and kept by the pager.
    let by_new = session
        .get("/organizations/errhound/issues/?query=&sort=new")
        .await;
    assert!(
        by_new
            .body
            .contains("aria-current=\"true\" class=\"sorted\">First seen</a>"),
        "{}",
        by_new.body
    );
    assert!(
        pager_link(&by_new.body, "next")
            .unwrap()
            .contains("sort=new")
    );

    // Broken links and missing things are error pages with the right status.
    let bad = session
        .get("/organizations/errhound/issues/?cursor=garbage")
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("The page link is invalid."));
    for missing in [
        "/organizations/nope/issues/",
        "/organizations/errhound/issues/999999/",
        "/settings/errhound/projects/nope/",
    ] {
        let page = session.get(missing).await;
        assert_eq!(page.status, 404, "{missing}");
        assert!(page.body.contains("<h1>404"), "{missing}: an error page");
    }
    let bad_query = session
        .get("/organizations/errhound/issues/?query=is%3Abogus")
        .await;
    assert_eq!(bad_query.status, 200);
    assert!(
        bad_query.body.contains("class=\"alert alert-error\""),
        "a query error is shown above the list"
    );
}

// ------------------------------------------------------------------------------------------------
// Who sees and changes what.

#[tokio::test]
async fn ui_members_read_settings_and_outsiders_see_nothing() {
    let server = TestServer::start(binary()).await;
    let id = new_event_id();
    send_event(
        &server,
        &json!({"event_id": id, "platform": "python", "level": "error",
                "exception": {"values": [{"type": "AccessCheck", "value": "seen by members"}]}}),
    )
    .await;
    let issue = wait_for_event(&server, &id).await["groupID"]
        .as_str()
        .unwrap()
        .to_owned();
    server.create_member("member@errhound.test");
    server.cli(&[
        "user",
        "create",
        "--email",
        "outsider@errhound.test",
        "--password",
        "outsider-password-1",
    ]);

    // A member reads the issues and the settings, and works on issues...
    let member = UiSession::login_as(&server, "member@errhound.test", "member-password-1").await;
    let list = member.get("/organizations/errhound/issues/").await;
    assert!(list.body.contains("AccessCheck: seen by members"));
    let settings = member.get("/settings/errhound/projects/default/").await;
    assert_eq!(settings.status, 200);
    assert!(
        settings
            .body
            .contains("changing them needs the admin, manager or owner role"),
        "{}",
        settings.body
    );
    assert!(settings.body.contains("disabled>Create key</button>"));
    let page = member
        .post(
            &format!("/organizations/errhound/issues/{issue}/status/"),
            &[("action", "resolve")],
        )
        .await;
    assert_eq!(page.status, 303, "members resolve issues: {}", page.body);
    // ...but cannot change the project or its keys.
    for (path, fields) in [
        (
            "/settings/errhound/projects/default/",
            vec![("name", "Hijacked"), ("slug", "default")],
        ),
        (
            "/settings/errhound/projects/default/keys/",
            vec![("label", "Mine")],
        ),
        (
            "/settings/errhound/projects/default/keys/1/",
            vec![("action", "disable")],
        ),
    ] {
        let page = member.post(path, &fields).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
    }
    let admin = UiSession::login(&server).await;
    let settings = admin.get("/settings/errhound/projects/default/").await;
    assert!(
        settings
            .body
            .contains("<h1>Project settings <span class=\"muted\">Default</span></h1>")
    );
    assert_eq!(
        settings
            .body
            .matches("class=\"badge badge-resolved\">Active</span>")
            .count(),
        1
    );

    // Someone outside the organization sees none of it, not even whether it exists.
    let outsider =
        UiSession::login_as(&server, "outsider@errhound.test", "outsider-password-1").await;
    for path in [
        "/organizations/errhound/issues/".to_owned(),
        format!("/organizations/errhound/issues/{issue}/"),
        format!("/organizations/errhound/issues/{issue}/events/{id}/json/"),
        "/organizations/errhound/releases/".to_owned(),
        "/settings/errhound/projects/default/".to_owned(),
    ] {
        let page = outsider.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("AccessCheck"), "{path}");
    }
    let page = outsider
        .post(
            &format!("/organizations/errhound/issues/{issue}/status/"),
            &[("action", "unresolve")],
        )
        .await;
    assert_eq!(page.status, 404);
    // Their home page says why, and lets them log out.
    let home = outsider.get("/").await;
    assert_eq!(home.status, 200);
    assert!(
        home.body
            .contains("you are not a member of any organization yet")
    );
    let page = outsider.post("/auth/logout/", &[]).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.headers[LOCATION], "/auth/login/");
    let after = outsider.get("/organizations/errhound/issues/").await;
    assert_eq!(after.status, 303, "logged out");
    // The member's resolution stands.
    let detail = admin
        .get(&format!("/organizations/errhound/issues/{issue}/"))
        .await;
    assert!(detail.body.contains("data-status=\"resolved\""));
}

/// Opening an issue's page marks it seen for that user only (the API's `hasSeen`), as viewing
/// it in Sentry does.
#[tokio::test]
async fn ui_viewing_an_issue_marks_it_seen_for_that_user_only() {
    let server = TestServer::start(binary()).await;
    let id = new_event_id();
    send_event(
        &server,
        &json!({"event_id": id, "platform": "python", "level": "error",
                "exception": {"values": [{"type": "SeenCheck", "value": "opened in the UI"}]}}),
    )
    .await;
    let issue = wait_for_event(&server, &id).await["groupID"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = server.create_member("viewer@errhound.test");
    let has_seen = |token: Option<String>| {
        let server = &server;
        async move {
            let (status, list) = server
                .api_send(
                    reqwest::Method::GET,
                    "projects/errhound/default/issues/",
                    &Value::Null,
                    token.as_deref(),
                )
                .await;
            assert_eq!(status, 200, "{list}");
            list.as_array().unwrap()[0]["hasSeen"].clone()
        }
    };
    assert_eq!(has_seen(Some(token.clone())).await, json!(false));

    let viewer = UiSession::login_as(&server, "viewer@errhound.test", "member-password-1").await;
    let page = viewer
        .get(&format!("/organizations/errhound/issues/{issue}/"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    // The mark is written beside the page, so wait for it (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while has_seen(Some(token.clone())).await != json!(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "the page did not mark the issue seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        has_seen(None).await,
        json!(false),
        "the admin has not seen it"
    );
}

/// An admin sets a key's rate limit on the settings page (a CSRF-protected form POST), ingest
/// applies it to the next envelope, and the admin removes it again; members cannot.
#[tokio::test]
async fn ui_admins_set_and_remove_a_key_rate_limit() {
    let server = TestServer::start(binary()).await;
    let key_form = "/settings/errhound/projects/default/keys/1/";
    let admin = UiSession::login(&server).await;
    let page = admin.get("/settings/errhound/projects/default/").await;
    assert!(page.body.contains("<th>Rate limit</th>"), "{}", page.body);
    assert!(!page.body.contains("Remove limit"));

    // Without the token: refused, nothing changes.
    let page = admin
        .post(
            key_form,
            &[
                ("csrf", "forged"),
                ("action", "rate_limit"),
                ("count", "1"),
                ("window", "600"),
            ],
        )
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    // Invalid limits: 400 with the reason.
    for (count, window, reason) in [
        ("1", "0", "whole number of at least 1"),
        ("1", "86401", "between 1 and 86400 seconds"),
        ("1", "", "both a count and a window"),
        ("x", "60", "whole number"),
    ] {
        let page = admin
            .post(
                key_form,
                &[
                    ("action", "rate_limit"),
                    ("count", count),
                    ("window", window),
                ],
            )
            .await;
        assert_eq!(page.status, 400, "{count}/{window}: {}", page.body);
        assert!(
            page.body.contains(reason),
            "{count}/{window}: {}",
            page.body
        );
    }
    let (_, keys) = server.api_get("projects/errhound/default/keys/").await;
    assert_eq!(keys[0]["rateLimit"], Value::Null);

    let page = admin
        .post(
            key_form,
            &[("action", "rate_limit"), ("count", "1"), ("window", "600")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = admin.get("/settings/errhound/projects/default/").await;
    assert!(page.body.contains("1 event per 600 s"), "{}", page.body);
    assert!(page.body.contains("Remove limit"));
    let (_, keys) = server.api_get("projects/errhound/default/keys/").await;
    assert_eq!(keys[0]["rateLimit"], json!({"window": 600, "count": 1}));
    let first = new_event_id();
    post_envelope(&server, &[], event_envelope(&first, "ui"))
        .await
        .assert_accepted(&first);
    let second = new_event_id();
    let answer = post_envelope(&server, &[], event_envelope(&second, "ui")).await;
    answer.assert_error(429, "KeyQuota");

    // A member sees the limit but cannot change it.
    server.create_member("member@errhound.test");
    let member = UiSession::login_as(&server, "member@errhound.test", "member-password-1").await;
    let page = member.get("/settings/errhound/projects/default/").await;
    assert!(page.body.contains("1 event per 600 s"));
    let page = member
        .post(key_form, &[("action", "clear_rate_limit")])
        .await;
    assert_eq!(page.status, 403, "{}", page.body);

    let page = admin
        .post(key_form, &[("action", "clear_rate_limit")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = admin.get("/settings/errhound/projects/default/").await;
    assert!(!page.body.contains("Remove limit"), "{}", page.body);
    let (_, keys) = server.api_get("projects/errhound/default/keys/").await;
    assert_eq!(keys[0]["rateLimit"], Value::Null);
    let third = new_event_id();
    post_envelope(&server, &[], event_envelope(&third, "ui"))
        .await
        .assert_accepted(&third);
    wait_for_event(&server, &third).await;
}

#[tokio::test]
async fn ui_browser_plugin_settings_and_the_per_user_switches() {
    let server = TestServer::start(binary()).await;
    run_browser_tests(&server, "plugins.test.mjs", &[]);
}
