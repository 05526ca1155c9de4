//! The account commands (`errhound user ...`, `errhound org ...`) against a running server's
//! database, checked through the REST API and the login form; `[mail]` checked at start-up.

use errhound_test_utils::TestServer;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use serde_json::{Value, json};

use crate::binary;
use crate::ui::{csrf_of, form_body, session_cookie};

const PASSWORD: &str = "member-password-1";

/// Logs in through the login form; the session cookie when the login succeeded.
async fn try_login(server: &TestServer, email: &str, password: &str) -> Option<String> {
    let client = no_redirects();
    let base = &server.base_url;
    let form = client
        .get(format!("{base}/auth/login/"))
        .send()
        .await
        .unwrap();
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
    (response.status() == 303)
        .then(|| session_cookie(response.headers()))
        .flatten()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The status of the organization's issue page for this session cookie, and where a redirect
/// points.
async fn issues_page(server: &TestServer, cookie: &str) -> (u16, String) {
    let response = no_redirects()
        .get(format!(
            "{}/organizations/errhound/issues/",
            server.base_url
        ))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status().as_u16(), location)
}

async fn organizations_status(server: &TestServer, token: &str) -> u16 {
    server
        .client()
        .get(format!("{}/api/0/organizations/", server.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn member(server: &TestServer, email: &str) -> Option<Value> {
    let (status, members) = server.api_get("organizations/errhound/members/").await;
    assert_eq!(status, 200, "{members}");
    members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .cloned()
}

#[tokio::test]
async fn user_create_gives_a_role_and_teams_or_nothing_at_all() {
    let server = TestServer::start(binary()).await;
    let (status, team) = server
        .api_send(
            reqwest::Method::POST,
            "organizations/errhound/teams/",
            &json!({"slug": "backend"}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{team}");

    let out = server.cli(&[
        "user",
        "create",
        "--email",
        "lead@errhound.test",
        "--password",
        PASSWORD,
        "--organization",
        "errhound",
        "--role",
        "manager",
        "--team",
        "backend",
    ]);
    assert!(
        out.contains("Member of errhound as manager, in teams backend"),
        "{out}"
    );
    let lead = member(&server, "lead@errhound.test")
        .await
        .expect("a member");
    assert_eq!(lead["role"], "manager", "{lead}");
    assert_eq!(lead["teams"], json!(["backend"]), "{lead}");

    // Without --role: a member, as before.
    server.cli(&[
        "user",
        "create",
        "--email",
        "dev@errhound.test",
        "--password",
        PASSWORD,
        "--organization",
        "errhound",
    ]);
    let dev = member(&server, "dev@errhound.test")
        .await
        .expect("a member");
    assert_eq!(dev["role"], "member", "{dev}");

    let create = |email: &'static str, extra: &[&'static str]| {
        let mut args = vec!["user", "create", "--email", email, "--password", PASSWORD];
        args.extend_from_slice(extra);
        server.cli_fails(&args)
    };
    let err = create(
        "late@errhound.test",
        &[
            "--organization",
            "errhound",
            "--team",
            "backend",
            "--team",
            "nope",
        ],
    );
    assert!(
        err.contains("no team nope in organization errhound"),
        "{err}"
    );
    let err = create("late@errhound.test", &["--organization", "nowhere"]);
    assert!(err.contains("no organization nowhere"), "{err}");
    let err = create(
        "late@errhound.test",
        &["--organization", "errhound", "--role", "boss"],
    );
    assert!(
        err.contains("unknown role \"boss\": one of member, admin, manager, owner"),
        "{err}"
    );
    let err = create("late@errhound.test", &["--role", "admin"]);
    assert!(err.contains("--organization"), "{err}");
    let err = create("dev@errhound.test", &[]);
    assert!(err.contains("already exists"), "{err}");
    let err = server.cli_fails(&[
        "user",
        "create",
        "--email",
        "late@errhound.test",
        "--password",
        "short",
    ]);
    assert!(err.contains("at least 8 characters"), "{err}");
    // Nothing of the failed commands was kept: no user, no membership.
    let users = server.cli(&["user", "list"]);
    assert!(!users.contains("late@errhound.test"), "{users}");
    assert!(member(&server, "late@errhound.test").await.is_none());
}

#[tokio::test]
async fn user_and_org_lists_are_aligned_tables() {
    let server = TestServer::start(binary()).await;
    let out = server.cli(&["org", "create", "--slug", "acme-2", "--name", "Acme Inc"]);
    assert!(out.contains("Created organization acme-2."), "{out}");
    server.cli(&["org", "create", "--slug", "zeta"]);
    let err = server.cli_fails(&["org", "create", "--slug", "acme-2"]);
    assert!(err.contains("organization acme-2 already exists"), "{err}");
    for bad in ["Acme", "123", "a b", ""] {
        let err = server.cli_fails(&["org", "create", "--slug", bad]);
        assert!(err.contains("invalid organization slug"), "{bad:?}: {err}");
    }
    server.create_member("dev@errhound.test");

    let orgs = server.cli(&["org", "list"]);
    let lines: Vec<&str> = orgs.lines().collect();
    assert_eq!(
        lines,
        [
            "SLUG      NAME      MEMBERS  PROJECTS",
            "acme-2    Acme Inc  0        0",
            "errhound  Errhound  2        1",
            "zeta      zeta      0        0",
        ],
        "{orgs}"
    );

    server.cli(&["user", "disable", "--email", "dev@errhound.test"]);
    let users = server.cli(&["user", "list"]);
    let lines: Vec<&str> = users.lines().collect();
    assert_eq!(lines.len(), 3, "{users}");
    let columns = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        columns(lines[0]),
        ["EMAIL", "NAME", "SUPERUSER", "ACTIVE", "CREATED"]
    );
    let admin = columns(lines[1]);
    assert_eq!(
        admin[..4],
        ["admin@errhound.test", "Admin", "yes", "yes"],
        "{users}"
    );
    assert!(admin[4].ends_with('Z') && admin[4].len() == 20, "{users}");
    assert_eq!(
        columns(lines[2])[..4],
        ["dev@errhound.test", "dev@errhound.test", "no", "no"],
        "{users}"
    );
    // Aligned: every column starts at the same offset on every line.
    let start = |line: &str, column: &str| line.find(column).unwrap();
    let active_at = start(lines[0], "ACTIVE");
    assert_eq!(&lines[1][active_at..active_at + 3], "yes", "{users}");
    assert_eq!(&lines[2][active_at..active_at + 2], "no", "{users}");
}

#[tokio::test]
async fn a_disabled_user_is_logged_out_and_refused_everywhere() {
    let server = TestServer::start(binary()).await;
    let email = "dev@errhound.test";
    let token = server.create_member(email);
    assert_eq!(organizations_status(&server, &token).await, 200);
    let cookie = try_login(&server, email, PASSWORD)
        .await
        .expect("the member logs in");
    assert_eq!(issues_page(&server, &cookie).await.0, 200);

    let out = server.cli(&["user", "disable", "--email", email]);
    assert!(out.contains("ended 1 web session"), "{out}");

    assert_eq!(organizations_status(&server, &token).await, 401);
    let (status, location) = issues_page(&server, &cookie).await;
    assert!(
        status == 303 && location.contains("/auth/login/"),
        "the old session still works: {status} {location}"
    );
    assert!(try_login(&server, email, PASSWORD).await.is_none());

    let err = server.cli_fails(&["user", "disable", "--email", "nobody@errhound.test"]);
    assert!(
        err.contains("no user with e-mail nobody@errhound.test"),
        "{err}"
    );

    // Enabled again: the same token and password work.
    server.cli(&["user", "enable", "--email", email]);
    assert_eq!(organizations_status(&server, &token).await, 200);
    assert!(try_login(&server, email, PASSWORD).await.is_some());
}

#[tokio::test]
async fn set_password_replaces_the_login_and_ends_sessions() {
    let server = TestServer::start(binary()).await;
    let email = "dev@errhound.test";
    let token = server.create_member(email);
    let cookie = try_login(&server, email, PASSWORD).await.expect("a login");

    let out = server.cli(&[
        "user",
        "set-password",
        "--email",
        email,
        "--password",
        "a-new-password-2",
    ]);
    assert!(out.contains("ended 1 web session"), "{out}");
    assert_ne!(issues_page(&server, &cookie).await.0, 200);
    assert!(try_login(&server, email, PASSWORD).await.is_none());
    assert!(
        try_login(&server, email, "a-new-password-2")
            .await
            .is_some()
    );
    // API tokens are not passwords: they keep working.
    assert_eq!(organizations_status(&server, &token).await, 200);

    let err = server.cli_fails(&[
        "user",
        "set-password",
        "--email",
        "nobody@errhound.test",
        "--password",
        "a-new-password-2",
    ]);
    assert!(
        err.contains("no user with e-mail nobody@errhound.test"),
        "{err}"
    );
    let err = server.cli_fails(&[
        "user",
        "set-password",
        "--email",
        email,
        "--password",
        "short",
    ]);
    assert!(err.contains("at least 8 characters"), "{err}");
}

/// Runs `errhound` in a fresh data directory with `[mail]` from the environment.
fn with_mail(args: &[&str], url: &str, from: &str) -> std::process::Output {
    let data_dir = tempfile::tempdir().unwrap();
    std::process::Command::new(binary())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir.path())
        .env("ERRHOUND_LOG__LEVEL", "warn")
        .env("RUST_BACKTRACE", "0")
        .env("ERRHOUND_MAIL__URL", url)
        .env("ERRHOUND_MAIL__FROM", from)
        .output()
        .unwrap()
}

#[test]
fn mail_settings_are_checked_at_start_and_the_password_never_printed() {
    let from = "Errhound <errhound@example.com>";
    let output = with_mail(
        &["config", "print"],
        "smtp://bot:hunter2@mail.test:587",
        from,
    );
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("smtp://bot:********@mail.test:587"),
        "{printed}"
    );
    assert!(!printed.contains("hunter2"), "{printed}");

    let output = with_mail(&["migrate"], "imap://bot:hunter2@mail.test", from);
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("mail.url must start with"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    // The sender is parsed by the mailer, which `serve` builds before anything else.
    let output = with_mail(
        &["serve", "--bind", "127.0.0.1:0"],
        "smtp+plain://bot:hunter2@127.0.0.1:25",
        "not a mailbox",
    );
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("mail.from \"not a mailbox\""), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
