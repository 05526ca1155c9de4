//! Alerts. Rules through Sentry's rule API (`/api/0/projects/{org}/{project}/rules/`): the
//! default rule of a new project, a rule created, read, changed and deleted with Sentry's ids,
//! Sentry's error shape for invalid bodies and for targets outside the organization, and the
//! audit entries of each change. The preview of a rule on the last week's events (a new-issue
//! rule, a frequency rule, unique users, environments). Delivery with the real Python SDK and a
//! real SMTP server that requires STARTTLS and a login, as a submission port does (its
//! certificate from a CA of its own, given to the server as `mail.ca_file`): a new error mailed
//! once with a working link, a repeat quiet, a regression mailed again, and a burst of new
//! issues as one digest.

use std::time::Duration;

use errhound_store::Engine;
use errhound_test_utils::sdk::run_python;
use errhound_test_utils::server::ADMIN_EMAIL;
use errhound_test_utils::smtp::SmtpSink;
use errhound_test_utils::{ServerOptions, SinkTls, SmtpSinkOptions, TestServer};
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::binary;

const RULES: &str = "projects/errhound/default/rules/";
const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
const REGRESSION: &str = "sentry.rules.conditions.regression_event.RegressionEventCondition";
const FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
const UNIQUE_USERS: &str =
    "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition";
const LEVEL: &str = "sentry.rules.filters.level.LevelFilter";
const TAGGED: &str = "sentry.rules.filters.tagged_event.TaggedEventFilter";
const NOTIFY_SERVICE: &str = "sentry.rules.actions.notify_event_service.NotifyEventServiceAction";
const NOTIFY_EMAIL: &str = "sentry.mail.actions.NotifyEmailAction";

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|part| part["id"].as_str())
        .collect()
}

fn frequent_errors_rule() -> Value {
    json!({
        "name": "Checkout errors, often",
        "actionMatch": "all",
        "filterMatch": "any",
        "frequency": 60,
        "environment": "production",
        "conditions": [{"id": FREQUENCY, "value": 100, "interval": "1h"}],
        "filters": [
            {"id": LEVEL, "match": "gte", "level": "40"},
            {"id": TAGGED, "key": "url", "match": "co", "value": "/checkout"},
        ],
        "actions": [{"id": NOTIFY_SERVICE, "service": "webhooks"}],
    })
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn rules_are_created_read_changed_and_deleted_with_sentrys_ids(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;

    // The first project got Sentry's default rule.
    let (status, rules) = server.api_get(RULES).await;
    assert_eq!(status, 200, "{rules}");
    let list = rules.as_array().expect("a list");
    assert_eq!(list.len(), 1, "{rules}");
    let default = &list[0];
    assert_eq!(ids(&default["conditions"]), [FIRST_SEEN, REGRESSION]);
    assert_eq!(default["actionMatch"], "any");
    assert_eq!(ids(&default["actions"]), [NOTIFY_EMAIL]);
    assert_eq!(default["actions"][0]["targetType"], "IssueOwners");
    assert_eq!(default["frequency"], 30);
    assert_eq!(default["projects"], json!(["default"]));
    assert_eq!(default["lastTriggered"], Value::Null);

    let (status, created) = server
        .api_send(Method::POST, RULES, &frequent_errors_rule(), None)
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(created["name"], "Checkout errors, often");
    assert_eq!(created["environment"], "production");
    assert_eq!(created["filterMatch"], "any");
    assert_eq!(created["frequency"], 60);
    assert_eq!(created["conditions"][0]["value"], 100);
    assert_eq!(created["conditions"][0]["interval"], "1h");
    assert_eq!(ids(&created["filters"]), [LEVEL, TAGGED]);
    assert_eq!(created["actions"][0]["service"], "webhooks");
    assert!(created["dateCreated"].as_str().is_some(), "{created}");

    let path = format!("{RULES}{id}/");
    let (status, read) = server.api_get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(read, created, "reading answers what creating answered");

    let mut changed = frequent_errors_rule();
    changed["name"] = json!("Checkout errors");
    changed["actions"] =
        json!([{"id": NOTIFY_EMAIL, "targetType": "IssueOwners", "targetIdentifier": ""}]);
    let (status, updated) = server.api_send(Method::PUT, &path, &changed, None).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Checkout errors");
    assert_eq!(ids(&updated["actions"]), [NOTIFY_EMAIL]);
    assert_eq!(server.api_get(&path).await.1["name"], "Checkout errors");

    let (status, _) = server
        .api_send(Method::DELETE, &path, &json!({}), None)
        .await;
    assert_eq!(status, 202);
    assert_eq!(server.api_get(&path).await.0, 404);
    assert_eq!(
        server.api_get(RULES).await.1.as_array().map(Vec::len),
        Some(1)
    );

    let events: Vec<String> = server
        .audit_events()
        .await
        .into_iter()
        .filter(|event| event.starts_with("rule."))
        .collect();
    assert_eq!(events, ["rule.remove", "rule.edit", "rule.add"]);
}

#[tokio::test]
async fn invalid_rules_are_400_in_sentrys_shape_and_other_projects_rules_are_404() {
    let server = TestServer::start(binary()).await;

    let mut no_action = frequent_errors_rule();
    no_action["actions"] = json!([]);
    let (status, body) = server.api_send(Method::POST, RULES, &no_action, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["actions"].is_array(), "{body}");

    let mut unknown = frequent_errors_rule();
    unknown["conditions"] = json!([{"id": "sentry.rules.conditions.nope"}]);
    let (status, body) = server.api_send(Method::POST, RULES, &unknown, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["conditions"].is_array(), "{body}");

    let mut stranger = frequent_errors_rule();
    stranger["actions"] =
        json!([{"id": NOTIFY_EMAIL, "targetType": "Member", "targetIdentifier": 999_999}]);
    let (status, body) = server.api_send(Method::POST, RULES, &stranger, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["actions"][0]
            .as_str()
            .unwrap_or_default()
            .contains("999999"),
        "{body}"
    );

    let (status, body) = server
        .api_send(Method::POST, RULES, &json!(["not", "an", "object"]), None)
        .await;
    assert_eq!(status, 400, "{body}");

    // A rule id of another project (here: the default rule of a second project) is 404.
    let (status, project) = server
        .api_send(
            Method::POST,
            "teams/errhound/errhound/projects/",
            &json!({"name": "Other"}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{project}");
    let (_, theirs) = server.api_get("projects/errhound/other/rules/").await;
    let their_id = theirs[0]["id"]
        .as_str()
        .expect("the new project's default rule");
    assert_eq!(server.api_get(&format!("{RULES}{their_id}/")).await.0, 404);
    let (status, _) = server
        .api_send(
            Method::DELETE,
            &format!("{RULES}{their_id}/"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(server.api_get(&format!("{RULES}abc/")).await.0, 404);
}

const PREVIEW: &str = "projects/errhound/default/rules/preview/";

/// An error event of its own issue per `kind`, as an SDK sends it, from `user`.
fn preview_event(kind: &str, user: &str) -> Value {
    json!({
        "event_id": crate::hostile::new_event_id(),
        "platform": "python",
        "level": "error",
        "environment": "production",
        "user": {"id": user},
        "exception": {"values": [{
            "type": kind,
            "value": "checkout failed",
            "stacktrace": {"frames": [
                {"filename": "shop/views.py", "function": kind, "lineno": 7, "in_app": true},
            ]},
        }]},
    })
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn the_preview_counts_what_a_rule_would_have_fired_on_the_last_week(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    // Five events of one issue from two users, then one event of another.
    for user in ["ana", "bo", "ana", "bo", "ana"] {
        crate::api::send_event(&server, &preview_event("CheckoutError", user)).await;
    }
    crate::api::send_event(&server, &preview_event("LoginError", "cy")).await;
    server.wait_for_events(6, crate::api::PROCESSING).await;

    // A new-issue rule: once per issue, in the order they opened.
    let new_issues = json!({
        "name": "New issues",
        "conditions": [{"id": FIRST_SEEN}],
        "actions": [{"id": NOTIFY_EMAIL, "targetType": "IssueOwners", "targetIdentifier": ""}],
    });
    let (status, report) = server
        .api_send(Method::POST, PREVIEW, &new_issues, None)
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["fires"], 2, "{report}");
    assert_eq!(report["eventsExamined"], 6);
    assert_eq!(report["truncated"], false);
    assert!(
        report["since"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{report}"
    );
    let issues = report["issues"].as_array().expect("issues");
    assert_eq!(issues.len(), 2, "{report}");
    assert!(
        issues
            .iter()
            .all(|i| i["fires"] == 1 && i["firstFire"] == i["lastFire"])
    );
    assert!(
        issues[0]["title"]
            .as_str()
            .unwrap_or_default()
            .starts_with("CheckoutError"),
        "{report}"
    );
    assert!(
        issues[1]["title"]
            .as_str()
            .unwrap_or_default()
            .starts_with("LoginError"),
        "{report}"
    );
    assert!(
        issues[0]["shortId"]
            .as_str()
            .unwrap_or_default()
            .starts_with("DEFAULT-"),
        "{report}"
    );
    let (_, issue) = server
        .api_get(&format!(
            "issues/{}/",
            issues[0]["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(issue["shortId"], issues[0]["shortId"], "{issue}");

    // More than three events in an hour: the fourth fires, the fifth waits the interval.
    let mut frequent = json!({
        "name": "Frequent",
        "frequency": 60,
        "conditions": [{"id": FREQUENCY, "value": 3, "interval": "1h"}],
        "actions": [{"id": NOTIFY_SERVICE, "service": "webhooks"}],
    });
    let (status, report) = server
        .api_send(Method::POST, PREVIEW, &frequent, None)
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["fires"], 1, "{report}");
    assert_eq!(
        report["issues"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert!(
        report["issues"][0]["title"]
            .as_str()
            .unwrap_or_default()
            .starts_with("CheckoutError")
    );
    // More than two users: only ana and bo came.
    frequent["conditions"] = json!([{"id": UNIQUE_USERS, "value": 2, "interval": "1h"}]);
    let (_, report) = server
        .api_send(Method::POST, PREVIEW, &frequent, None)
        .await;
    assert_eq!(report["fires"], 0, "{report}");
    // Another environment matches nothing; nothing was saved by previewing.
    frequent["conditions"] = json!([{"id": FREQUENCY, "value": 3, "interval": "1h"}]);
    frequent["environment"] = json!("staging");
    let (_, report) = server
        .api_send(Method::POST, PREVIEW, &frequent, None)
        .await;
    assert_eq!(report["fires"], 0, "{report}");
    assert_eq!(
        server.api_get(RULES).await.1.as_array().map(Vec::len),
        Some(1)
    );

    // An invalid rule is Sentry's field errors.
    let (status, body) = server
        .api_send(Method::POST, PREVIEW, &json!({"name": "nothing"}), None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["conditions"].is_array() && body["actions"].is_array(),
        "{body}"
    );
}

/// The login the submission sink requires.
const MAIL_USER: &str = "errhound";

/// An SMTP sink that requires STARTTLS, then a login.
fn submission_sink() -> SmtpSink {
    SmtpSink::start(SmtpSinkOptions {
        user: Some((MAIL_USER.to_owned(), "mail-password".to_owned())),
        tls: Some(SinkTls::RequiredStartTls),
        ..SmtpSinkOptions::default()
    })
    .expect("the alert tests need the Python of scripts/test.sh (SDK_PYTHON)")
}

/// A server that mails through `sink` (a [`submission_sink`], whose CA it trusts), with a
/// one-second digest window.
async fn mailing_server(sink: &SmtpSink, engine: Engine, extra: &[(&str, &str)]) -> TestServer {
    let ca_file = sink.ca_file().expect("a sink with TLS");
    let mut env = vec![
        ("ERRHOUND_MAIL__URL".to_owned(), sink.url("smtp")),
        (
            "ERRHOUND_MAIL__CA_FILE".to_owned(),
            ca_file.display().to_string(),
        ),
        (
            "ERRHOUND_MAIL__FROM".to_owned(),
            "Errhound <errhound@test.local>".to_owned(),
        ),
        ("ERRHOUND_NOTIFY__DIGEST_DELAY_S".to_owned(), "1".to_owned()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let database_url = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => Some(errhound_test_utils::postgres::fresh_database().await),
    };
    TestServer::start_with(binary(), ServerOptions { database_url, env }).await
}

/// Long enough for a job to be evaluated and its digest window (1 s) to close and be sent.
const QUIET: Duration = Duration::from_secs(5);

fn sent_ids(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(str::to_owned)
        .collect()
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn a_new_error_mails_the_team_once_a_repeat_stays_quiet_and_a_regression_mails_again(
    #[case] engine: Engine,
) {
    let mut sink = submission_sink();
    let server = mailing_server(&sink, engine, &[]).await;

    let first = sent_ids(&run_python("send_events.py", &[&server.dsn, "burst", "3"]));
    assert_eq!(first.len(), 3);
    server.wait_for_events(3, Duration::from_secs(30)).await;
    let mail = sink.next_mail(Duration::from_secs(30)).await;
    assert_eq!(
        mail.rcpt_tos,
        [ADMIN_EMAIL],
        "the default rule mails the project's team"
    );
    assert_eq!(
        (mail.login.as_deref(), mail.tls),
        (Some(MAIL_USER), true),
        "over STARTTLS, logged in"
    );
    let issues = server.issues().await;
    assert_eq!(issues.len(), 1);
    let issue_id = issues[0]["id"].as_str().expect("an issue id").to_owned();
    let subject = mail.header("subject").unwrap_or_default().to_owned();
    assert!(subject.contains("[Default]"), "{subject}");
    assert!(subject.contains("ZeroDivisionError"), "{subject}");
    let link = format!(
        "{}/organizations/errhound/issues/{issue_id}/",
        server.base_url
    );
    let text = mail.part("text/plain").expect("a text body");
    let html = mail.part("text/html").expect("an HTML body");
    assert!(text.contains(&link), "{text}");
    assert!(html.contains(&link), "{html}");
    assert!(text.contains("charge_card"), "the top in-app frame: {text}");
    // The link is the issue's page: a visitor is sent to log in (the client follows redirects).
    let page = server
        .client()
        .get(&link)
        .send()
        .await
        .expect("the link answers");
    assert_eq!(page.status().as_u16(), 200, "{link}");
    assert_eq!(page.url().path(), "/auth/login/", "{link}");
    let next = page.url().query().unwrap_or_default().to_owned();
    assert!(next.contains(&format!("issues%2F{issue_id}")), "{next}");

    // The same error again: not new, so the default rule stays quiet.
    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    server.wait_for_events(4, Duration::from_secs(30)).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(sink.count(), 1, "a repeat of a known error sends nothing");

    // Resolved, then seen again: one regression mail.
    let (status, body) = server
        .api_put(
            &format!("issues/{issue_id}/"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    run_python("send_events.py", &[&server.dsn, "burst", "2"]);
    server.wait_for_events(6, Duration::from_secs(30)).await;
    // The admin resolved it, so besides the rule's alert they get the workflow notice.
    let mut mails = vec![sink.next_mail(Duration::from_secs(30)).await];
    mails.extend(sink.drain(QUIET).await);
    assert_eq!(
        sink.count(),
        3,
        "exactly one regression alert and one notice"
    );
    mails.sort_by_key(|m| {
        m.header("subject")
            .unwrap_or_default()
            .contains("which you resolved")
    });
    let (regression, notice) = (&mails[0], &mails[1]);
    let text = regression.part("text/plain").expect("a text body");
    assert!(text.to_lowercase().contains("regress"), "{text}");
    assert!(
        notice
            .header("subject")
            .is_some_and(|s| s.contains("which you resolved, regressed")),
        "{:?}",
        notice.header("subject")
    );
    for later in [regression, notice] {
        assert_eq!(
            later.header("in-reply-to"),
            mail.header("in-reply-to"),
            "one issue's mails thread together"
        );
    }

    // The rule shows that it fired, and how often.
    let (_, rules) = server.api_get(RULES).await;
    assert_eq!(rules[0]["timesFired"], 2, "{rules}");
    assert!(rules[0]["lastTriggered"].is_string(), "{rules}");
}

#[tokio::test]
async fn a_burst_of_new_issues_is_one_digest_per_recipient() {
    let mut sink = submission_sink();
    // The digest waits for 10 s without a new issue (a loaded machine may pause the SDK for
    // seconds): the whole burst is one digest.
    let server = mailing_server(
        &sink,
        Engine::Sqlite,
        &[
            ("ERRHOUND_NOTIFY__DIGEST_DELAY_S", "10"),
            ("ERRHOUND_NOTIFY__DIGEST_MAX", "1000"),
        ],
    )
    .await;
    let sent = sent_ids(&run_python(
        "send_events.py",
        &[&server.dsn, "distinct", "1000"],
    ));
    assert_eq!(sent.len(), 1000);
    let digest = sink.next_mail(Duration::from_secs(60)).await;
    let subject = digest.header("subject").unwrap_or_default().to_owned();
    assert!(subject.contains("1000"), "{subject}");
    let text = digest.part("text/plain").expect("a text body");
    assert_eq!(
        text.matches("/organizations/errhound/issues/").count(),
        1000,
        "every issue listed once"
    );
    tokio::time::sleep(QUIET).await;
    assert_eq!(sink.count(), 1, "one digest, not 1,000 mails");
}

/// Polls the project's alerts page until `ready` holds for it.
async fn alerts_page_until(
    session: &crate::ui::UiSession,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = session
            .get("/settings/errhound/projects/default/alerts/")
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        if ready(&page.body) {
            return page.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the alerts page never showed {what}:\n{}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `data-delivery` ids of a page's rows in the dead-letter table.
fn dead_ids(body: &str) -> Vec<String> {
    let Some(start) = body.find("id=\"dead-letters\"") else {
        return Vec::new();
    };
    body[start..]
        .split("data-delivery=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_alerts_page_shows_rules_deliveries_and_dead_letters_and_retries_them() {
    // No [mail]: the default rule's mail cannot be sent and is given up on at once, with why.
    let server = TestServer::start_with(
        binary(),
        ServerOptions {
            database_url: None,
            env: vec![("ERRHOUND_NOTIFY__DIGEST_DELAY_S".into(), "1".into())],
        },
    )
    .await;
    let admin = crate::ui::UiSession::login(&server).await;
    let before = alerts_page_until(&admin, "the default rule", |b| b.contains("data-rule=")).await;
    assert!(before.contains("Send a notification for new issues and regressions"));
    assert!(before.contains("A new issue is created"), "{before}");
    assert!(before.contains(">never<"), "not fired yet: {before}");
    assert!(dead_ids(&before).is_empty());

    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    server.wait_for_events(1, Duration::from_secs(30)).await;
    let body = alerts_page_until(&admin, "a dead letter", |b| !dead_ids(b).is_empty()).await;
    let dead = dead_ids(&body);
    assert_eq!(dead.len(), 1, "one delivery, given up on: {body}");
    assert!(
        body.contains("mail is not configured"),
        "the dead letter says why: {body}"
    );
    assert!(
        body.contains("class=\"times-fired\">1<"),
        "fired once: {body}"
    );
    let metrics = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/metrics", server.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("errhound_outbox_deliveries{state=\"dead\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("errhound_notification_deliveries_total{plugin=\"mail\""),
        "{metrics}"
    );

    // The rule's preview on the last 7 days: the one new issue, once.
    let rule_id = before
        .split("data-rule=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let preview = admin
        .get(&format!(
            "/settings/errhound/projects/default/alerts/{rule_id}/preview/"
        ))
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.body.contains("class=\"fires\">1<"),
        "one fire in the preview: {}",
        preview.body
    );
    // Send test notification: mail is not configured, and the flash says so for the action.
    let test = admin
        .post(
            &format!("/settings/errhound/projects/default/alerts/{rule_id}/test/"),
            &[],
        )
        .await;
    assert_eq!(test.status, 303, "{}", test.body);
    let flashed = admin
        .get("/settings/errhound/projects/default/alerts/")
        .await;
    assert!(
        flashed.body.contains(
            "Send a notification to IssueOwners: not sent, not configured: mail is not configured"
        ),
        "{}",
        flashed.body
    );
    assert_eq!(dead_ids(&flashed.body), dead, "a test writes no delivery");

    // Retry now: the delivery is tried again (and fails again, still unconfigured).
    let retry = format!(
        "/settings/errhound/projects/default/alerts/deliveries/{}/retry/",
        dead[0]
    );
    let answer = admin.post(&retry, &[]).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let again = alerts_page_until(&admin, "a second attempt", |b| {
        b.contains("class=\"small attempts\">2<")
    })
    .await;
    assert_eq!(dead_ids(&again), dead, "the same delivery, dead again");
    // A delivery that is not dead (or not this project's) cannot be retried.
    let other = admin
        .post(
            "/settings/errhound/projects/default/alerts/deliveries/999999/retry/",
            &[],
        )
        .await;
    assert_eq!(other.status, 404);
    // Without the session's token, nothing happens.
    let forged = admin.post(&retry, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
}

#[tokio::test]
async fn a_test_notification_mails_the_latest_issue_now_labelled_as_a_test() {
    let mut sink = submission_sink();
    let server = mailing_server(&sink, Engine::Sqlite, &[]).await;
    const TEST: &str = "projects/errhound/default/rule-actions/";
    let mail_action =
        json!({"id": NOTIFY_EMAIL, "targetType": "IssueOwners", "targetIdentifier": ""});

    // No issue yet: nothing to show, and the answer says so.
    let body = json!({"name": "Checkout errors", "actions": [mail_action]});
    let (status, refused) = server.api_send(Method::POST, TEST, &body, None).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["actions"][0]
            .as_str()
            .unwrap_or_default()
            .contains("no issue yet"),
        "{refused}"
    );

    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    server.wait_for_events(1, Duration::from_secs(30)).await;
    // The default rule's real alert first.
    let real = sink.next_mail(Duration::from_secs(30)).await;
    assert!(
        !real
            .part("text/plain")
            .unwrap_or_default()
            .contains("Test notification")
    );
    let rules_fired_before = server.api_get(RULES).await.1[0]["timesFired"].clone();

    let (status, answer) = server.api_send(Method::POST, TEST, &body, None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcomes"][0]["sent"], true, "{answer}");
    assert_eq!(answer["outcomes"][0]["plugin"], "mail", "{answer}");
    let test = sink.next_mail(Duration::from_secs(30)).await;
    assert_eq!(
        test.rcpt_tos, real.rcpt_tos,
        "the recipients of a real alert"
    );
    let text = test.part("text/plain").expect("a text body");
    assert!(
        text.contains("Test notification: Checkout errors"),
        "{text}"
    );
    assert!(
        test.part("text/html")
            .unwrap_or_default()
            .contains("Test notification: Checkout errors")
    );
    assert!(
        text.contains("/organizations/errhound/issues/"),
        "a link to the issue: {text}"
    );
    // Nothing went through the outbox: no rule fired, no delivery recorded.
    assert_eq!(
        server.api_get(RULES).await.1[0]["timesFired"],
        rules_fired_before
    );

    // A plugin that is not on in the project: 400 naming the action and why.
    let webhook = json!({"actions": [{"id": NOTIFY_SERVICE, "service": "webhooks"}]});
    let (status, failed) = server.api_send(Method::POST, TEST, &webhook, None).await;
    assert_eq!(status, 400, "{failed}");
    assert_eq!(failed["outcomes"][0]["sent"], false, "{failed}");
    assert!(
        failed["actions"][0]
            .as_str()
            .unwrap_or_default()
            .contains("not enabled"),
        "{failed}"
    );
    // No actions, or an unknown one: Sentry's field errors.
    let (status, _) = server
        .api_send(Method::POST, TEST, &json!({"actions": []}), None)
        .await;
    assert_eq!(status, 400);
    let (status, unknown) = server
        .api_send(
            Method::POST,
            TEST,
            &json!({"actions": [{"id": "nope"}]}),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        unknown["actions"][0]
            .as_str()
            .unwrap_or_default()
            .contains("unknown action"),
        "{unknown}"
    );
    assert_eq!(sink.count(), 2, "one real alert and one test, nothing else");
}

#[tokio::test]
async fn ui_browser_a_rule_is_previewed_tested_saved_edited_and_deleted() {
    let mut sink = submission_sink();
    let server = mailing_server(&sink, Engine::Sqlite, &[]).await;
    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    server.wait_for_events(1, Duration::from_secs(30)).await;
    let real = sink.next_mail(Duration::from_secs(30)).await;
    crate::ui::run_browser_tests(&server, "alerts.test.mjs", &[]);
    // The browser's "Send test notification" of the unsaved form reached the SMTP server.
    let test = sink.next_mail(Duration::from_secs(30)).await;
    assert_eq!(test.rcpt_tos, real.rcpt_tos);
    let text = test.part("text/plain").expect("a text body");
    assert!(
        text.contains("Test notification: Checkout errors"),
        "{text}"
    );
    // Saved, edited, then deleted: only the default rule is left, and the audit log has all three.
    let (_, rules) = server.api_get(RULES).await;
    assert_eq!(rules.as_array().map(Vec::len), Some(1), "{rules}");
    let events = server.audit_events().await;
    for wanted in ["rule.add", "rule.edit", "rule.remove"] {
        assert!(events.iter().any(|e| e == wanted), "{wanted} in {events:?}");
    }
}
