//! The official Node SDK (`@sentry/node` 11 from npm) against a running server.
//!
//! Its transport differs from the Python one in every way that matters to the ingest endpoint:
//! auth in the query string, `Transfer-Encoding: chunked` without a Content-Type, JSON items
//! without `length`, `session` items, and gzip only for bodies above 32 KiB.

use errhound_test_utils::TestServer;
use errhound_test_utils::sdk::run_node;

use crate::api::{PROCESSING, assert_tags, event, exception_frames, issue_of, sent_by_tag};
use crate::binary;

const SCRIPT: &str = "send_events.js";

#[tokio::test]
async fn node_errors_group_by_site_with_javascript_titles_and_culprits() {
    let server = TestServer::start(binary()).await;
    let sent = sent_by_tag(&run_node(SCRIPT, &[&server.dsn, "grouping"]));
    assert_eq!(sent["charge"].len(), 3);
    assert_eq!(sent["inventory"].len(), 1);
    server.wait_for_events(4, PROCESSING).await;

    let charge = issue_of(&server, &sent["charge"][0]).await;
    for id in &sent["charge"] {
        assert_eq!(
            issue_of(&server, id).await["id"],
            charge["id"],
            "one site, one issue (the messages differ)"
        );
    }
    assert_eq!(charge["count"], "3");
    let title = charge["title"].as_str().unwrap();
    assert!(
        ["101", "102", "103"]
            .iter()
            .any(|n| title == format!("Error: card declined for order {n}")),
        "JavaScript title is `Type: value`: {title}"
    );
    // Sentry's culprit for JavaScript frames: `function(module)`.
    assert_eq!(charge["culprit"], "chargeCard(send_events)");
    assert_eq!(charge["level"], "error");
    assert_eq!(charge["platform"], "node");
    assert_eq!(charge["type"], "error");
    assert_eq!(charge["metadata"]["type"], "Error");
    assert_eq!(charge["metadata"]["function"], "chargeCard");
    assert_eq!(charge["firstRelease"]["version"], "storefront@2.0.1");

    let inventory = issue_of(&server, &sent["inventory"][0]).await;
    assert_ne!(
        inventory["id"], charge["id"],
        "a second site, a second issue"
    );
    assert_eq!(inventory["count"], "1");
    assert_eq!(
        inventory["title"],
        "TypeError: Cannot read properties of undefined (reading 'count')"
    );
    assert_eq!(inventory["culprit"], "loadInventory(send_events)");
    assert_eq!(server.issues().await.len(), 2);

    // The event keeps what the SDK set and derived.
    let first = event(&server, &sent["charge"][0]).await;
    assert_eq!(first["eventID"], sent["charge"][0].as_str());
    assert_eq!(first["title"], "Error: card declined for order 101");
    assert_eq!(first["platform"], "node");
    assert_eq!(first["release"]["version"], "storefront@2.0.1");
    assert_tags(
        &first,
        &[
            ("environment", "production"),
            ("release", "storefront@2.0.1"),
            ("level", "error"),
            ("handled", "yes"),
            ("mechanism", "generic"),
            ("runtime.name", "node"),
        ],
    );
    // The crashing frame, with the source context the SDK read from this very script.
    let frames = exception_frames(&first);
    let crash = frames.last().unwrap();
    assert_eq!(crash["function"], "chargeCard");
    assert_eq!(crash["module"], "send_events");
    assert_eq!(crash["inApp"], true);
    assert!(
        crash["filename"]
            .as_str()
            .is_some_and(|f| f.ends_with("tests/sdk/node/send_events.js")),
        "{crash}"
    );
    let line = crash["lineNo"].as_i64().expect("lineNo");
    let context = crash["context"].as_array().expect("context");
    let at_line = context
        .iter()
        .find(|pair| pair[0].as_i64() == Some(line))
        .unwrap_or_else(|| panic!("no context line {line} in {context:?}"));
    assert_eq!(
        at_line[1],
        "  throw new Error(`card declined for order ${orderId}`);"
    );
    // Node's own frames are there, not in-app.
    assert!(
        frames.iter().any(|f| f["inApp"] == false
            && f["filename"]
                .as_str()
                .is_some_and(|n| n.starts_with("node:"))),
        "{frames:?}"
    );
}

#[tokio::test]
async fn node_messages_group_by_call_site_and_fingerprints_join_sites() {
    let server = TestServer::start(binary()).await;
    let messages = sent_by_tag(&run_node(SCRIPT, &[&server.dsn, "message"]));
    let custom = sent_by_tag(&run_node(SCRIPT, &[&server.dsn, "fingerprint"]));
    server.wait_for_events(4, PROCESSING).await;

    // Two messages differing only in their numbers, from one call site: one issue.
    let first = issue_of(&server, &messages["message"][0]).await;
    let second = issue_of(&server, &messages["message"][1]).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["count"], "2");
    assert_eq!(second["level"], "warning");
    let last = event(&server, &messages["message"][1]).await;
    assert_eq!(last["message"], "Payment 5678 failed for order 100");
    assert_eq!(
        last["entries"][0]["type"], "message",
        "the message entry comes first"
    );
    assert_eq!(
        last["entries"][0]["data"]["formatted"],
        "Payment 5678 failed for order 100"
    );
    assert_tags(
        &last,
        &[
            ("checkout.step", "payment"),
            ("level", "warning"),
            ("environment", "production"),
            ("release", "storefront@2.0.1"),
        ],
    );

    // Two different sites, one custom fingerprint: one issue, apart from the messages.
    let a = issue_of(&server, &custom["custom"][0]).await;
    let b = issue_of(&server, &custom["custom"][1]).await;
    assert_eq!(a["id"], b["id"], "scope.setFingerprint joins the two sites");
    assert_eq!(b["count"], "2");
    assert_ne!(a["id"], first["id"]);
    assert_eq!(server.issues().await.len(), 2);
}

#[tokio::test]
async fn node_large_event_is_sent_gzipped_and_stored_whole() {
    let server = TestServer::start(binary()).await;
    let sent = sent_by_tag(&run_node(SCRIPT, &[&server.dsn, "large"]));
    server.wait_for_events(1, PROCESSING).await;

    let stored = event(&server, &sent["large"][0]).await;
    assert_eq!(stored["message"], "Nightly export produced a large report");
    let context = &stored["context"];
    for part in 0..4 {
        let lines = context[format!("lines_{part}")]
            .as_array()
            .expect("every `lines_N` extra");
        assert_eq!(lines.len(), 150, "lines_{part} kept whole");
        for (i, line) in [(0, &lines[0]), (149, &lines[149])] {
            assert_eq!(*line, format!("line {} {}", part * 150 + i, "z".repeat(80)));
        }
    }
    assert!(stored["_meta"]["context"].is_null(), "nothing was trimmed");
    // Above the SDK's 32 KiB threshold, so the body travelled gzip-compressed.
    let size = serde_json::to_string(&stored["context"]).unwrap().len();
    assert!(size > 32 * 1024, "extra is {size} bytes");
    let issue = issue_of(&server, &sent["large"][0]).await;
    assert_eq!(issue["level"], "info");
    assert_eq!(issue["count"], "1");
}
