//! The background tasks of a running server: an issue ignored until a time is reopened when the
//! time passes, without any new event; expired UI sessions are deleted, live ones kept.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use errhound_store::sessions;
use errhound_test_utils::{ServerOptions, TestServer};
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use crate::api::{PROCESSING, send_event};
use crate::binary;

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since.as_millis()).expect("a time in range")
}

/// A server whose maintenance tasks run every second.
async fn server() -> TestServer {
    TestServer::start_with(
        binary(),
        ServerOptions {
            database_url: None,
            env: vec![
                (
                    "ERRHOUND_TASKS__EXPIRED_SNOOZES_SECS".to_owned(),
                    "1".to_owned(),
                ),
                (
                    "ERRHOUND_TASKS__EXPIRED_SESSIONS_SECS".to_owned(),
                    "1".to_owned(),
                ),
            ],
        },
    )
    .await
}

/// Polls `check` every 100 ms until it holds, for at most `PROCESSING`.
async fn eventually<F: Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = Instant::now() + PROCESSING;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within {PROCESSING:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_issue_ignored_until_a_time_reopens_when_the_time_has_passed() {
    let server = server().await;
    let event_id = format!("{:032x}", rand::random::<u128>());
    send_event(
        &server,
        &json!({"event_id": event_id, "message": "snoozed", "level": "error"}),
    )
    .await;
    let issues = server.wait_for_events(1, PROCESSING).await;
    let id = issues[0]["id"].as_str().expect("an issue id").to_owned();

    let until = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let (status, body) = server
        .api_put(
            &format!("issues/{id}/"),
            &json!({"status": "ignored", "statusDetails": {
                "ignoreUntil": until.format(&Rfc3339).unwrap()
            }}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, issue) = server.api_get(&format!("issues/{id}/")).await;
    assert_eq!(issue["status"], "ignored", "{issue}");

    eventually("the issue reopened by the snooze sweep", || async {
        let (_, issue) = server.api_get(&format!("issues/{id}/")).await;
        issue["status"] == "unresolved"
    })
    .await;
}

#[tokio::test]
async fn expired_sessions_are_deleted_and_live_ones_kept() {
    let server = server().await;
    // The test writes rows as the server's own session store would, beside the running server.
    let db = server.db().await;
    let mut conn = db.write().await.unwrap();
    let now = now_ms();
    sessions::insert(
        &mut conn.conn(),
        "expired",
        "{}",
        &Default::default(),
        now - 1000,
        now,
    )
    .await
    .unwrap();
    sessions::insert(
        &mut conn.conn(),
        "live",
        "{}",
        &Default::default(),
        now + 3_600_000,
        now,
    )
    .await
    .unwrap();
    drop(conn);

    // `load` at time 0 sees a row whatever its expiry: only deletion hides it.
    let stored = |id: &'static str| {
        let db = db.clone();
        async move {
            let mut conn = db.read_latest().await.unwrap();
            sessions::load(&mut conn.conn(), id, 0)
                .await
                .unwrap()
                .is_some()
        }
    };
    eventually("the expired session row deleted", || async {
        !stored("expired").await
    })
    .await;
    assert!(stored("live").await, "a live session was deleted");
    db.close().await;
}
