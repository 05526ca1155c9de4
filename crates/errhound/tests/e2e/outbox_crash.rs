//! Crash safety of the notification outbox: the server is killed (SIGKILL) after it claimed a
//! delivery and while the receiver holds the request open, so it never records the outcome;
//! restarted on the same data, it sends the delivery again once the lease runs out.
//!
//! The sender is at-least-once, so "the receiver has the alert exactly once" means: every
//! request the receiver sees carries the same idempotency key (the webhook's `Idempotency-Key`),
//! so a receiver that drops repeated keys acts on it once, and the outbox records the delivery
//! as acknowledged once.

use std::collections::BTreeSet;
use std::time::Duration;

use errhound_domain::alerts::DeliveryState;
use errhound_store::alerts::outbox::{self, Attempt, Delivery, Depth, Scope};
use errhound_test_utils::http_receiver::{HttpReceiver, Verify};
use errhound_test_utils::{ServerOptions, TestServer};
use reqwest::Method;
use serde_json::json;

use crate::binary;

/// The lease under test; the default (300 s) would make the test wait five minutes.
const LEASE: Duration = Duration::from_secs(2);
/// How often the sender looks for due batches (`errhound::alerting`).
const SENDER_PERIOD: Duration = Duration::from_secs(1);

const RULES: &str = "projects/errhound/default/rules/";
const WEBHOOKS: &str = "projects/errhound/default/plugins/webhooks/";
const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
const NOTIFY_SERVICE: &str = "sentry.rules.actions.notify_event_service.NotifyEventServiceAction";

/// The rule's deliveries, their recorded attempts and the whole outbox's depth, read beside the
/// running server.
async fn outbox_state(server: &TestServer, rule_id: i64) -> (Vec<Delivery>, Vec<Attempt>, Depth) {
    let db = server.db().await;
    let mut conn = db.read_latest().await.unwrap();
    let deliveries = outbox::list(&mut conn.conn(), Scope::Rule(rule_id), 10)
        .await
        .unwrap();
    let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
    let attempts = outbox::attempts(&mut conn.conn(), &ids).await.unwrap();
    let depth = outbox::depth(&mut conn.conn()).await.unwrap();
    (deliveries, attempts, depth)
}

/// Only a webhook rule for new issues (the default mail rule is removed, so the outbox holds
/// nothing else); returns the rule's id.
async fn webhook_rule_only(server: &TestServer, receiver: &HttpReceiver) -> i64 {
    let (_, rules) = server.api_get(RULES).await;
    for rule in rules.as_array().unwrap() {
        let path = format!("{RULES}{}/", rule["id"].as_str().unwrap());
        let (status, _) = server
            .api_send(Method::DELETE, &path, &json!({}), None)
            .await;
        assert_eq!(status, 202);
    }
    let (status, _) = server
        .api_send(Method::POST, WEBHOOKS, &json!({}), None)
        .await;
    assert_eq!(status, 201);
    let (status, body) = server
        .api_put(WEBHOOKS, &json!({"urls": receiver.url("/hook")}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, rule) = server
        .api_send(
            Method::POST,
            RULES,
            &json!({
                "name": "New issues to the webhook",
                "actionMatch": "any",
                "frequency": 30,
                "conditions": [{"id": FIRST_SEEN}],
                "actions": [{"id": NOTIFY_SERVICE, "service": "webhooks"}],
            }),
            None,
        )
        .await;
    assert_eq!(status, 200, "{rule}");
    rule["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_delivery_in_flight_when_the_server_is_killed_is_resent_once_with_its_key() {
    let mut receiver = HttpReceiver::start(Verify::Nothing).await;
    receiver.hold();
    let mut server = TestServer::start_with(
        binary(),
        ServerOptions {
            database_url: None,
            env: [
                ("ERRHOUND_NOTIFY__ALLOW_PRIVATE_TARGETS", "true".to_owned()),
                ("ERRHOUND_NOTIFY__DIGEST_DELAY_S", "1".to_owned()),
                ("ERRHOUND_NOTIFY__LEASE_S", LEASE.as_secs().to_string()),
            ]
            .map(|(k, v)| (k.to_owned(), v))
            .into(),
        },
    )
    .await;
    let rule_id = webhook_rule_only(&server, &receiver).await;
    crate::api::send_event(
        &server,
        &json!({
            "event_id": crate::hostile::new_event_id(),
            "platform": "python",
            "level": "error",
            "exception": {"values": [{"type": "CheckoutError", "value": "card declined"}]},
        }),
    )
    .await;

    // Claimed and sent, never answered: the server is between claim and acknowledgement.
    let in_flight = receiver.next(Duration::from_secs(20)).await;
    let key = in_flight
        .header("Idempotency-Key")
        .expect("an idempotency key")
        .to_owned();
    let (claimed, attempts, _) = outbox_state(&server, rule_id).await;
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(
        (claimed[0].state, claimed[0].attempts),
        (DeliveryState::Sending, 0)
    );
    assert!(attempts.is_empty(), "{attempts:?}");

    server.kill();
    receiver.answer(200);
    server.restart().await;

    // The lease runs out and the new process sends the same batch with the same key.
    let resent = receiver
        .next(LEASE + SENDER_PERIOD * 2 + Duration::from_secs(5))
        .await;
    assert_eq!(resent.header("Idempotency-Key"), Some(key.as_str()));
    assert_eq!(resent.json()["url"], in_flight.json()["url"]);

    // Acknowledged once, and nothing is left that could be sent again: a retry would need the
    // delivery back in `pending`, a resend a `sending` lease, and neither exists. Another lease
    // and two sender periods later the receiver has still seen only these two requests.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (delivered, attempts, depth) = loop {
        let state = outbox_state(&server, rule_id).await;
        if state.0.iter().all(|d| d.state == DeliveryState::Sent)
            || std::time::Instant::now() > deadline
        {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(
        (delivered[0].state, delivered[0].attempts),
        (DeliveryState::Sent, 1),
        "{delivered:?}"
    );
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["sent"], "one acknowledged attempt: {attempts:?}");
    assert_eq!(depth, Depth::default(), "nothing pending, sending or dead");
    tokio::time::sleep(LEASE + SENDER_PERIOD * 2).await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "the held request and its one resend");
    let keys: BTreeSet<&str> = requests
        .iter()
        .filter_map(|r| r.header("Idempotency-Key"))
        .collect();
    assert_eq!(keys, BTreeSet::from([key.as_str()]));
    let after = outbox_state(&server, rule_id).await;
    assert_eq!(
        (after.0, after.1),
        (delivered, attempts),
        "the outbox did not move"
    );
}
