//! The official Rust SDK (the `sentry` crate, built in `tests/sdk/rust`) against a running server.
//!
//! The SDK puts a hyphenated event id in the envelope header (simple hex in the payload) and a
//! `session` item next to the event; the sender prints ids as simple hex, and every id must be
//! found through the API.

use errhound_test_utils::TestServer;
use errhound_test_utils::sdk::run_rust_sender;

use crate::api::{PROCESSING, assert_tags, event, exception_frames, issue_of, sent_by_tag};
use crate::binary;

#[tokio::test]
async fn rust_errors_from_one_site_are_one_issue() {
    let server = TestServer::start(binary()).await;
    let sent = sent_by_tag(&run_rust_sender(&[&server.dsn, "errors"]));
    assert_eq!(sent["parse"].len(), 2);
    assert_eq!(sent["parse-float"].len(), 1);
    server.wait_for_events(3, PROCESSING).await;

    for id in sent.values().flatten() {
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "simple hex id: {id}"
        );
        let stored = event(&server, id).await;
        assert_eq!(stored["eventID"], id.as_str());
        assert_eq!(stored["platform"], "native");
        assert_tags(
            &stored,
            &[
                ("environment", "staging"),
                ("release", "inventory@0.4.1"),
                ("level", "error"),
            ],
        );
    }
    let parse = issue_of(&server, &sent["parse"][0]).await;
    assert_eq!(
        issue_of(&server, &sent["parse"][1]).await["id"],
        parse["id"]
    );
    assert_eq!(parse["count"], "2");
    assert_eq!(
        parse["title"],
        "ParseIntError: invalid digit found in string"
    );
    assert_eq!(parse["level"], "error");
    assert_eq!(parse["platform"], "native");
    assert_eq!(parse["firstRelease"]["version"], "inventory@0.4.1");

    let float = issue_of(&server, &sent["parse-float"][0]).await;
    assert_ne!(float["id"], parse["id"]);
    assert_eq!(float["title"], "ParseFloatError: invalid float literal");
    assert_eq!(float["count"], "1");
    assert_eq!(server.issues().await.len(), 2);
}

#[tokio::test]
async fn rust_message_keeps_its_title_level_and_scope_tags() {
    let server = TestServer::start(binary()).await;
    let sent = sent_by_tag(&run_rust_sender(&[&server.dsn, "message"]));
    server.wait_for_events(1, PROCESSING).await;

    let id = &sent["message"][0];
    let issue = issue_of(&server, id).await;
    assert_eq!(issue["title"], "Inventory sync finished with warnings");
    assert_eq!(issue["level"], "warning");
    assert_eq!(issue["count"], "1");
    let stored = event(&server, id).await;
    assert_eq!(stored["eventID"], id.as_str());
    assert_eq!(stored["message"], "Inventory sync finished with warnings");
    assert_tags(
        &stored,
        &[
            ("inventory.step", "sync"),
            ("level", "warning"),
            ("environment", "staging"),
            ("release", "inventory@0.4.1"),
        ],
    );
}

#[tokio::test]
async fn rust_panic_is_captured_by_the_panic_integration() {
    let server = TestServer::start(binary()).await;
    let sent = sent_by_tag(&run_rust_sender(&[&server.dsn, "panic"]));
    server.wait_for_events(1, PROCESSING).await;

    let id = &sent["panic"][0];
    let issue = issue_of(&server, id).await;
    assert_eq!(
        issue["title"],
        "panic: cannot reserve stock for an empty cart"
    );
    assert_eq!(issue["level"], "fatal");
    assert_eq!(issue["metadata"]["type"], "panic");
    let stored = event(&server, id).await;
    assert_eq!(stored["eventID"], id.as_str());
    assert_tags(
        &stored,
        &[
            ("handled", "no"),
            ("mechanism", "panic"),
            ("level", "fatal"),
        ],
    );
    let frames = exception_frames(&stored);
    assert!(
        frames.iter().any(
            |f| f["function"] == "errhound_sdk_rust_sender::reserve_stock" && f["inApp"] == true
        ),
        "the panicking function is an in-app frame: {frames:?}"
    );
}

/// The SDK's own panic-hook frames (`sentry_panic::...`) come after
/// `core::panicking::panic_fmt`; like Sentry's built-in stack trace rules
/// (`function:core::panicking::panic_fmt ^-app -app ^-group`), Errhound treats every frame from
/// the panic entry towards the crash as not in-app, so the culprit is the application's
/// panicking function.
#[tokio::test]
async fn rust_panic_culprit_is_the_panicking_function() {
    let server = TestServer::start(binary()).await;
    let sent = sent_by_tag(&run_rust_sender(&[&server.dsn, "panic"]));
    server.wait_for_events(1, PROCESSING).await;

    let issue = issue_of(&server, &sent["panic"][0]).await;
    assert_eq!(
        issue["culprit"], "errhound_sdk_rust_sender::reserve_stock",
        "Sentry-compatible culprit for a Rust panic"
    );
}
