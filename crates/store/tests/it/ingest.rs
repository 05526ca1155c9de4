use errhound_store::ingest::write_batch;
use errhound_store::processing_failures::{self, FailureReason, NewFailure};
use errhound_store::query::{Int, Query};
use errhound_store::{Db, events, issues, payload, projects};
use errhound_test_utils::engines;

use crate::fixtures::{event, setup};

async fn write(
    db: &Db,
    batch: Vec<errhound_store::ingest::NewEvent>,
) -> errhound_store::ingest::BatchOutcome {
    let mut tx = db.begin().await.unwrap();
    let outcome = write_batch(&mut tx, batch, 1_000).await.unwrap();
    tx.commit().await.unwrap();
    outcome
}

async fn all_issues(db: &Db, project_id: i64) -> Vec<issues::Issue> {
    let mut conn = db.write().await.unwrap();
    let filter = issues::IssueFilter {
        project_ids: vec![project_id],
        ..Default::default()
    };
    issues::list(
        &mut conn.conn(),
        &filter,
        issues::IssueSort::FirstSeen,
        issues::Page::First,
        10_000,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn batch_groups_counts_and_stores_payloads() {
    for t in engines().await {
        let s = setup(&t.db).await;
        let p = s.project_id;
        let outcome = write(
            &t.db,
            vec![
                event(p, 1, &["a", "s1"], 10_000),
                event(p, 2, &["b", "s1"], 20_000),
                event(p, 3, &["c"], 30_000),
                event(p, 4, &["c"], 5_000),
            ],
        )
        .await;
        assert_eq!(outcome.stored, 4, "{}", t.engine);
        assert_eq!(outcome.new_issues.len(), 2, "{}", t.engine);

        let list = all_issues(&t.db, p).await;
        assert_eq!(list.len(), 2);
        let shared = list
            .iter()
            .find(|i| i.times_seen == 2 && i.first_seen == 10_000)
            .unwrap();
        assert_eq!(shared.last_seen, 20_000);
        assert_eq!(shared.user_count, 2);
        assert_eq!(shared.title, "KeyError: 2", "latest event names the issue");
        let c = list.iter().find(|i| i.first_seen == 5_000).unwrap();
        assert_eq!((c.times_seen, c.last_seen), (2, 30_000));
        assert_eq!(c.status.as_str(), "unresolved");
        let mut short_ids: Vec<i64> = list.iter().map(|i| i.short_id).collect();
        short_ids.sort();
        assert_eq!(short_ids, vec![1, 2]);

        // A later batch joins by any known hash and attaches the new ones.
        let outcome = write(&t.db, vec![event(p, 5, &["d", "s1"], 40_000)]).await;
        assert!(outcome.new_issues.is_empty());
        let mut conn = t.db.write().await.unwrap();
        let hashes = issues::hashes(&mut conn.conn(), shared.id).await.unwrap();
        assert_eq!(
            hashes,
            vec!["a", "b", "s1", "d"],
            "new hashes attach in key order"
        );

        let stored = events::edge_of_issue(&mut conn.conn(), shared.id, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.event_id, format!("{:032x}", 5));
        let json = payload::decode_plain_json(&stored.data).unwrap();
        assert_eq!(json["message"], "event 5");
        assert_eq!(
            projects::events_processed(&mut conn.conn(), p)
                .await
                .unwrap(),
            5
        );
    }
}

#[tokio::test]
async fn replayed_batch_stores_and_counts_nothing_twice() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let batch = vec![event(p, 1, &["a"], 1_000), event(p, 2, &["a"], 2_000)];
        write(&t.db, batch.clone()).await;
        // The crash-replay case: the same spool records processed again, plus one new event and
        // an in-batch duplicate.
        let mut replay = batch.clone();
        replay.push(event(p, 3, &["a"], 3_000));
        replay.push(event(p, 3, &["a"], 3_000));
        let outcome = write(&t.db, replay).await;
        assert_eq!((outcome.stored, outcome.duplicates), (1, 3), "{}", t.engine);
        let list = all_issues(&t.db, p).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].times_seen, 3, "{}", t.engine);
        assert_eq!(list[0].user_count, 3, "{}", t.engine);
        let mut conn = t.db.write().await.unwrap();
        let stored = events::list_for_issue(&mut conn.conn(), list[0].id, events::Page::First, 10)
            .await
            .unwrap();
        assert_eq!(stored.len(), 3);
    }
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    let mut conn = db.write().await.unwrap();
    Query::new(sql)
        .fetch_one::<Int>(&mut conn.conn())
        .await
        .unwrap()
        .value
}

#[tokio::test]
async fn a_stored_event_sent_again_with_new_hashes_opens_no_issue() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        write(&t.db, vec![event(p, 1, &["a"], 1_000)]).await;
        // The same event id again, grouped differently (a grouping rule changed between the
        // first write and a replay or an SDK retry), next to a really new event.
        let outcome = write(
            &t.db,
            vec![event(p, 1, &["b"], 1_000), event(p, 2, &["c"], 2_000)],
        )
        .await;
        assert_eq!((outcome.stored, outcome.duplicates), (1, 1), "{}", t.engine);
        assert_eq!(outcome.new_issues.len(), 1, "{}", t.engine);
        let list = all_issues(&t.db, p).await;
        assert_eq!(list.len(), 2, "no issue for the duplicate ({})", t.engine);
        assert!(list.iter().all(|i| i.times_seen == 1), "{}", t.engine);
        let jobs = count(
            &t.db,
            "SELECT CAST(COUNT(*) AS BIGINT) AS value FROM jobs WHERE kind = 'issue.created'",
        )
        .await;
        assert_eq!(jobs, 2, "one issue.created per real issue ({})", t.engine);
        let unknown = count(
            &t.db,
            "SELECT CAST(COUNT(*) AS BIGINT) AS value FROM group_hashes WHERE hash = 'b'",
        )
        .await;
        assert_eq!(
            unknown, 0,
            "the duplicate's hash is not attached ({})",
            t.engine
        );
    }
}

#[tokio::test]
async fn processing_failures_are_recorded_once_and_listed_newest_first() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let failure = |n: u32, reason| NewFailure {
            project_id: p,
            event_id: format!("{n:032x}"),
            received_ms: 500,
            reason,
            detail: format!("failure {n}"),
            payload: format!(r#"{{"message":"event {n}"}}"#).into_bytes(),
        };
        let first = [
            failure(1, FailureReason::Panic),
            failure(2, FailureReason::InvalidPayload),
        ];
        let mut tx = t.db.begin().await.unwrap();
        processing_failures::record(&mut tx.conn(), &first, 1_000)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // A replay records nothing twice; a new one is added.
        let mut conn = t.db.write().await.unwrap();
        let again = [
            failure(1, FailureReason::Panic),
            failure(3, FailureReason::RefusedByDatabase),
        ];
        processing_failures::record(&mut conn.conn(), &again, 2_000)
            .await
            .unwrap();
        let listed = processing_failures::list(&mut conn.conn(), p, 10)
            .await
            .unwrap();
        let got: Vec<(&str, FailureReason, i64)> = listed
            .iter()
            .map(|f| (&f.failure.event_id[30..], f.failure.reason, f.failed_ms))
            .collect();
        assert_eq!(
            got,
            vec![
                ("03", FailureReason::RefusedByDatabase, 2_000),
                ("02", FailureReason::InvalidPayload, 1_000),
                ("01", FailureReason::Panic, 1_000),
            ],
            "{}",
            t.engine
        );
        assert_eq!(listed[2].failure, first[0], "{}", t.engine);
    }
}

#[tokio::test]
async fn an_event_on_a_resolved_issue_is_a_regression() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        write(&t.db, vec![event(p, 1, &["a"], 1_000)]).await;
        let id = all_issues(&t.db, p).await[0].id;
        let mut conn = t.db.write().await.unwrap();
        errhound_store::query::Query::new(
            "UPDATE issues SET status = 'resolved', resolved_at = 5 WHERE id = $1",
        )
        .bind(id)
        .execute(&mut conn.conn())
        .await
        .unwrap();
        drop(conn);
        let outcome = write(&t.db, vec![event(p, 2, &["a"], 2_000)]).await;
        assert_eq!(outcome.regressed_issues, vec![id], "{}", t.engine);
        let issue = &all_issues(&t.db, p).await[0];
        assert_eq!(
            (issue.status.as_str(), issue.substatus.map(|s| s.as_str())),
            ("unresolved", Some("regressed"))
        );
        assert_eq!(issue.resolved_at, None);
    }
}

#[tokio::test]
async fn large_batches_split_statements_under_parameter_limits() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let batch: Vec<_> = (0..7_000)
            .map(|n| {
                let hash = format!("h{}", n % 500);
                let mut e = event(p, n, &[&hash], 1_000 + i64::from(n));
                e.tags.push(("unique".into(), format!("v{n}")));
                e
            })
            .collect();
        let outcome = write(&t.db, batch).await;
        assert_eq!(outcome.stored, 7_000, "{}", t.engine);
        assert_eq!(outcome.new_issues.len(), 500);
        let total: i64 = all_issues(&t.db, p)
            .await
            .iter()
            .map(|i| i.times_seen)
            .sum();
        assert_eq!(total, 7_000, "{}", t.engine);
    }
}
