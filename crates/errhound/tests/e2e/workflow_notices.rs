//! Workflow notices by mail, with the real Python SDK and a real SMTP server: an assignment
//! mails the assignee once (not the one who assigned); a comment (from the UI and from Sentry's
//! `POST .../comments/`) mails everyone else who took part, not its author and not a member who
//! never touched the issue; a deactivated participant and one who switched workflow notices off
//! get nothing; an assignment to a team mails its members but the one who assigned it; a
//! regression mails whoever resolved the issue, besides the rule's alert.

use std::collections::BTreeMap;
use std::time::Duration;

use errhound_store::Engine;
use errhound_test_utils::sdk::run_python;
use errhound_test_utils::server::ADMIN_EMAIL;
use errhound_test_utils::smtp::{ReceivedMail, SmtpSink};
use errhound_test_utils::{ServerOptions, TestServer};
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::access::join_team;
use crate::binary;
use crate::ui::UiSession;

const PASSWORD: &str = "member-password-1";

/// Long enough for a notice to be written, claimed and sent (the sender polls every second).
const QUIET: Duration = Duration::from_secs(5);

async fn mailing_server(sink: &SmtpSink, engine: Engine) -> TestServer {
    let env = vec![
        ("ERRHOUND_MAIL__URL".to_owned(), sink.url("smtp+plain")),
        (
            "ERRHOUND_MAIL__FROM".to_owned(),
            "Errhound <errhound@test.local>".to_owned(),
        ),
        ("ERRHOUND_NOTIFY__DIGEST_DELAY_S".to_owned(), "1".to_owned()),
    ];
    let database_url = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => Some(errhound_test_utils::postgres::fresh_database().await),
    };
    TestServer::start_with(binary(), ServerOptions { database_url, env }).await
}

/// Every mail that arrives until the sink has been quiet for [`QUIET`], by recipient.
async fn mails_until_quiet(sink: &mut SmtpSink) -> BTreeMap<String, Vec<ReceivedMail>> {
    let mut out: BTreeMap<String, Vec<ReceivedMail>> = BTreeMap::new();
    for mail in sink.drain(QUIET).await {
        for to in &mail.rcpt_tos {
            out.entry(to.clone()).or_default().push(mail.clone());
        }
    }
    out
}

fn subject(mail: &ReceivedMail) -> String {
    mail.header("subject").unwrap_or_default().to_owned()
}

/// A member of the organization on the project's team, with an API token.
async fn member(server: &TestServer, email: &str) -> String {
    let token = server.create_member(email);
    join_team(server, email).await;
    token
}

/// Sends one error and returns its issue's id and short id, once its alert mail is read.
async fn first_issue(server: &TestServer, sink: &mut SmtpSink) -> (String, String) {
    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    server.wait_for_events(1, Duration::from_secs(30)).await;
    let alert = sink.next_mail(Duration::from_secs(30)).await;
    assert_eq!(alert.rcpt_tos, [ADMIN_EMAIL], "the default rule's alert");
    let issues = server.issues().await;
    let id = issues[0]["id"].as_str().unwrap().to_owned();
    let short_id = issues[0]["shortId"].as_str().unwrap().to_owned();
    (id, short_id)
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn assignments_and_comments_mail_the_people_concerned(#[case] engine: Engine) {
    let mut sink = SmtpSink::start(Default::default())
        .expect("the notice tests need the Python of scripts/test.sh (SDK_PYTHON)");
    let server = mailing_server(&sink, engine).await;
    let (issue_id, short_id) = first_issue(&server, &mut sink).await;
    let issue_path = format!("issues/{issue_id}/");
    let ann = "ann@a.test";
    member(&server, ann).await;
    let bob = member(&server, "bob@a.test").await;
    member(&server, "cid@a.test").await; // never touches the issue
    let dee = member(&server, "dee@a.test").await;
    let eve = member(&server, "eve@a.test").await;

    // The admin assigns the issue to Ann: one mail, to Ann.
    let (status, body) = server
        .api_put(&issue_path, &json!({"assignedTo": ann}))
        .await;
    assert_eq!(status, 200, "{body}");
    let mails = mails_until_quiet(&mut sink).await;
    assert_eq!(mails.keys().collect::<Vec<_>>(), [ann], "{mails:?}");
    let assigned = &mails[ann];
    assert_eq!(assigned.len(), 1, "once");
    let line = subject(&assigned[0]);
    assert!(
        line.ends_with(&format!("Admin assigned {short_id} to you")),
        "the actor by name: {line}"
    );
    let text = assigned[0].part("text/plain").unwrap();
    let link = format!(
        "{}/organizations/errhound/issues/{issue_id}/",
        server.base_url
    );
    assert!(text.contains(&link), "{text}");
    assert!(
        assigned[0]
            .header("list-id")
            .is_some_and(|l| l.contains("default.errhound")),
        "the alerts' List-Id: {:?}",
        assigned[0].header("list-id")
    );
    assert_eq!(
        assigned[0].header("in-reply-to").map(str::to_owned),
        Some(format!("<issue-{issue_id}@127.0.0.1>")),
        "in the issue's thread"
    );

    // Dee resolves and Eve unresolves it: they take part, and a status change mails no one.
    for (token, status) in [(&dee, "resolved"), (&eve, "unresolved")] {
        let (code, body) = server
            .api_send(
                Method::PUT,
                &issue_path,
                &json!({"status": status}),
                Some(token),
            )
            .await;
        assert_eq!(code, 200, "{body}");
    }
    // Eve turns workflow notices off on her notification page; Dee is deactivated.
    let eve_ui = UiSession::login_as(&server, "eve@a.test", PASSWORD).await;
    let page = eve_ui.get("/settings/account/notifications/").await;
    assert!(
        page.body.contains("Workflow notifications"),
        "{}",
        page.body
    );
    let saved = eve_ui
        .post(
            "/settings/account/notifications/workflow/",
            &[("workflow", "off")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = eve_ui.get("/settings/account/notifications/").await;
    assert!(
        page.body.contains(r#"name="workflow" value="on""#),
        "the switch shows off: {}",
        page.body
    );
    server.cli(&["user", "disable", "--email", "dee@a.test"]);
    assert_eq!(
        mails_until_quiet(&mut sink).await.len(),
        0,
        "status changes and switches mail nobody"
    );

    // The admin comments in the UI: Ann (the assignee) is told; Dee, Eve, Cid and the admin
    // are not.
    let admin_ui = UiSession::login(&server).await;
    let page = admin_ui
        .post(
            &format!("/organizations/errhound/issues/{issue_id}/comments/"),
            &[("text", "Seen on checkout only.")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let mails = mails_until_quiet(&mut sink).await;
    assert_eq!(mails.keys().collect::<Vec<_>>(), [ann], "{mails:?}");
    let line = subject(&mails[ann][0]);
    assert!(line.contains("New comment by Admin"), "{line}");
    assert!(line.contains(&format!("on {short_id}")), "{line}");
    let text = mails[ann][0].part("text/plain").unwrap();
    assert!(text.contains("> Seen on checkout only."), "{text}");

    // Bob comments through Sentry's API: Ann and the admin (who commented) hear of it, once each.
    let (status, body) = server
        .api_send(
            Method::POST,
            &format!("{issue_path}comments/"),
            &json!({"text": "Bob's <b>guess</b>: a race."}),
            Some(&bob),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mails = mails_until_quiet(&mut sink).await;
    assert_eq!(
        mails.keys().map(String::as_str).collect::<Vec<_>>(),
        [ADMIN_EMAIL, ann],
        "the other participants only: {mails:?}"
    );
    for (to, received) in &mails {
        assert_eq!(received.len(), 1, "{to} once");
        let line = subject(&received[0]);
        assert!(line.contains("New comment by bob@a.test"), "{line}");
        let html = received[0].part("text/html").unwrap();
        assert!(html.contains("&lt;b&gt;guess&lt;/b&gt;"), "escaped: {html}");
    }

    // Bob, himself on the team, hands the issue to the team: its members hear of it, but not
    // Bob (the actor), nor Eve (switched off) nor Dee (deactivated).
    let (status, body) = server
        .api_send(
            Method::PUT,
            &issue_path,
            &json!({"assignedTo": "#errhound"}),
            Some(&bob),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mails = mails_until_quiet(&mut sink).await;
    assert_eq!(
        mails.keys().map(String::as_str).collect::<Vec<_>>(),
        [ADMIN_EMAIL, ann, "cid@a.test"],
        "the team but the actor: {mails:?}"
    );
    for (to, received) in &mails {
        assert_eq!(received.len(), 1, "{to} once");
        let line = subject(&received[0]);
        assert!(
            line.contains(&format!("bob@a.test assigned {short_id} to #errhound")),
            "{line}"
        );
    }
}

#[tokio::test]
async fn a_regression_mails_whoever_resolved_the_issue_besides_the_alert() {
    let mut sink = SmtpSink::start(Default::default())
        .expect("the notice tests need the Python of scripts/test.sh (SDK_PYTHON)");
    let server = mailing_server(&sink, Engine::Sqlite).await;
    let (issue_id, short_id) = first_issue(&server, &mut sink).await;
    let ann = "ann@a.test";
    let token = member(&server, ann).await;
    member(&server, "bob@a.test").await;
    let (status, body) = server
        .api_send(
            Method::PUT,
            &format!("issues/{issue_id}/"),
            &json!({"status": "resolved"}),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The same error again: the default rule alerts the team, and Ann hears that what she
    // resolved regressed.
    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    server.wait_for_events(2, Duration::from_secs(30)).await;
    let mails = mails_until_quiet(&mut sink).await;
    let notices: Vec<(&String, &ReceivedMail)> = mails
        .iter()
        .flat_map(|(to, list)| list.iter().map(move |m| (to, m)))
        .filter(|(_, m)| subject(m).contains("which you resolved, regressed"))
        .collect();
    assert_eq!(notices.len(), 1, "{mails:?}");
    assert_eq!(notices[0].0, ann);
    assert!(
        subject(notices[0].1).contains(&format!("{short_id}, which you resolved")),
        "{}",
        subject(notices[0].1)
    );
    for to in [ADMIN_EMAIL, ann, "bob@a.test"] {
        let alerts = mails[to]
            .iter()
            .filter(|m| !subject(m).contains("which you resolved"))
            .count();
        assert_eq!(alerts, 1, "the rule's regression alert reaches {to} once");
    }
    let activity: Value = server.api_get(&format!("issues/{issue_id}/")).await.1;
    assert_eq!(activity["status"], "unresolved", "{activity}");
}
