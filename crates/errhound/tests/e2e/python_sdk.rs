//! The official Python SDK (`sentry-sdk` from PyPI) against a running server.

use std::collections::HashMap;
use std::time::Duration;

use errhound_test_utils::TestServer;
use errhound_test_utils::sdk::run_python;
use serde_json::Value;

use crate::binary;

/// Scenario tag -> event ids, from the script's output.
fn sent(output: &str) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for line in output.lines() {
        if let Some((tag, id)) = line.split_once(' ') {
            map.entry(tag.to_owned()).or_default().push(id.to_owned());
        }
    }
    map
}

/// The issue that holds `event_id`, via the project event endpoint.
async fn issue_of(server: &TestServer, event_id: &str) -> Value {
    let (status, event) = server
        .api_get(&format!("projects/errhound/default/events/{event_id}/"))
        .await;
    assert_eq!(status, 200, "event {event_id}: {event}");
    let issue_id = event["groupID"].as_str().unwrap().to_owned();
    let (status, issue) = server.api_get(&format!("issues/{issue_id}/")).await;
    assert_eq!(status, 200);
    issue
}

#[tokio::test]
async fn same_site_groups_and_different_sites_split() {
    let server = TestServer::start(binary()).await;
    let sent = sent(&run_python("send_events.py", &[&server.dsn, "grouping"]));
    assert_eq!(sent["charge"].len(), 3);
    assert_eq!(sent["inventory"].len(), 2);
    server.wait_for_events(5, Duration::from_secs(30)).await;

    let charge = issue_of(&server, &sent["charge"][0]).await;
    for id in &sent["charge"] {
        assert_eq!(
            issue_of(&server, id).await["id"],
            charge["id"],
            "every charge event in one issue"
        );
    }
    assert_eq!(charge["count"], "3");
    assert_eq!(charge["title"], "ZeroDivisionError: division by zero");
    assert_eq!(charge["culprit"], "__main__ in charge_card");
    assert_eq!(charge["level"], "error");
    assert_eq!(charge["status"], "unresolved");
    assert_eq!(charge["firstRelease"]["version"], "shop@1.2.3");

    let inventory = issue_of(&server, &sent["inventory"][0]).await;
    assert_ne!(
        inventory["id"], charge["id"],
        "a different site is a different issue"
    );
    assert_eq!(inventory["count"], "2");
    assert!(inventory["title"].as_str().unwrap().starts_with("KeyError"));
    assert_eq!(server.issues().await.len(), 2);
}

#[tokio::test]
async fn custom_and_salted_fingerprints_are_honoured() {
    let server = TestServer::start(binary()).await;
    let sent = sent(&run_python("send_events.py", &[&server.dsn, "fingerprint"]));
    server.wait_for_events(4, Duration::from_secs(30)).await;

    let a = issue_of(&server, &sent["custom"][0]).await;
    let b = issue_of(&server, &sent["custom"][1]).await;
    assert_eq!(
        a["id"], b["id"],
        "two sites, one custom fingerprint, one issue"
    );
    assert_eq!(a["count"], "2");

    let acme = issue_of(&server, &sent["salted-acme"][0]).await;
    let globex = issue_of(&server, &sent["salted-globex"][0]).await;
    assert_ne!(acme["id"], globex["id"], "one site split by the salt");
    assert_ne!(acme["id"], a["id"]);
    assert_eq!(server.issues().await.len(), 3);
}

#[tokio::test]
async fn messages_group_with_parameters_stripped_and_keep_tags_and_user() {
    let server = TestServer::start(binary()).await;
    let sent = sent(&run_python("send_events.py", &[&server.dsn, "message"]));
    server.wait_for_events(2, Duration::from_secs(30)).await;
    let first = issue_of(&server, &sent["message"][0]).await;
    let second = issue_of(&server, &sent["message"][1]).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["level"], "warning");
    assert_eq!(first["userCount"], 1);

    let (status, event) = server
        .api_get(&format!(
            "projects/errhound/default/events/{}/",
            sent["message"][1]
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(event["message"], "Payment 5678 failed for order 100");
    assert_eq!(event["user"]["email"], "jane@example.org");
    let tags: Vec<(String, String)> = event["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_owned(),
                t["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("checkout.step", "payment"),
        ("environment", "production"),
        ("release", "shop@1.2.3"),
        ("level", "warning"),
        ("user", "id:42"),
    ] {
        assert!(
            tags.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "missing tag {expected:?} in {tags:?}"
        );
    }
    // Tag search through the issue list finds it; another value does not.
    let (_, found) = server
        .api_get("projects/errhound/default/issues/?query=checkout.step:payment")
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (_, none) = server
        .api_get("projects/errhound/default/issues/?query=checkout.step:shipping")
        .await;
    assert_eq!(none.as_array().unwrap().len(), 0);
}
