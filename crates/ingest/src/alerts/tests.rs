//! The evaluator on both engines: jobs from real ingest batches in, deliveries out, each once.

#![allow(clippy::unwrap_used, reason = "tests")]

use errhound_domain::alerts::{AlertRule, DeliveryState, Reason, Trigger};
use errhound_store::alerts::outbox::{self, Scope};
use errhound_store::alerts::rules;
use errhound_store::ingest::{NewEvent, write_batch};
use errhound_store::payload::{self, PayloadDictionaries};
use errhound_store::{Db, orgs, projects};
use errhound_test_utils::engines;
use serde_json::json;

use super::evaluate_due;

const DIGEST_DELAY_MS: i64 = 30_000;

async fn project(db: &Db) -> i64 {
    let mut conn = db.write().await.unwrap();
    let mut c = conn.conn();
    let org = orgs::create(&mut c, "acme", "Acme", 1).await.unwrap();
    projects::create(&mut c, org.id, "shop", "Shop", None, "errhound:2026-11", 1)
        .await
        .unwrap()
        .id
}

fn event(project_id: i64, n: u32, hash: &str, at_ms: i64, level: &str) -> NewEvent {
    let json = json!({
        "event_id": format!("{n:032x}"),
        "level": level,
        "environment": "production",
        "tags": [["url", "https://shop.example/checkout"]],
    });
    NewEvent {
        project_id,
        event_id: format!("{n:032x}"),
        timestamp_ms: at_ms,
        received_ms: at_ms,
        hashes: vec![hash.to_owned()],
        secondary_hashes: vec![],
        level: level.into(),
        event_type: "error".into(),
        title: format!("KeyError {hash}"),
        culprit: "shop.views".into(),
        metadata: "{}".into(),
        platform: "python".into(),
        logger: None,
        release: None,
        tags: vec![("user".into(), format!("id:{n}"))],
        payload: payload::compress(json.to_string().as_bytes(), None),
    }
}

async fn ingest(db: &Db, events: Vec<NewEvent>, now: i64) {
    let mut tx = db.begin().await.unwrap();
    write_batch(&mut tx, events, now).await.unwrap();
    tx.commit().await.unwrap();
}

async fn evaluate(db: &Db, now: i64) -> usize {
    evaluate_due(db, &PayloadDictionaries::new(), DIGEST_DELAY_MS, || now)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_issue_fires_the_default_rule_once_and_a_repeat_event_fires_nothing() {
    for t in engines().await {
        let project_id = project(&t.db).await;
        let now = 1_800_000_000_000;
        ingest(&t.db, vec![event(project_id, 1, "a", now, "error")], now).await;
        assert_eq!(evaluate(&t.db, now).await, 1, "{}", t.engine);
        assert_eq!(
            evaluate(&t.db, now).await,
            0,
            "{}: the job is gone",
            t.engine
        );

        ingest(
            &t.db,
            vec![event(project_id, 2, "a", now + 1, "error")],
            now + 1,
        )
        .await;
        assert_eq!(evaluate(&t.db, now + 1).await, 0, "{}", t.engine);

        let mut conn = t.db.read_latest().await.unwrap();
        let default = rules::list(&mut conn.conn(), project_id).await.unwrap();
        assert_eq!(default.len(), 1);
        assert_eq!(default[0].times_fired, 1);
        assert_eq!(default[0].last_fired_at, Some(now));
        let deliveries = outbox::list(&mut conn.conn(), Scope::Rule(default[0].id), 10)
            .await
            .unwrap();
        assert_eq!(deliveries.len(), 1, "{}", t.engine);
        let delivery = &deliveries[0];
        assert_eq!(delivery.reason, Reason::Alert(Trigger::Created));
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert_eq!(delivery.due_at, now + DIGEST_DELAY_MS, "the digest window");
        assert!(
            delivery.target.contains("IssueOwners"),
            "{}",
            delivery.target
        );
    }
}

#[tokio::test]
async fn a_frequency_rule_fires_when_its_window_count_is_passed_then_waits_its_interval() {
    for t in engines().await {
        let project_id = project(&t.db).await;
        let rule = AlertRule::from_sentry_json(
            json!({
                "name": "often",
                "actionMatch": "all",
                "filterMatch": "all",
                "frequency": 5,
                "conditions": [{
                    "id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
                    "value": 2, "interval": "1m",
                }],
                "filters": [{"id": "sentry.rules.filters.level.LevelFilter", "match": "gte", "level": "40"}],
                "actions": [{"id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction", "service": "webhooks"}],
            })
            .as_object()
            .unwrap(),
        )
        .unwrap();
        let mut conn = t.db.write().await.unwrap();
        let stored = rules::create(&mut conn.conn(), project_id, &rule, None, 1)
            .await
            .unwrap();
        drop(conn);
        let now = 1_800_000_000_000;
        // Two events: not more than 2 in the minute (the default rule fires for the new issue).
        ingest(
            &t.db,
            vec![
                event(project_id, 1, "a", now, "error"),
                event(project_id, 2, "a", now, "error"),
            ],
            now,
        )
        .await;
        assert_eq!(
            evaluate(&t.db, now).await,
            1,
            "{}: only the default rule",
            t.engine
        );
        // A third, at warning level: the count passes 2 but the level filter holds it back.
        ingest(
            &t.db,
            vec![event(project_id, 3, "a", now + 10, "warning")],
            now + 10,
        )
        .await;
        assert_eq!(evaluate(&t.db, now + 10).await, 0, "{}", t.engine);
        // A fourth, an error: fires.
        ingest(
            &t.db,
            vec![event(project_id, 4, "a", now + 20, "error")],
            now + 20,
        )
        .await;
        assert_eq!(evaluate(&t.db, now + 20).await, 1, "{}", t.engine);
        // More within the rule's 5 minutes: nothing more.
        ingest(
            &t.db,
            vec![event(project_id, 5, "a", now + 30, "error")],
            now + 30,
        )
        .await;
        assert_eq!(evaluate(&t.db, now + 30).await, 0, "{}", t.engine);
        // Old events leave the one-minute window: 2 new ones after the interval are not "more
        // than 2"; a third is.
        let later = now + 6 * 60_000;
        ingest(
            &t.db,
            vec![
                event(project_id, 6, "a", later, "error"),
                event(project_id, 7, "a", later, "error"),
            ],
            later,
        )
        .await;
        assert_eq!(evaluate(&t.db, later).await, 0, "{}", t.engine);
        ingest(
            &t.db,
            vec![event(project_id, 8, "a", later + 1, "error")],
            later + 1,
        )
        .await;
        assert_eq!(evaluate(&t.db, later + 1).await, 1, "{}", t.engine);

        let mut conn = t.db.read_latest().await.unwrap();
        let fired = rules::get(&mut conn.conn(), project_id, stored.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fired.times_fired, 2, "{}", t.engine);
    }
}

#[tokio::test]
async fn of_two_workers_claiming_one_rule_for_one_issue_exactly_one_wins() {
    for t in engines().await {
        let project_id = project(&t.db).await;
        let now = 1_800_000_000_000;
        ingest(&t.db, vec![event(project_id, 1, "a", now, "error")], now).await;
        let mut conn = t.db.read_latest().await.unwrap();
        let rule = rules::list(&mut conn.conn(), project_id).await.unwrap()[0].id;
        let issue: errhound_store::query::Int = errhound_store::query::Query::new(
            "SELECT id AS value FROM issues WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_one(&mut conn.conn())
        .await
        .unwrap();
        drop(conn);
        let claim = |db: Db| async move {
            let mut tx = db.begin().await.unwrap();
            let won = rules::claim_fire(&mut tx.conn(), rule, issue.value, 60_000, now)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            tx.commit().await.unwrap();
            won
        };
        let (a, b) = tokio::join!(
            tokio::spawn(claim(t.db.clone())),
            tokio::spawn(claim(t.db.clone()))
        );
        let wins = [a.unwrap(), b.unwrap()].iter().filter(|w| **w).count();
        assert_eq!(wins, 1, "{}", t.engine);
        // After the interval, the next claim wins again.
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            rules::claim_fire(&mut tx.conn(), rule, issue.value, 60_000, now + 60_000)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
    }
}
