//! Data scrubbing end to end: the official Python SDK sends an event full of secrets (with
//! `send_default_pii=True`), and nothing of them is stored, while `_meta` says what was removed.

use std::time::Duration;

use errhound_test_utils::TestServer;
use errhound_test_utils::sdk::run_python;
use serde_json::Value;

use crate::binary;

/// The values `tests/sdk/python/sensitive.py` puts into headers, cookies, the query string, the
/// body, local variables, `extra` and breadcrumbs.
const SECRETS: &[&str] = &[
    "hunter2",
    "4111 1111 1111 1111",
    "4111111111111111",
    "5500-0000-0000-0004",
    "sess-s3cr3t",
    "csrf-s3cr3t",
    "key-s3cr3t",
    "sk_live_bearer_s3cr3t",
    "tok-s3cr3t",
    "dbpass-s3cr3t",
];

/// The annotation `_meta` holds for a path (`{"rem": [...], "len": ...}`), or `null`.
fn meta<'a>(meta: &'a Value, path: &[&str]) -> &'a Value {
    let mut node = meta;
    for key in path {
        node = &node[*key];
    }
    &node[""]
}

/// The first rule id of an annotation.
fn rule(annotation: &Value) -> &str {
    annotation["rem"][0][0].as_str().unwrap_or("<none>")
}

/// The value of a `[name, value]` pair list, and its index.
fn pair<'a>(pairs: &'a Value, name: &str) -> (usize, &'a Value) {
    pairs
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find(|(_, p)| p[0].as_str() == Some(name))
        .map(|(i, p)| (i, &p[1]))
        .unwrap_or_else(|| panic!("no {name} in {pairs}"))
}

fn assert_no_secret(what: &str, body: &Value) {
    let text = body.to_string();
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} still holds {secret:?}: {text}"
        );
    }
}

#[tokio::test]
async fn secrets_sent_by_the_python_sdk_are_never_stored() {
    let server = TestServer::start(binary()).await;
    let output = run_python("sensitive.py", &[&server.dsn]);
    let event_id = output
        .lines()
        .find_map(|l| l.strip_prefix("checkout "))
        .unwrap_or_else(|| panic!("no event sent: {output}"))
        .to_owned();
    server.wait_for_events(1, Duration::from_secs(30)).await;

    // The stored event (`/json/`) holds no secret, and its `_meta` records every removal.
    let (status, stored) = server
        .api_get(&format!(
            "projects/errhound/default/events/{event_id}/json/"
        ))
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_no_secret("the stored event", &stored);
    let request = &stored["request"];
    let stored_meta = &stored["_meta"];
    // The SDK already filters these two itself (`!config`); what arrives stays filtered.
    assert_eq!(pair(&request["headers"], "Authorization").1, "[Filtered]");
    assert_eq!(pair(&request["headers"], "Cookie").1, "[Filtered]");
    let (api_key, api_key_header) = pair(&request["headers"], "X-Api-Key");
    assert_eq!(api_key_header, "[Filtered]");
    assert_eq!(
        rule(meta(
            stored_meta,
            &["request", "headers", &api_key.to_string(), "1"]
        )),
        "@password:filter"
    );
    assert_eq!(
        meta(
            stored_meta,
            &["request", "headers", &api_key.to_string(), "1"]
        )["len"],
        10
    );
    assert_eq!(pair(&request["cookies"], "theme").1, "dark");
    assert_eq!(pair(&request["cookies"], "sessionid").1, "[Filtered]");
    let (token, access_token) = pair(&request["query_string"], "access_token");
    assert_eq!(access_token, "[Filtered]");
    assert_eq!(
        rule(meta(
            stored_meta,
            &["request", "query_string", &token.to_string(), "1"]
        )),
        "@password:filter"
    );
    assert_eq!(pair(&request["query_string"], "coupon").1, "SPRING");
    assert_eq!(request["data"]["password"], "[Filtered]");
    assert_eq!(request["data"]["card"], "[Filtered]");
    assert_eq!(request["data"]["username"], "jane");
    assert_eq!(
        rule(meta(stored_meta, &["request", "data", "card"])),
        "@creditcard:filter"
    );
    assert_eq!(stored["extra"]["payment"]["password"], "[Filtered]");
    assert_eq!(stored["extra"]["payment"]["card_number"], "[Filtered]");
    assert_eq!(stored["extra"]["payment"]["amount"], 100);
    assert_eq!(stored["extra"]["note"], "customer paid with [Filtered]");
    assert_eq!(
        meta(stored_meta, &["extra", "payment", "password"]),
        &serde_json::json!({"rem": [["@password:filter", "s", 0, 10]], "len": 7})
    );
    let frames = stored["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap();
    let (index, charge) = frames
        .iter()
        .enumerate()
        .find(|(_, f)| f["function"] == "charge_card")
        .expect("the charge_card frame");
    assert_eq!(charge["vars"]["card_number"], "'[Filtered]'");
    assert_eq!(charge["vars"]["api_token"], "[Filtered]");
    let frame_path = [
        "exception",
        "values",
        "0",
        "stacktrace",
        "frames",
        &index.to_string(),
        "vars",
    ];
    assert_eq!(
        rule(meta(
            stored_meta,
            &[&frame_path[..], &["card_number"]].concat()
        )),
        "@creditcard:filter"
    );
    let crumb = &stored["breadcrumbs"]["values"][0];
    assert_eq!(
        crumb["message"],
        "POST https://app:[Filtered]@db.example/orders"
    );
    assert_eq!(
        crumb["data"]["url"],
        "https://pay.example/v1/charge?api_key=[Filtered]&currency=EUR"
    );
    assert_eq!(
        rule(meta(
            stored_meta,
            &["breadcrumbs", "values", "0", "message"]
        )),
        "@urlauth:legacy"
    );
    // The user's address is kept unless the project scrubs IP addresses.
    assert_eq!(stored["user"]["ip_address"], "203.0.113.7");

    // The API event shows `[Filtered]` values and maps `_meta` onto its own shape.
    let (status, event) = server
        .api_get(&format!("projects/errhound/default/events/{event_id}/"))
        .await;
    assert_eq!(status, 200, "{event}");
    assert_no_secret("the API event", &event);
    let entries = event["entries"].as_array().unwrap();
    let request_index = entries
        .iter()
        .position(|e| e["type"] == "request")
        .expect("a request entry");
    let request = &entries[request_index]["data"];
    assert_eq!(pair(&request["headers"], "X-Api-Key").1, "[Filtered]");
    let entry_meta = &event["_meta"]["entries"][request_index.to_string()]["data"];
    let header = meta(entry_meta, &["headers", &api_key.to_string(), "1"]);
    assert_eq!(rule(header), "@password:filter");
    assert_eq!(
        header["chunks"],
        serde_json::json!([{"type": "redaction", "text": "[Filtered]",
                            "rule_id": "@password:filter", "remark": "s"}])
    );
    assert_eq!(
        rule(meta(entry_meta, &["query", &token.to_string(), "1"])),
        "@password:filter"
    );
    assert_eq!(
        rule(meta(entry_meta, &["data", "card"])),
        "@creditcard:filter"
    );
    let exception_index = entries
        .iter()
        .position(|e| e["type"] == "exception")
        .expect("an exception entry");
    let exception_meta = &event["_meta"]["entries"][exception_index.to_string()]["data"];
    assert_eq!(
        rule(meta(
            exception_meta,
            &[
                "values",
                "0",
                "stacktrace",
                "frames",
                &index.to_string(),
                "vars",
                "card_number"
            ]
        )),
        "@creditcard:filter"
    );
    assert_eq!(event["context"]["payment"]["password"], "[Filtered]");
    assert_eq!(
        rule(meta(&event["_meta"]["context"], &["payment", "password"])),
        "@password:filter"
    );
    assert_eq!(
        meta(&event["_meta"]["context"], &["note"])["chunks"][1]["rule_id"],
        "@creditcard:filter"
    );
}

#[tokio::test]
async fn project_scrubbing_settings_apply_to_the_next_events() {
    let server = TestServer::start(binary()).await;
    let (status, project) = server
        .api_put(
            "projects/errhound/default/",
            &serde_json::json!({
                "sensitiveFields": ["amount"],
                "safeFields": ["api_token"],
                "scrubIPAddresses": true,
            }),
        )
        .await;
    assert_eq!(status, 200, "{project}");
    assert_eq!(project["sensitiveFields"], serde_json::json!(["amount"]));
    assert_eq!(project["scrubIPAddresses"], true);

    let output = run_python("sensitive.py", &[&server.dsn]);
    let event_id = output
        .lines()
        .find_map(|l| l.strip_prefix("checkout "))
        .unwrap_or_else(|| panic!("no event sent: {output}"))
        .to_owned();
    server.wait_for_events(1, Duration::from_secs(30)).await;
    let (status, stored) = server
        .api_get(&format!(
            "projects/errhound/default/events/{event_id}/json/"
        ))
        .await;
    assert_eq!(status, 200, "{stored}");

    // An extra sensitive field is filtered wherever it occurs, with its rule recorded.
    assert_eq!(stored["extra"]["payment"]["amount"], "[Filtered]");
    assert_eq!(
        rule(meta(&stored["_meta"], &["extra", "payment", "amount"])),
        "strip-fields"
    );
    // A safe field is kept although its name looks like a secret; the defaults still apply.
    let frames = stored["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap();
    let charge = frames
        .iter()
        .find(|f| f["function"] == "charge_card")
        .expect("the charge_card frame");
    assert_eq!(charge["vars"]["api_token"], "'tok-s3cr3t'");
    assert_eq!(charge["vars"]["password"], "[Filtered]");
    // Neither the user's address nor the request's is stored (as in Sentry, an address inside
    // arbitrary data such as a local variable is data, not the IP fields this setting removes).
    assert!(stored["user"]["ip_address"].is_null(), "{}", stored["user"]);
    assert!(
        stored["request"]["env"]["REMOTE_ADDR"].is_null(),
        "{}",
        stored["request"]
    );
    assert_eq!(
        rule(meta(&stored["_meta"], &["user", "ip_address"])),
        "@anything:remove"
    );

    // Turning scrubbing off (a user's choice) stores the data as sent.
    let (status, _) = server
        .api_put(
            "projects/errhound/default/",
            &serde_json::json!({ "dataScrubber": false, "dataScrubberDefaults": false }),
        )
        .await;
    assert_eq!(status, 200);
    let output = run_python("sensitive.py", &[&server.dsn]);
    let second = output
        .lines()
        .find_map(|l| l.strip_prefix("checkout "))
        .unwrap_or_else(|| panic!("no event sent: {output}"))
        .to_owned();
    server.wait_for_events(2, Duration::from_secs(30)).await;
    let (_, stored) = server
        .api_get(&format!("projects/errhound/default/events/{second}/json/"))
        .await;
    assert_eq!(stored["extra"]["payment"]["password"], "hunter2");
}
