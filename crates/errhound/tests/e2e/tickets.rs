//! Tickets and notifications on the issue page. With the real Python SDK and a stand-in that
//! follows Jira's REST API v2 on loopback: Jira configured for the project through the plugin
//! API; a ticket created from the issue page as a browser posts the form (the stand-in receives
//! Jira's JSON with basic authentication), shown on the page and in the API's `annotations`
//! (detail and list); an existing ticket linked (replacing the link), unlinked; the legacy
//! plugin endpoints in Sentry's shapes (`GET /issues/{id}/plugins/jira/create|link/` the forms'
//! fields, `POST .../create|link|unlink/`); a wrong token and an unknown key shown as messages
//! and 400s, never as server errors; members without `project:write` offered nothing and
//! refused. And the delivery history of the issue's alerts.

use std::time::Duration;

use base64::Engine as _;
use errhound_store::Engine;
use errhound_test_utils::sdk::run_python;
use errhound_test_utils::{JiraStandIn, ServerOptions, TestServer};
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::binary;
use crate::ui::UiSession;

const JIRA: &str = "projects/errhound/default/plugins/jira/";

async fn server_on(engine: Engine) -> TestServer {
    let database_url = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => Some(errhound_test_utils::postgres::fresh_database().await),
    };
    let env = vec![
        // The stand-in listens on loopback.
        (
            "ERRHOUND_NOTIFY__ALLOW_PRIVATE_TARGETS".to_owned(),
            "true".to_owned(),
        ),
        ("ERRHOUND_NOTIFY__DIGEST_DELAY_S".to_owned(), "1".to_owned()),
    ];
    TestServer::start_with(binary(), ServerOptions { database_url, env }).await
}

async fn configure_jira(server: &TestServer, jira: &JiraStandIn, token: &str) {
    let (status, body) = server.api_send(Method::POST, JIRA, &json!({}), None).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .api_put(
            JIRA,
            &json!({
                "instance_url": jira.url(),
                "username": "bot@example.com",
                "api_token": token,
                "project_key": "OPS",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The issue page after a form post answered `posted` (a redirect back to it, with its message).
async fn after(session: &UiSession, posted: &crate::ui::Page, issue_page: &str) -> String {
    assert_eq!(posted.status, 303, "{}", posted.body);
    let location = posted.headers["location"].to_str().unwrap();
    assert!(location.starts_with(issue_page), "{location}");
    let page = session.get(issue_page).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body
}

fn ticket_keys(body: &str) -> Vec<String> {
    body.split("class=\"ticket-key\" href=\"")
        .skip(1)
        .filter_map(|rest| {
            let (href, rest) = rest.split_once('"')?;
            let key = rest.split_once('>')?.1.split('<').next()?;
            Some(format!("{key} {href}"))
        })
        .collect()
}

async fn annotations(server: &TestServer, issue_id: &str) -> (Value, Value) {
    let (status, detail) = server.api_get(&format!("issues/{issue_id}/")).await;
    assert_eq!(status, 200, "{detail}");
    let listed = server
        .issues()
        .await
        .into_iter()
        .find(|i| i["id"] == issue_id)
        .expect("the issue is listed");
    (detail["annotations"].clone(), listed["annotations"].clone())
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn jira_tickets_are_created_linked_and_unlinked_from_the_issue_page_and_the_api(
    #[case] engine: Engine,
) {
    let jira = JiraStandIn::start("bot@example.com", "tok-123", &["OPS"]).await;
    let server = server_on(engine).await;
    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    let issues = server.wait_for_events(1, Duration::from_secs(30)).await;
    let issue_id = issues[0]["id"].as_str().unwrap().to_owned();
    // Before Jira is set up for the project its forms are a config error, as in Sentry.
    let (status, answer) = server
        .api_get(&format!("issues/{issue_id}/plugins/jira/create/"))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error_type"], "config", "{answer}");
    configure_jira(&server, &jira, "tok-123").await;
    let title = issues[0]["title"].as_str().unwrap().to_owned();
    let page_path = format!("/organizations/errhound/issues/{issue_id}/");
    let (listed, _) = annotations(&server, &issue_id).await;
    assert_eq!(listed, json!([]), "nothing linked yet");

    // The page offers both forms, the title prefilled.
    let admin = UiSession::login(&server).await;
    let page = admin.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Create Jira issue"), "{}", page.body);
    assert!(page.body.contains("Link existing Jira issue"));
    assert!(
        page.body
            .contains(&format!("name=\"title\" value=\"{title}\"")),
        "{}",
        page.body
    );

    // Create, as the browser posts the form.
    let posted = admin
        .post(
            &format!("{page_path}plugins/jira/create/"),
            &[("title", &title), ("description", "Seen at checkout.")],
        )
        .await;
    let body = after(&admin, &posted, &page_path).await;
    assert!(body.contains("Issue OPS-1 created."), "{body}");
    let browse = format!("{}/browse/OPS-1", jira.url());
    assert_eq!(ticket_keys(&body), [format!("OPS-1 {browse}")], "{body}");
    assert!(
        body.contains("created Jira issue OPS-1"),
        "the activity: {body}"
    );
    let created = jira.issues();
    assert_eq!(created.len(), 1);
    let basic = base64::engine::general_purpose::STANDARD.encode("bot@example.com:tok-123");
    assert_eq!(created[0].authorization, format!("Basic {basic}"));
    assert_eq!(created[0].version, "2");
    let fields = &created[0].fields;
    assert_eq!(fields["project"]["key"], "OPS");
    assert_eq!(fields["issuetype"]["name"], "Bug");
    assert_eq!(fields["summary"], title.as_str());
    let description = fields["description"].as_str().unwrap();
    assert!(
        description.starts_with("Seen at checkout.")
            && description.contains(&format!("{}{page_path}", server.base_url)),
        "the description links the issue: {description}"
    );
    let annotation = json!([{"displayName": "OPS-1", "url": browse}]);
    assert_eq!(
        annotations(&server, &issue_id).await,
        (annotation.clone(), annotation)
    );

    // Linking an existing ticket replaces the link (a key in any case).
    let known = jira.seed("OPS", "Checkout is slow");
    assert_eq!(known, "OPS-2");
    let posted = admin
        .post(
            &format!("{page_path}plugins/jira/link/"),
            &[("key", "ops-2")],
        )
        .await;
    let body = after(&admin, &posted, &page_path).await;
    assert!(body.contains("Issue OPS-2 linked."), "{body}");
    let browse2 = format!("{}/browse/OPS-2", jira.url());
    assert_eq!(ticket_keys(&body), [format!("OPS-2 {browse2}")], "{body}");
    assert!(body.contains("linked Jira issue OPS-2"), "{body}");

    // A key Jira does not know: the message says so, the link stays.
    let posted = admin
        .post(
            &format!("{page_path}plugins/jira/link/"),
            &[("key", "OPS-99")],
        )
        .await;
    let body = after(&admin, &posted, &page_path).await;
    assert!(
        body.contains("The Jira issue was not linked: Jira has no issue OPS-99"),
        "{body}"
    );
    assert_eq!(ticket_keys(&body), [format!("OPS-2 {browse2}")]);
    let posted = admin
        .post(&format!("{page_path}plugins/jira/link/"), &[("key", " ")])
        .await;
    let body = after(&admin, &posted, &page_path).await;
    assert!(
        body.contains("The ticket was not linked: Issue is a required field."),
        "{body}"
    );
    assert_eq!(ticket_keys(&body), [format!("OPS-2 {browse2}")]);

    // Unlink.
    let posted = admin
        .post(&format!("{page_path}plugins/jira/unlink/"), &[])
        .await;
    let body = after(&admin, &posted, &page_path).await;
    assert!(body.contains("Issue OPS-2 unlinked."), "{body}");
    assert!(ticket_keys(&body).is_empty(), "{body}");
    assert_eq!(annotations(&server, &issue_id).await.0, json!([]));

    // Sentry's legacy plugin endpoints: the forms' fields first.
    let api = |action: &str| format!("issues/{issue_id}/plugins/jira/{action}/");
    let (status, fields) = server.api_get(&api("create")).await;
    assert_eq!(status, 200, "{fields}");
    assert_eq!(
        fields,
        json!([
            {"name": "title", "label": "Title", "default": title, "type": "text",
             "required": true},
            {"name": "description", "label": "Description", "default": "", "type": "textarea",
             "required": false, "help": "A link to this issue is added."},
        ])
    );
    let (status, fields) = server.api_get(&api("link")).await;
    assert_eq!(status, 200, "{fields}");
    assert_eq!(
        fields,
        json!([{"name": "issue_id", "label": "Issue", "default": "", "type": "text",
                "required": true, "help": "The key of the ticket, like OPS-12."}])
    );
    let (status, _) = server
        .api_get(&format!("issues/{issue_id}/plugins/webhooks/link/"))
        .await;
    assert_eq!(status, 404, "a notification plugin has no ticket forms");
    let (status, answer) = server
        .api_send(
            Method::POST,
            &api("create"),
            &json!({"title": "From a script", "description": "Filed by CI."}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let browse3 = format!("{}/browse/OPS-3", jira.url());
    assert_eq!(
        answer,
        json!({"issue_url": browse3, "link": browse3, "label": "OPS-3", "id": "OPS-3"})
    );
    let (status, answer) = server
        .api_send(
            Method::POST,
            &api("link"),
            &json!({"issue_id": "OPS-1"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"message": "Successfully linked issue.", "link": browse, "label": "OPS-1",
               "id": "OPS-1"})
    );
    assert_eq!(
        annotations(&server, &issue_id).await.0,
        json!([{"displayName": "OPS-1", "url": browse}])
    );

    // Unlinking through the API: a GET does not, a POST does, once.
    let (status, _) = server.api_get(&api("unlink")).await;
    assert_eq!(status, 405, "only a POST unlinks");
    let (status, answer) = server
        .api_send(Method::POST, &api("unlink"), &json!({}), None)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"message": "Successfully unlinked issue."}));
    assert_eq!(annotations(&server, &issue_id).await.0, json!([]));
    let (status, answer) = server
        .api_send(Method::POST, &api("unlink"), &json!({}), None)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["message"], "No issues to unlink.");
    let (status, answer) = server
        .api_send(
            Method::POST,
            &api("link"),
            &json!({"issue_id": "OPS-1"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    // Sentry's validation errors.
    let (status, answer) = server
        .api_send(Method::POST, &api("create"), &json!({"title": " "}), None)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error_type"], "validation", "{answer}");
    assert_eq!(answer["errors"]["title"], "Title is a required field.");
    let (status, answer) = server
        .api_send(Method::POST, &api("link"), &json!({}), None)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"]["issue_id"], "Issue is a required field.");
    let (status, answer) = server
        .api_send(
            Method::POST,
            &api("link"),
            &json!({"issue_id": "OPS-99"}),
            None,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error_type"], "validation");
    assert!(
        answer["errors"]["__all__"]
            .as_str()
            .is_some_and(|m| m.contains("(404)")),
        "{answer}"
    );
    let (status, _) = server
        .api_send(
            Method::POST,
            &format!("issues/{issue_id}/plugins/webhooks/create/"),
            &json!({"title": "x"}),
            None,
        )
        .await;
    assert_eq!(status, 404, "a notification plugin makes no tickets");

    // A wrong token: a clear message on the page and a 400 on the API, never a 500.
    let (status, body) = server
        .api_put(JIRA, &json!({"api_token": "not-the-token"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let posted = admin
        .post(
            &format!("{page_path}plugins/jira/create/"),
            &[("title", "Again"), ("description", "")],
        )
        .await;
    let body = after(&admin, &posted, &page_path).await;
    assert!(
        body.contains(
            "The Jira issue was not created: Jira refused the user bot@example.com and API token (401)"
        ),
        "{body}"
    );
    let (status, answer) = server
        .api_send(
            Method::POST,
            &api("create"),
            &json!({"title": "Again"}),
            None,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["detail"].as_str().unwrap().contains("(401)"),
        "{answer}"
    );
    assert_eq!(jira.issues().len(), 3, "nothing more was created");

    // Without the session's token nothing happens.
    let forged = admin
        .post(
            &format!("{page_path}plugins/jira/unlink/"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        annotations(&server, &issue_id)
            .await
            .0
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A member (project:read, no project:write) sees the ticket but no forms, and may not post
    // them; through the API they may read a form but not act.
    let member_token = server.create_member("member@a.test");
    let (status, fields) = server
        .api_send(Method::GET, &api("create"), &json!({}), Some(&member_token))
        .await;
    assert_eq!(status, 200, "{fields}");
    for action in ["create", "link", "unlink"] {
        let (status, answer) = server
            .api_send(
                Method::POST,
                &api(action),
                &json!({"title": "x", "issue_id": "OPS-2"}),
                Some(&member_token),
            )
            .await;
        assert_eq!(status, 403, "{action}: {answer}");
    }
    let member = UiSession::login_as(&server, "member@a.test", "member-password-1").await;
    let page = member.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(ticket_keys(&page.body), [format!("OPS-1 {browse}")]);
    assert!(!page.body.contains("Create Jira issue"), "{}", page.body);
    assert!(
        !page.body.contains("/plugins/jira/unlink/"),
        "{}",
        page.body
    );
    for (action, form) in [
        ("create", [("title", "x")]),
        ("link", [("key", "OPS-2")]),
        ("unlink", [("x", "")]),
    ] {
        let refused = member
            .post(&format!("{page_path}plugins/jira/{action}/"), &form)
            .await;
        assert_eq!(refused.status, 403, "{action}");
    }
    assert_eq!(jira.issues().len(), 3, "the member created nothing");
    assert_eq!(
        annotations(&server, &issue_id).await.0,
        json!([{"displayName": "OPS-1", "url": browse}]),
        "the member changed no link"
    );
}

#[tokio::test]
async fn the_issue_page_lists_the_deliveries_of_its_alerts() {
    // No [mail]: the default rule's mail for the new issue is given up on at once, with why.
    let server = server_on(Engine::Sqlite).await;
    let admin = UiSession::login(&server).await;
    run_python("send_events.py", &[&server.dsn, "burst", "1"]);
    let issues = server.wait_for_events(1, Duration::from_secs(30)).await;
    let page_path = format!(
        "/organizations/errhound/issues/{}/",
        issues[0]["id"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let body = loop {
        let page = admin.get(&page_path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let notifications = page
            .body
            .split("id=\"notifications\"")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if notifications.contains("data-state=\"dead\"") {
            break notifications;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery on the issue page:\n{}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        body.contains("Send a notification to IssueOwners"),
        "the target: {body}"
    );
    assert!(body.contains("class=\"small attempts\">1<"), "{body}");
    assert!(
        body.contains("mail · failed"),
        "the attempt and its plugin: {body}"
    );
    assert!(
        body.contains("class=\"small last-error\">not configured: mail is not configured"),
        "the last error: {body}"
    );

    // Someone who cannot see the project does not get the page at all.
    server.create_user("outsider@b.test", None);
    let outsider = UiSession::login_as(&server, "outsider@b.test", "member-password-1").await;
    assert_eq!(outsider.get(&page_path).await.status, 404);
}
