//! What the alert-rule preview reads, on both engines: a project's newest events since a time,
//! oldest first, limited and saying so; their payloads' facts; and their issues' history.

use errhound_store::alerts::preview::past_events;
use errhound_store::ingest::{NewEvent, write_batch};
use errhound_store::payload::{self, PayloadDictionaries};
use errhound_store::workflow::{self, StatusChange};
use errhound_store::{Db, events};
use errhound_test_utils::engines;

use crate::fixtures::{event, setup};

const MINUTE: i64 = 60_000;
const T: i64 = 1_800_000_000_000;

fn ev(project_id: i64, n: u32, hash: &str, received: i64) -> NewEvent {
    let mut e = event(project_id, n, &[hash], received - 5);
    e.received_ms = received;
    let json = serde_json::json!({
        "event_id": format!("{n:032x}"),
        "level": "error",
        "environment": "production",
        "message": format!("event {n}"),
        "tags": [["user", format!("id:{}", n % 2)], ["environment", "production"]],
    });
    e.payload = payload::compress(json.to_string().as_bytes(), None);
    e
}

async fn write(db: &Db, batch: Vec<NewEvent>, now: i64) {
    let mut tx = db.begin().await.unwrap();
    write_batch(&mut tx, batch, now).await.unwrap();
    tx.commit().await.unwrap();
}

async fn issue_id(db: &Db, project_id: i64, n: u32) -> i64 {
    let mut conn = db.read().await.unwrap();
    events::find(&mut conn.conn(), project_id, &format!("{n:032x}"))
        .await
        .unwrap()
        .unwrap()
        .issue_id
}

#[tokio::test]
async fn the_newest_events_since_a_time_come_oldest_first_with_their_issues_history() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        // Issue "old" has two events before the range and one inside; "new" opens inside it.
        write(
            &t.db,
            vec![ev(p, 1, "old", T - 60 * MINUTE)],
            T - 60 * MINUTE,
        )
        .await;
        write(
            &t.db,
            vec![ev(p, 2, "old", T - 50 * MINUTE)],
            T - 50 * MINUTE,
        )
        .await;
        write(&t.db, vec![ev(p, 3, "old", T + MINUTE)], T + MINUTE).await;
        write(
            &t.db,
            vec![
                ev(p, 4, "new", T + 2 * MINUTE),
                ev(p, 5, "new", T + 3 * MINUTE),
            ],
            T + 3 * MINUTE,
        )
        .await;
        let old = issue_id(&t.db, p, 1).await;
        let new = issue_id(&t.db, p, 4).await;
        // "new" is resolved and reopened by event 6, received a little before its batch
        // committed (and its activity was written).
        let mut tx = t.db.begin().await.unwrap();
        workflow::change_status(&mut tx, new, &StatusChange::Resolve, None, T + 4 * MINUTE)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        write(&t.db, vec![ev(p, 6, "new", T + 5 * MINUTE)], T + 6 * MINUTE).await;

        let dictionaries = PayloadDictionaries::new();
        let mut conn = t.db.read().await.unwrap();
        let past = past_events(&mut conn.conn(), &dictionaries, p, T, 100)
            .await
            .unwrap();
        assert!(!past.truncated, "{}", t.engine);
        let received: Vec<i64> = past
            .events
            .iter()
            .map(|e| (e.received - T) / MINUTE)
            .collect();
        assert_eq!(received, [1, 2, 3, 5], "{}", t.engine);
        assert_eq!(past.events[0].issue_id, old);
        assert_eq!(past.events[0].user.as_deref(), Some("id:1"));
        assert_eq!(
            past.events[0].facts.environment.as_deref(),
            Some("production")
        );
        assert_eq!(
            past.events[0].facts.level,
            Some(errhound_domain::Level::Error)
        );
        let old_history = &past.issues[&old];
        assert_eq!(old_history.times_seen_before, 2, "{}", t.engine);
        assert_eq!(old_history.first_seen_ms, T - 60 * MINUTE - 5);
        assert!(old_history.regressed_at_ms.is_empty());
        let new_history = &past.issues[&new];
        assert_eq!(new_history.times_seen_before, 0, "{}", t.engine);
        assert_eq!(new_history.assignee, None);
        assert_eq!(
            new_history.regressed_at_ms,
            [T + 5 * MINUTE],
            "the reopening event's receive time, {}",
            t.engine
        );
        assert!(new_history.reappeared_at_ms.is_empty());

        // A limit keeps the newest events and says that older ones were left out.
        let past = past_events(&mut conn.conn(), &dictionaries, p, T, 2)
            .await
            .unwrap();
        assert!(past.truncated, "{}", t.engine);
        let received: Vec<i64> = past
            .events
            .iter()
            .map(|e| (e.received - T) / MINUTE)
            .collect();
        assert_eq!(received, [3, 5]);
        assert_eq!(past.issues[&new].times_seen_before, 1, "event 4");
        assert!(
            !past.issues.contains_key(&old),
            "only the issues of the events returned"
        );
        // Exactly the limit is not truncated; nothing since is empty.
        let past = past_events(&mut conn.conn(), &dictionaries, p, T, 4)
            .await
            .unwrap();
        assert!(!past.truncated);
        let past = past_events(&mut conn.conn(), &dictionaries, p, T + HOUR, 4)
            .await
            .unwrap();
        assert!(past.events.is_empty() && past.issues.is_empty() && !past.truncated);
    }
}

const HOUR: i64 = 60 * MINUTE;
