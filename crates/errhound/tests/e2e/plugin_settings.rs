//! Plugin settings per project and per user, where users meet them. Sentry's legacy plugin API
//! (`/api/0/projects/{org}/{project}/plugins/`): the list, enabling, configuring with Sentry's
//! `{"errors": {...}}` on invalid values, a secret never returned and stored sealed (read from
//! the database beside the server), disabling, and the audit entries. With the real Python SDK:
//! the `webhooks` plugin configured through the API delivers one signed request with a working
//! issue link; an external Python plugin on the plugin path, configured the same way, receives
//! the notification. Per-user choices made in the UI: a user who switched mail off, one who
//! muted the project and a deactivated one get no mail while another member does.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use errhound_notify::ServerKey;
use errhound_store::Engine;
use errhound_store::alerts::plugins;
use errhound_test_utils::http_receiver::{HttpReceiver, Verify};
use errhound_test_utils::sdk::run_python;
use errhound_test_utils::server::ADMIN_EMAIL;
use errhound_test_utils::smtp::SmtpSink;
use errhound_test_utils::{ServerOptions, TestServer};
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::binary;
use crate::ui::UiSession;

const PLUGINS: &str = "projects/errhound/default/plugins/";
const WEBHOOKS: &str = "projects/errhound/default/plugins/webhooks/";
const RULES: &str = "projects/errhound/default/rules/";
const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
const NOTIFY_SERVICE: &str = "sentry.rules.actions.notify_event_service.NotifyEventServiceAction";
/// Long enough for a job to be evaluated and its digest window (1 s) to close and be sent.
const QUIET: Duration = Duration::from_secs(5);

async fn server_with(engine: Engine, env: &[(&str, String)]) -> TestServer {
    let database_url = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => Some(errhound_test_utils::postgres::fresh_database().await),
    };
    let mut all = vec![("ERRHOUND_NOTIFY__DIGEST_DELAY_S".to_owned(), "1".to_owned())];
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    TestServer::start_with(
        binary(),
        ServerOptions {
            database_url,
            env: all,
        },
    )
    .await
}

fn plugin<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|p| p["id"] == id))
        .unwrap_or_else(|| panic!("no plugin {id} in {list}"))
}

/// The stored settings of `plugin_id` in the default project, read from the database beside
/// the running server.
async fn stored_settings(server: &TestServer, plugin_id: &str) -> Value {
    let (_, project) = server.api_get("projects/errhound/default/").await;
    let project_id: i64 = project["id"].as_str().unwrap().parse().unwrap();
    let db = server.db().await;
    let mut conn = db.read_latest().await.unwrap();
    let row = plugins::project_plugin(&mut conn.conn(), project_id, plugin_id)
        .await
        .unwrap()
        .expect("a stored row");
    serde_json::from_str(&row.settings).unwrap()
}

/// The admin's stored settings of `plugin_id`, read from the database beside the running server.
async fn stored_user_settings(server: &TestServer, plugin_id: &str) -> Value {
    let db = server.db().await;
    let mut conn = db.read_latest().await.unwrap();
    let admin = errhound_store::users::find_by_email(&mut conn.conn(), ADMIN_EMAIL)
        .await
        .unwrap()
        .expect("the admin");
    let row = plugins::plugins_of_user(&mut conn.conn(), admin.id)
        .await
        .unwrap()
        .into_iter()
        .find(|row| row.plugin_id == plugin_id)
        .expect("a stored row");
    serde_json::from_str(&row.settings).unwrap()
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn plugins_are_listed_enabled_configured_and_disabled_and_secrets_stay_sealed(
    #[case] engine: Engine,
) {
    let server = server_with(engine, &[]).await;

    let (status, list) = server.api_get(PLUGINS).await;
    assert_eq!(status, 200, "{list}");
    for id in [
        "mail",
        "webhooks",
        "slack",
        "discord",
        "signed-chat",
        "jira",
    ] {
        assert_eq!(plugin(&list, id)["slug"], id);
    }
    assert_eq!(
        plugin(&list, "mail")["enabled"],
        true,
        "mail is on by default"
    );
    assert_eq!(plugin(&list, "webhooks")["enabled"], false);
    assert_eq!(plugin(&list, "webhooks")["type"], "notification");
    assert_eq!(plugin(&list, "jira")["type"], "issue-tracking");
    let config = plugin(&list, "webhooks")["config"].as_array().unwrap();
    let names: Vec<&str> = config.iter().filter_map(|f| f["name"].as_str()).collect();
    assert!(
        names.contains(&"urls") && names.contains(&"secret"),
        "{names:?}"
    );
    let urls = config.iter().find(|f| f["name"] == "urls").unwrap();
    assert_eq!(urls["type"], "textarea");
    assert_eq!(urls["required"], true);
    assert_eq!(urls["hasSavedValue"], false);
    assert_eq!(server.api_get(&format!("{PLUGINS}nope/")).await.0, 404);

    // Enabling: 201 without a body, as Sentry.
    let (status, _) = server
        .api_send(Method::POST, WEBHOOKS, &json!({}), None)
        .await;
    assert_eq!(status, 201);
    assert_eq!(server.api_get(WEBHOOKS).await.1["enabled"], true);

    // Invalid values: 400 in Sentry's shape, nothing saved.
    let (status, body) = server
        .api_put(WEBHOOKS, &json!({"urls": "ftp://files.example/"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"]["urls"].as_str().unwrap().contains("ftp://"),
        "{body}"
    );
    let (status, body) = server
        .api_put(WEBHOOKS, &json!({"secret": "x", "colour": "blue"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"]["colour"], "Unknown option.", "{body}");
    let (status, body) = server.api_put(WEBHOOKS, &json!({"secret": "x"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"]["urls"], "This field is required.", "{body}");

    // Configured: the secret is never answered, only that one is saved.
    let secret = "hunter2-webhook-secret";
    let (status, body) = server
        .api_put(
            WEBHOOKS,
            &json!({"urls": "https://hooks.example/a", "secret": secret}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let field = |body: &Value, name: &str| -> Value {
        body["config"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(field(&body, "urls")["value"], "https://hooks.example/a");
    assert_eq!(field(&body, "secret")["value"], "");
    assert_eq!(field(&body, "secret")["hasSavedValue"], true);
    assert!(!body.to_string().contains(secret), "{body}");
    let (_, list) = server.api_get(PLUGINS).await;
    assert!(!list.to_string().contains(secret));

    // Stored sealed: not the plaintext, and it opens with the server's key.
    let key = ServerKey::load_or_create(&server.data_dir().join("server.key")).unwrap();
    let stored = stored_settings(&server, "webhooks").await;
    assert!(!stored.to_string().contains(secret), "{stored}");
    let sealed = stored["secret"].as_str().unwrap().to_owned();
    assert!(sealed.starts_with("v1."), "{sealed}");
    assert_eq!(key.open(&sealed).unwrap().expose(), secret);

    // An empty secret keeps the saved one.
    let (status, body) = server
        .api_put(
            WEBHOOKS,
            &json!({"urls": "https://hooks.example/b", "secret": ""}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(field(&body, "secret")["hasSavedValue"], true);
    let stored = stored_settings(&server, "webhooks").await;
    assert_eq!(stored["urls"], "https://hooks.example/b");
    assert_eq!(
        key.open(stored["secret"].as_str().unwrap())
            .unwrap()
            .expose(),
        secret
    );

    // Disabling: 204; the settings stay.
    let (status, _) = server
        .api_send(Method::DELETE, WEBHOOKS, &json!({}), None)
        .await;
    assert_eq!(status, 204);
    let (_, body) = server.api_get(WEBHOOKS).await;
    assert_eq!(body["enabled"], false);
    assert_eq!(field(&body, "urls")["value"], "https://hooks.example/b");

    let (_, log) = server.api_get("organizations/errhound/audit-logs/").await;
    let rows: Vec<&Value> = log["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| {
            row["event"]
                .as_str()
                .is_some_and(|e| e.starts_with("integration."))
        })
        .collect();
    let events: Vec<&str> = rows.iter().filter_map(|r| r["event"].as_str()).collect();
    assert_eq!(
        events,
        [
            "integration.remove",
            "integration.edit",
            "integration.edit",
            "integration.add"
        ],
        "{log}"
    );
    assert!(
        rows.iter()
            .all(|r| r["data"]["integration"] == "webhooks" && r["data"]["project"] == "default")
    );
}

async fn add_rule(server: &TestServer, service: &str) {
    let (status, body) = server
        .api_send(
            Method::POST,
            RULES,
            &json!({
                "name": format!("New issues to {service}"),
                "actionMatch": "any",
                "filterMatch": "all",
                "frequency": 30,
                "conditions": [{"id": FIRST_SEEN}],
                "filters": [],
                "actions": [{"id": NOTIFY_SERVICE, "service": service}],
            }),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_configured_webhook_receives_one_signed_request_with_a_working_issue_link() {
    let secret = "webhook-signing-secret";
    let mut receiver = HttpReceiver::start(Verify::BodyHmac {
        header: "Sentry-Hook-Signature".to_owned(),
        secret: secret.to_owned(),
    })
    .await;
    let server = server_with(
        Engine::Sqlite,
        &[("ERRHOUND_NOTIFY__ALLOW_PRIVATE_TARGETS", "true".to_owned())],
    )
    .await;
    let (status, _) = server
        .api_send(Method::POST, WEBHOOKS, &json!({}), None)
        .await;
    assert_eq!(status, 201);
    let (status, body) = server
        .api_put(
            WEBHOOKS,
            &json!({"urls": receiver.url("/hook"), "secret": secret}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    add_rule(&server, "webhooks").await;

    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    server.wait_for_events(1, Duration::from_secs(30)).await;
    let request = receiver.next(Duration::from_secs(30)).await;
    assert!(
        request.verified,
        "signed with the configured secret: {request:?}"
    );
    assert_eq!(request.path, "/hook");
    let issues = server.issues().await;
    let issue_id = issues[0]["id"].as_str().unwrap();
    let link = format!(
        "{}/organizations/errhound/issues/{issue_id}/",
        server.base_url
    );
    let payload = request.json();
    assert_eq!(payload["url"], link, "{payload}");
    let page = server.client().get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "{link}");
    assert_eq!(
        page.url().path(),
        "/auth/login/",
        "the issue page asks to log in"
    );

    tokio::time::sleep(QUIET).await;
    assert_eq!(receiver.requests().len(), 1, "exactly one request");
}

fn fixtures() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../notify/tests/it/fixtures")
        .canonicalize()
        .unwrap()
}

#[tokio::test]
async fn an_external_plugin_on_the_plugin_path_is_configured_and_receives_the_notification() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().display().to_string();
    let server = server_with(
        Engine::Sqlite,
        &[("ERRHOUND_PLUGINS__PATH", fixtures().display().to_string())],
    )
    .await;
    let recorder = "projects/errhound/default/plugins/recorder/";
    let (_, list) = server.api_get(PLUGINS).await;
    assert_eq!(plugin(&list, "recorder")["name"], "Recorder");
    assert_eq!(plugin(&list, "recorder")["version"], "1.0.0");
    assert_eq!(plugin(&list, "tickets")["type"], "issue-tracking");

    // The plugin's own check answers in Sentry's shape.
    let (status, body) = server
        .api_put(recorder, &json!({"out_dir": out_dir, "token": "bad"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"]["token"], "The token is not accepted.");
    let (status, body) = server
        .api_put(recorder, &json!({"out_dir": out_dir, "token": "t0k"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server
        .api_send(Method::POST, recorder, &json!({}), None)
        .await;
    assert_eq!(status, 201);
    add_rule(&server, "recorder").await;

    // The UI lists it, and says clearly which plugin failed to load and why.
    let ui = UiSession::login(&server).await;
    let page = ui.get("/settings/errhound/projects/default/plugins/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Recorder"), "{}", page.body);
    assert!(page.body.contains("failed to load"), "{}", page.body);
    assert!(
        page.body.contains("errhound-plugin-garbage"),
        "{}",
        page.body
    );

    // The admin gives their own settings on their notification page, a secret among them.
    let user_pin = "pin-4711-of-the-admin";
    let saved = ui
        .post(
            "/settings/account/notifications/plugins/recorder/",
            &[("enabled", "on"), ("nick", "ann"), ("pin", user_pin)],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = ui.get("/settings/account/notifications/").await;
    assert!(
        !page.body.contains(user_pin),
        "a secret is never shown back"
    );
    let stored = stored_user_settings(&server, "recorder").await;
    assert_eq!(stored["nick"], "ann", "{stored}");
    let sealed = stored["pin"].as_str().expect("a stored pin");
    assert!(!sealed.contains(user_pin), "sealed at rest: {stored}");
    let key = ServerKey::load_or_create(&server.data_dir().join("server.key")).unwrap();
    assert_eq!(key.open(sealed).unwrap().expose(), user_pin);

    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let written = loop {
        let files: Vec<PathBuf> = std::fs::read_dir(out.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        if !files.is_empty() {
            break files;
        }
        assert!(Instant::now() < deadline, "the plugin was never called");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&written[0]).unwrap()).unwrap();
    let request = &record["request"];
    assert_eq!(request["method"], "notify", "{record}");
    assert_eq!(
        request["settings"]["token"], "t0k",
        "the plugin is given its secret opened"
    );
    let admin = request["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["settings"]["nick"] == "ann")
        .unwrap_or_else(|| panic!("the admin among the recipients: {request}"));
    assert_eq!(
        admin["settings"]["pin"], user_pin,
        "the plugin is given the user's secret opened"
    );
    let issue_id = server.issues().await[0]["id"].as_str().unwrap().to_owned();
    assert!(
        request
            .to_string()
            .contains(&format!("/organizations/errhound/issues/{issue_id}/")),
        "{request}"
    );
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        1,
        "called once"
    );
}

#[tokio::test]
async fn mail_skips_who_switched_it_off_muted_the_project_or_was_deactivated() {
    let mut sink = SmtpSink::start(Default::default())
        .expect("the alert tests need the Python of scripts/test.sh (SDK_PYTHON)");
    let server = server_with(
        Engine::Sqlite,
        &[
            ("ERRHOUND_MAIL__URL", sink.url("smtp+plain")),
            (
                "ERRHOUND_MAIL__FROM",
                "Errhound <errhound@test.local>".to_owned(),
            ),
        ],
    )
    .await;
    for email in ["muted@a.test", "gone@a.test", "on@a.test"] {
        server.create_member(email);
        crate::access::join_team(&server, email).await;
    }
    // The admin switches mail off for themselves on their notification page.
    let admin = UiSession::login(&server).await;
    let page = admin.get("/settings/account/notifications/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Default"), "{}", page.body);
    let saved = admin
        .post(
            "/settings/account/notifications/plugins/mail/",
            &[("enabled", "off"), ("email", "")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    // Another member mutes the project.
    let muted = UiSession::login_as(&server, "muted@a.test", "member-password-1").await;
    let (_, project) = server.api_get("projects/errhound/default/").await;
    let project_id = project["id"].as_str().unwrap().to_owned();
    let saved = muted
        .post(
            "/settings/account/notifications/projects/",
            &[("project", &project_id), ("alerts", "off")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = muted.get("/settings/account/notifications/").await;
    assert!(page.body.contains("Turn on"), "{}", page.body);
    // A project they cannot see cannot be switched.
    let refused = muted
        .post(
            "/settings/account/notifications/projects/",
            &[("project", "999999"), ("alerts", "off")],
        )
        .await;
    assert_eq!(refused.status, 404);
    // A third is deactivated.
    server.cli(&["user", "disable", "--email", "gone@a.test"]);

    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    let first = sink.next_mail(Duration::from_secs(30)).await;
    tokio::time::sleep(QUIET).await;
    let mut recipients: BTreeSet<String> = first.rcpt_tos.iter().cloned().collect();
    for _ in 1..sink.count() {
        let mail = sink.next_mail(Duration::from_secs(5)).await;
        recipients.extend(mail.rcpt_tos.iter().cloned());
    }
    assert_eq!(
        recipients,
        BTreeSet::from(["on@a.test".to_owned()]),
        "only the member who kept alerts on"
    );
}
