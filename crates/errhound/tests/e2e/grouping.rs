//! Grouping as users meet it: code redeployed with moved lines, rules and settings edited through
//! the project API, and the grouping explanation, with the real Python SDK.

use std::collections::HashMap;
use std::time::Duration;

use errhound_test_utils::TestServer;
use errhound_test_utils::sdk::run_python;
use reqwest::Method;
use serde_json::{Value, json};

use crate::binary;

const PROJECT: &str = "projects/errhound/default/";

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

/// The issue id of an event.
async fn issue_id(server: &TestServer, event_id: &str) -> String {
    let (status, event) = server
        .api_get(&format!("{PROJECT}events/{event_id}/"))
        .await;
    assert_eq!(status, 200, "event {event_id}: {event}");
    event["groupID"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn moved_lines_in_a_redeploy_stay_in_one_issue() {
    let server = TestServer::start(binary()).await;
    let sent = sent(&run_python("send_events.py", &[&server.dsn, "moved"]));
    server.wait_for_events(2, Duration::from_secs(30)).await;

    let v1 = issue_id(&server, &sent["moved-v1"][0]).await;
    let v2 = issue_id(&server, &sent["moved-v2"][0]).await;
    assert_eq!(
        v1, v2,
        "the same failure after lines moved is the same issue"
    );

    // The two events really differ in line numbers, so the test shows what it claims.
    let line = |event: Value| {
        let frames = event["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "exception")
            .unwrap()["data"]["values"][0]["stacktrace"]["frames"]
            .clone();
        frames.as_array().unwrap().last().unwrap()["lineNo"].clone()
    };
    let (_, first) = server
        .api_get(&format!("{PROJECT}events/{}/", sent["moved-v1"][0]))
        .await;
    let (_, second) = server
        .api_get(&format!("{PROJECT}events/{}/", sent["moved-v2"][0]))
        .await;
    assert_ne!(line(first), line(second));
}

#[tokio::test]
async fn a_fingerprint_rule_set_through_the_api_regroups_new_events() {
    let server = TestServer::start(binary()).await;
    let before = sent(&run_python("send_events.py", &[&server.dsn, "rule"]));
    server.wait_for_events(3, Duration::from_secs(30)).await;
    let zero_a = issue_id(&server, &before["zero"][0]).await;
    let zero_b = issue_id(&server, &before["zero"][1]).await;
    assert_ne!(zero_a, zero_b, "two sites are two issues without a rule");
    let other = issue_id(&server, &before["other"][0]).await;

    let rules = "# Every division by zero is one problem\n\
                 error.type:ZeroDivisionError -> division-by-zero title=\"Division by zero\"\n";
    let (status, body) = server
        .api_put(PROJECT, &json!({ "fingerprintingRules": rules }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fingerprintingRules"], rules);
    let (_, shown) = server.api_get(PROJECT).await;
    assert_eq!(
        shown["fingerprintingRules"], rules,
        "the rule text is kept as written"
    );

    let after = sent(&run_python("send_events.py", &[&server.dsn, "rule"]));
    server.wait_for_events(6, Duration::from_secs(30)).await;
    let new_a = issue_id(&server, &after["zero"][0]).await;
    let new_b = issue_id(&server, &after["zero"][1]).await;
    assert_eq!(new_a, new_b, "the rule puts both sites in one issue");
    assert_ne!(new_a, zero_a);
    assert_ne!(new_a, zero_b);
    assert_eq!(
        issue_id(&server, &after["other"][0]).await,
        other,
        "events the rule does not match keep their issue"
    );
    let (_, issue) = server.api_get(&format!("issues/{new_a}/")).await;
    assert_eq!(issue["title"], "Division by zero", "the rule's title");
    assert_eq!(issue["count"], "2");
}

#[tokio::test]
async fn invalid_rules_are_rejected_naming_the_line() {
    let server = TestServer::start(binary()).await;
    let (status, body) = server
        .api_put(
            PROJECT,
            &json!({ "fingerprintingRules": "# ok\nerror.type:Foo -> foo\nerror.type:Bar ->\n" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["fingerprintingRules"][0].as_str().unwrap();
    assert!(message.contains("line 3"), "{message}");

    let (status, body) = server
        .api_put(
            PROJECT,
            &json!({ "groupingEnhancements": "stack.module:myapp.** +app\nstack.function:foo +frobnicate\n" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["groupingEnhancements"][0].as_str().unwrap();
    assert!(message.contains("line 2"), "{message}");

    let (_, shown) = server.api_get(PROJECT).await;
    assert_eq!(shown["fingerprintingRules"], "", "nothing was saved");
    assert_eq!(shown["groupingEnhancements"], "");
}

#[tokio::test]
async fn project_settings_round_trip_and_need_an_admin() {
    let server = TestServer::start(binary()).await;
    let (status, shown) = server.api_get(PROJECT).await;
    assert_eq!(status, 200);
    assert_eq!(shown["dataScrubber"], true, "scrubbing is on by default");
    assert_eq!(shown["dataScrubberDefaults"], true);
    assert_eq!(shown["scrubIPAddresses"], false);
    assert_eq!(shown["sensitiveFields"], json!([]));
    assert_eq!(shown["secondaryGroupingConfig"], Value::Null);
    let (_, configs) = server.api_get("grouping-configs/").await;
    let latest = configs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["latest"] == true)
        .unwrap();
    assert_eq!(shown["groupingConfig"], latest["id"]);

    let member = server.create_member("dev@errhound.test");
    let (status, _) = server
        .api_send(Method::GET, PROJECT, &Value::Null, Some(&member))
        .await;
    assert_eq!(status, 200, "members see the project");
    let (status, body) = server
        .api_send(
            Method::PUT,
            PROJECT,
            &json!({ "dataScrubber": false }),
            Some(&member),
        )
        .await;
    assert_eq!(status, 403, "members cannot change it: {body}");

    let (status, body) = server
        .api_put(
            PROJECT,
            &json!({
                "name": "Web shop",
                "sensitiveFields": ["order_secret_ref", " "],
                "safeFields": ["session_length"],
                "scrubIPAddresses": true,
                "someFieldWeDoNotKnow": 1,
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, shown) = server.api_get(PROJECT).await;
    assert_eq!(shown["name"], "Web shop");
    assert_eq!(shown["sensitiveFields"], json!(["order_secret_ref"]));
    assert_eq!(shown["safeFields"], json!(["session_length"]));
    assert_eq!(shown["scrubIPAddresses"], true);
    assert_eq!(
        shown["dataScrubber"], true,
        "untouched fields keep their value"
    );

    for (body, field) in [
        (json!({ "slug": "Not A Slug" }), "slug"),
        (json!({ "slug": "1234" }), "slug"),
        (json!({ "name": "" }), "name"),
        (
            json!({ "groupingConfig": "legacy:2019-03-12" }),
            "groupingConfig",
        ),
    ] {
        let (status, answer) = server.api_put(PROJECT, &body).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(answer[field].is_array(), "{answer}");
    }
    let (status, _) = server
        .api_put(PROJECT, &json!(["not", "an", "object"]))
        .await;
    assert_eq!(status, 400);
    let (status, _) = server
        .api_put(
            "projects/errhound/no-such-project/",
            &json!({ "name": "x" }),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn grouping_info_explains_each_variant() {
    let server = TestServer::start(binary()).await;
    let sent = sent(&run_python("send_events.py", &[&server.dsn, "grouping"]));
    server.wait_for_events(5, Duration::from_secs(30)).await;
    let event_id = &sent["charge"][0];
    let issue = issue_id(&server, event_id).await;

    let (status, info) = server
        .api_get(&format!("{PROJECT}events/{event_id}/grouping-info/"))
        .await;
    assert_eq!(status, 200, "{info}");
    let variants = info["variants"].as_object().unwrap();
    let app = &variants["app"];
    assert_eq!(app["key"], "app");
    assert_eq!(app["contributes"], true);
    assert_eq!(app["hashMismatch"], false);
    assert_eq!(app["component"]["id"], "app");
    // The tree names the in-app function that contributed.
    assert!(
        app["component"].to_string().contains("charge_card"),
        "{app}"
    );

    let (status, hashes) = server.api_get(&format!("issues/{issue}/hashes/")).await;
    assert_eq!(status, 200);
    let hashes: Vec<&str> = hashes
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert!(
        hashes.contains(&app["hash"].as_str().unwrap()),
        "{hashes:?} holds the app hash {}",
        app["hash"]
    );

    let (status, _) = server
        .api_get(&format!(
            "{PROJECT}events/00000000000000000000000000000000/grouping-info/"
        ))
        .await;
    assert_eq!(status, 404);
}

/// The hashes attached to an issue.
async fn issue_hashes(server: &TestServer, issue: &str) -> Vec<String> {
    let (status, hashes) = server.api_get(&format!("issues/{issue}/hashes/")).await;
    assert_eq!(status, 200, "{hashes}");
    hashes
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn upgrading_the_grouping_config_keeps_existing_issues() {
    let server = TestServer::start(binary()).await;
    // The project starts on the frozen first config, with no transition under way.
    let (status, body) = server
        .api_put(
            PROJECT,
            &json!({ "groupingConfig": "errhound:2026-11", "secondaryGroupingConfig": null }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, shown) = server.api_get(PROJECT).await;
    assert_eq!(shown["groupingConfig"], "errhound:2026-11");
    assert_eq!(shown["secondaryGroupingConfig"], Value::Null);

    let before = sent(&run_python("send_events.py", &[&server.dsn, "grouping"]));
    let message_before = sent(&run_python("send_events.py", &[&server.dsn, "message"]));
    server.wait_for_events(7, Duration::from_secs(30)).await;
    let charge = issue_id(&server, &before["charge"][0]).await;
    let inventory = issue_id(&server, &before["inventory"][0]).await;
    let message = issue_id(&server, &message_before["message"][0]).await;
    assert_ne!(charge, inventory);
    assert_eq!(server.issues().await.len(), 3);
    let old_charge_hashes = issue_hashes(&server, &charge).await;
    let old_inventory_hashes = issue_hashes(&server, &inventory).await;
    let (_, info) = server
        .api_get(&format!(
            "{PROJECT}events/{}/grouping-info/",
            before["charge"][0]
        ))
        .await;
    assert_eq!(info["grouping_config"], "errhound:2026-11", "{info}");

    // The upgrade keeps the old config as the secondary one for a while.
    let (status, body) = server
        .api_put(PROJECT, &json!({ "groupingConfig": "errhound:2026-11-25" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, shown) = server.api_get(PROJECT).await;
    assert_eq!(shown["groupingConfig"], "errhound:2026-11-25");
    assert_eq!(shown["secondaryGroupingConfig"], "errhound:2026-11");

    let after = sent(&run_python("send_events.py", &[&server.dsn, "grouping"]));
    let message_after = sent(&run_python("send_events.py", &[&server.dsn, "message"]));
    let fresh = sent(&run_python("send_events.py", &[&server.dsn, "moved"]));
    server.wait_for_events(16, Duration::from_secs(30)).await;
    let (_, info) = server
        .api_get(&format!(
            "{PROJECT}events/{}/grouping-info/",
            after["charge"][0]
        ))
        .await;
    assert_eq!(info["grouping_config"], "errhound:2026-11-25", "{info}");

    for id in &after["charge"] {
        assert_eq!(
            issue_id(&server, id).await,
            charge,
            "same error, same issue"
        );
    }
    for id in &after["inventory"] {
        assert_eq!(
            issue_id(&server, id).await,
            inventory,
            "same error, same issue"
        );
    }
    for id in &message_after["message"] {
        assert_eq!(
            issue_id(&server, id).await,
            message,
            "same message, same issue"
        );
    }
    // The new config really hashes these errors differently, so it is the old config's
    // (secondary) hashes that found the issues; the new hashes were attached to them.
    for (issue, old) in [
        (&charge, &old_charge_hashes),
        (&inventory, &old_inventory_hashes),
    ] {
        let now = issue_hashes(&server, issue).await;
        let added: Vec<&String> = now.iter().filter(|h| !old.contains(h)).collect();
        assert!(!added.is_empty(), "{issue}: {old:?} -> {now:?}");
        assert!(now.iter().all(|h| h.len() == 32));
    }

    // A different error still opens its own issue.
    let moved = issue_id(&server, &fresh["moved-v1"][0]).await;
    assert!(![&charge, &inventory, &message].contains(&&moved));
    assert_eq!(issue_id(&server, &fresh["moved-v2"][0]).await, moved);
    assert_eq!(server.issues().await.len(), 4);
    let (_, issue) = server.api_get(&format!("issues/{charge}/")).await;
    assert_eq!(issue["count"], "6");
}
