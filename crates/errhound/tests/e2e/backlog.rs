//! Admission control: with more accepted-but-unprocessed events than
//! `ingest.max_backlog_events`, the envelope endpoint answers 429 with `Retry-After` and
//! `X-Sentry-Rate-Limits`, keeps answering envelopes without events, and accepts events again
//! once the backlog drains. Every acknowledged event is processed; no refused one is.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use errhound_test_utils::{ServerOptions, TestServer};
use serde_json::{Value, json};

use crate::binary;
use crate::hostile::{
    Answer, assert_still_serves, event_envelope, new_event_id, post_envelope, wait_for_event,
};

const MAX_BACKLOG: usize = 50;
/// The worker waits this long for a fuller batch, so events pile up in the backlog meanwhile.
const LINGER: Duration = Duration::from_millis(3000);

async fn backlog(server: &TestServer) -> u64 {
    let response = server
        .client()
        .get(format!("{}/_health?ready", server.base_url))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["queue"]["backlog_events"].as_u64().unwrap()
}

#[track_caller]
fn assert_backlog_full(answer: &Answer) {
    answer.assert_error(429, "backlog");
    assert_eq!(answer.header("retry-after"), "10");
    assert_eq!(
        answer.header("x-sentry-rate-limits"),
        "10::organization:backlog_full"
    );
    assert!(
        answer
            .header("access-control-expose-headers")
            .contains("x-sentry-rate-limits")
    );
}

fn client_report() -> Vec<u8> {
    let payload = br#"{"timestamp":1795565900,"discarded_events":[{"reason":"ratelimit_backoff","category":"error","quantity":2}]}"#;
    let mut body = format!(
        "{{}}\n{{\"type\":\"client_report\",\"length\":{}}}\n",
        payload.len()
    )
    .into_bytes();
    body.extend_from_slice(payload);
    body
}

#[tokio::test]
async fn a_full_backlog_answers_429_until_it_drains() {
    let server = TestServer::start_with(
        binary(),
        ServerOptions {
            env: vec![
                (
                    "ERRHOUND_INGEST__MAX_BACKLOG_EVENTS".into(),
                    MAX_BACKLOG.to_string(),
                ),
                // One batch takes everything that arrives while it lingers.
                ("ERRHOUND_WORKER__BATCH_SIZE".into(), "100000".into()),
                (
                    "ERRHOUND_WORKER__LINGER_MS".into(),
                    LINGER.as_millis().to_string(),
                ),
            ],
            ..Default::default()
        },
    )
    .await;
    let mut accepted: Vec<String> = Vec::new();
    let mut refused: Vec<String> = Vec::new();

    // One at a time, faster than the lingering worker acknowledges anything: exactly
    // MAX_BACKLOG events fit, the next one is refused.
    let started = Instant::now();
    let first_refusal = loop {
        let id = new_event_id();
        let answer = post_envelope(&server, &[], event_envelope(&id, "backlog")).await;
        if answer.status == 429 {
            refused.push(id);
            break answer;
        }
        answer.assert_accepted(&id);
        accepted.push(id);
        assert!(
            accepted.len() <= MAX_BACKLOG,
            "{} events accepted with a backlog limit of {MAX_BACKLOG}",
            accepted.len()
        );
    };
    assert!(
        started.elapsed() < LINGER,
        "sending took {:?}, longer than the linger",
        started.elapsed()
    );
    assert_eq!(accepted.len(), MAX_BACKLOG);
    assert_backlog_full(&first_refusal);
    assert!(backlog(&server).await >= MAX_BACKLOG as u64);

    // While it is full: events are refused (also through the store endpoint), envelopes without
    // events and invalid events are answered as usual.
    let id = new_event_id();
    let answer = post_envelope(&server, &[], event_envelope(&id, "backlog")).await;
    assert_backlog_full(&answer);
    refused.push(id);
    let id = new_event_id();
    let store = server
        .client()
        .post(format!(
            "{}/api/{}/store/",
            server.base_url, server.project_id
        ))
        .header("x-sentry-auth", server.auth_header())
        .body(crate::hostile::event_payload(&id, "backlog"))
        .send()
        .await
        .unwrap();
    assert_backlog_full(&Answer::read(store).await);
    refused.push(id);
    post_envelope(&server, &[], client_report())
        .await
        .assert_accepted_without_event();
    let session = b"{}\n{\"type\":\"session\"}\n{\"sid\":\"7c7b6fb4f1a84b2c9b3d4c5e6f708192\",\"status\":\"ok\"}\n";
    post_envelope(&server, &[], session.to_vec())
        .await
        .assert_accepted_without_event();
    post_envelope(
        &server,
        &[],
        b"{}\n{\"type\":\"event\",\"length\":3}\n{x}\n".to_vec(),
    )
    .await
    .assert_error(400, "invalid event payload");

    // Once the lingering batch is written, the backlog drains and events are accepted again.
    let deadline = Instant::now() + LINGER + Duration::from_secs(20);
    while backlog(&server).await > 0 {
        assert!(Instant::now() < deadline, "the backlog never drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = new_event_id();
    post_envelope(&server, &[], event_envelope(&id, "backlog"))
        .await
        .assert_accepted(&id);
    accepted.push(id);

    // Every acknowledged event is stored; no refused one is; nothing is counted twice.
    for id in &accepted {
        wait_for_event(&server, id).await;
    }
    for id in &refused {
        let (status, _) = server
            .api_get(&format!("projects/errhound/default/events/{id}/"))
            .await;
        assert_eq!(status, 404, "refused event {id} was stored");
    }
    let issues = server.issues().await;
    let counted: u64 = issues
        .iter()
        .map(|i| i["count"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, accepted.len() as u64);
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn concurrent_senders_get_200_or_429_and_every_200_is_processed() {
    let server = TestServer::start_with(
        binary(),
        ServerOptions {
            env: vec![
                (
                    "ERRHOUND_INGEST__MAX_BACKLOG_EVENTS".into(),
                    MAX_BACKLOG.to_string(),
                ),
                ("ERRHOUND_WORKER__BATCH_SIZE".into(), "100000".into()),
                ("ERRHOUND_WORKER__LINGER_MS".into(), "1500".into()),
            ],
            ..Default::default()
        },
    )
    .await;
    // 16 senders, 20 events each, all at once.
    let mut tasks = Vec::new();
    for sender in 0..16 {
        let client = server.client().clone();
        let (url, auth) = (server.envelope_url(), server.auth_header());
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for n in 0..20 {
                let id = new_event_id();
                let response = client
                    .post(&url)
                    .header("x-sentry-auth", &auth)
                    .body(event_envelope(&id, &format!("sender_{}", (sender + n) % 3)))
                    .send()
                    .await
                    .unwrap();
                answers.push((id, Answer::read(response).await));
            }
            answers
        }));
    }
    let mut accepted = HashSet::new();
    let mut refused = HashSet::new();
    for task in tasks {
        for (id, answer) in task.await.unwrap() {
            match answer.status {
                200 => {
                    assert_eq!(answer.json(), json!({ "id": id }));
                    accepted.insert(id);
                }
                429 => {
                    assert_backlog_full(&answer);
                    refused.insert(id);
                }
                other => panic!("unexpected {other}: {}", answer.body),
            }
        }
    }
    eprintln!(
        "backlog: {} accepted, {} refused under concurrency",
        accepted.len(),
        refused.len()
    );
    assert!(
        !refused.is_empty(),
        "320 events never filled a backlog of 50"
    );
    // The check and the append are not one step, so concurrent requests may overshoot the
    // limit, but by no more than the requests in flight.
    assert!(
        accepted.len() >= MAX_BACKLOG && accepted.len() <= MAX_BACKLOG + 16,
        "{} accepted",
        accepted.len()
    );
    server
        .wait_for_events(accepted.len() as u64, Duration::from_secs(30))
        .await;
    for id in &accepted {
        wait_for_event(&server, id).await;
    }
    let issues = server.issues().await;
    let counted: u64 = issues
        .iter()
        .map(|i| i["count"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, accepted.len() as u64, "refused events were stored");
    assert_still_serves(&server).await;
}
