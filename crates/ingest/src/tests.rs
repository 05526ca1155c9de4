//! The pipeline end to end on both engines: a real spool in, a real store out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use errhound_queue::{IngestQueue, Queue, QueuedEvent, Spool, SpoolOptions};
use errhound_store::payload::PayloadDictionaries;
use errhound_store::processing_failures::{self, FailureReason};
use errhound_store::query::Query;
use errhound_store::{Db, Engine, events, orgs, projects};
use errhound_test_utils::engines;

use crate::failures::PANIC_MARKER;
use crate::{Pipeline, PipelineOptions};

async fn project(db: &Db) -> i64 {
    let mut conn = db.write().await.unwrap();
    let mut c = conn.conn();
    let org = orgs::create(&mut c, "acme", "Acme", 1).await.unwrap();
    projects::create(
        &mut c,
        org.id,
        "shop",
        "Shop",
        Some("python"),
        "errhound:2026-11",
        1,
    )
    .await
    .unwrap()
    .id
}

fn queued(project_id: i64, n: u32, payload: String) -> QueuedEvent {
    QueuedEvent {
        project_id,
        event_id: format!("{n:032x}"),
        received_ms: 1_000 + i64::from(n),
        sent_at: None,
        client_ip: None,
        payload: payload.into_bytes(),
    }
}

/// Waits (at most 30 s) until the queue has nothing left to process.
async fn drained(queue: &Queue) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while queue.backlog().events > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        queue.backlog().events,
        0,
        "the pipeline acknowledged everything"
    );
}

/// Queues `events` in a spool in `dir`, runs a pipeline over it until the spool is drained, and
/// stops it. Returns the queue, whose backlog then tells what was acknowledged.
async fn process(db: &Db, dir: &std::path::Path, events: &[QueuedEvent], threads: usize) -> Queue {
    let queue: Queue = Spool::open(dir, SpoolOptions::default())
        .await
        .unwrap()
        .into();
    for event in events {
        queue.append(event.clone()).await.unwrap();
    }
    let pipeline = Pipeline::start(
        queue.clone(),
        db.clone(),
        Arc::new(PayloadDictionaries::new()),
        PipelineOptions {
            batch_size: 100,
            threads,
            linger: Duration::from_millis(50),
        },
    );
    drained(&queue).await;
    pipeline.shutdown().await;
    queue
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_on_one_event_costs_that_event_only_and_is_recorded() {
    for t in engines().await {
        let p = project(&t.db).await;
        let dir = tempfile::tempdir().unwrap();
        let panics = 3;
        let invalid = 5;
        let mut sent = Vec::new();
        for n in 0..8 {
            let payload = match n {
                _ if n == panics => format!(r#"{{"message":"{PANIC_MARKER}"}}"#),
                _ if n == invalid => "[1, 2".to_owned(),
                _ => format!(r#"{{"message":"event {n}"}}"#),
            };
            sent.push(queued(p, n, payload));
        }
        let queue = process(&t.db, dir.path(), &sent, 3).await;

        let mut conn = t.db.write().await.unwrap();
        for event in &sent {
            let stored = events::find(&mut conn.conn(), p, &event.event_id)
                .await
                .unwrap();
            let failed = [panics, invalid].map(|n| format!("{n:032x}"));
            assert_eq!(
                stored.is_some(),
                !failed.contains(&event.event_id),
                "event {} ({})",
                event.event_id,
                t.engine
            );
        }
        let recorded = processing_failures::list(&mut conn.conn(), p, 10)
            .await
            .unwrap();
        let mut got: Vec<(String, FailureReason, Vec<u8>)> = recorded
            .into_iter()
            .map(|f| (f.failure.event_id, f.failure.reason, f.failure.payload))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let expected = vec![
            (
                sent[panics as usize].event_id.clone(),
                FailureReason::Panic,
                sent[panics as usize].payload.clone(),
            ),
            (
                sent[invalid as usize].event_id.clone(),
                FailureReason::InvalidPayload,
                sent[invalid as usize].payload.clone(),
            ),
        ];
        assert_eq!(got, expected, "{}", t.engine);
        drop(conn);

        // Everything was acknowledged: nothing comes back after a restart.
        drop(queue);
        let reopened = Spool::open(dir.path(), SpoolOptions::default())
            .await
            .unwrap();
        assert!(
            reopened.claim(100).await.unwrap().is_empty(),
            "{}",
            t.engine
        );
    }
}

/// Makes the database refuse to open an issue whose title contains "refuse me".
async fn refuse_titles_containing_refuse_me(db: &Db) {
    let statements: &[&'static str] = match db.engine() {
        Engine::Sqlite => &["CREATE TRIGGER refuse_me BEFORE INSERT ON issues \
             WHEN NEW.title LIKE '%refuse me%' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"],
        Engine::Postgres => &[
            "CREATE FUNCTION refuse_me() RETURNS trigger AS $body$ BEGIN \
             IF NEW.title LIKE '%refuse me%' THEN RAISE EXCEPTION 'refused by the test trigger'; \
             END IF; RETURN NEW; END $body$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_me BEFORE INSERT ON issues FOR EACH ROW EXECUTE FUNCTION refuse_me()",
        ],
    };
    let mut conn = db.write().await.unwrap();
    for sql in statements {
        Query::new(sql).execute(&mut conn.conn()).await.unwrap();
    }
}

/// A trigger the test installs makes the database refuse one event's issue, on both engines: its
/// batch falls back to one-by-one writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_database_refuses_is_recorded_and_the_rest_of_its_batch_stored() {
    for t in engines().await {
        let p = project(&t.db).await;
        refuse_titles_containing_refuse_me(&t.db).await;
        let dir = tempfile::tempdir().unwrap();
        let refused = queued(p, 1, r#"{"message":"please refuse me"}"#.to_owned());
        let fine = queued(p, 2, r#"{"message":"fine"}"#.to_owned());
        process(&t.db, dir.path(), &[refused.clone(), fine.clone()], 1).await;

        let mut conn = t.db.write().await.unwrap();
        let stored = |id: String| {
            let db = t.db.clone();
            async move {
                let mut conn = db.read().await.unwrap();
                events::find(&mut conn.conn(), p, &id)
                    .await
                    .unwrap()
                    .is_some()
            }
        };
        let failures = processing_failures::list(&mut conn.conn(), p, 10)
            .await
            .unwrap();
        drop(conn);
        assert!(stored(fine.event_id.clone()).await, "{}", t.engine);
        assert!(!stored(refused.event_id.clone()).await, "{}", t.engine);
        assert_eq!(failures.len(), 1, "{}", t.engine);
        let failure = &failures[0].failure;
        assert_eq!(failure.reason, FailureReason::RefusedByDatabase);
        assert_eq!(failure.event_id, refused.event_id);
        assert!(
            failure.detail.contains("refused by the test"),
            "{}",
            failure.detail
        );
        // The normalized event, readable without the project's dictionary.
        let payload: serde_json::Value = serde_json::from_slice(&failure.payload).unwrap();
        assert_eq!(payload["title"], "please refuse me");
    }
}

/// PostgreSQL's `text` cannot hold NUL, which an SDK may send in any string: such an event is
/// stored on both engines, never refused by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_with_nul_characters_is_stored_on_both_engines() {
    for t in engines().await {
        let p = project(&t.db).await;
        let dir = tempfile::tempdir().unwrap();
        let event = queued(
            p,
            1,
            r#"{"message":"nul \u0000 inside","tags":{"shop":"a\u0000b"},"release":"r\u0000"}"#
                .to_owned(),
        );
        process(&t.db, dir.path(), std::slice::from_ref(&event), 1).await;
        let mut conn = t.db.read().await.unwrap();
        let stored = events::find(&mut conn.conn(), p, &event.event_id)
            .await
            .unwrap();
        assert!(stored.is_some(), "{}", t.engine);
        let failures = processing_failures::list(&mut conn.conn(), p, 10)
            .await
            .unwrap();
        assert!(failures.is_empty(), "{}", t.engine);
    }
}
