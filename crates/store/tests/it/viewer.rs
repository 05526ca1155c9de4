//! Per-user issue state on both engines: `hasSeen` (seen since the issue was first seen or last
//! reopened), `isSubscribed` (derived from taking part, overridden explicitly), `seenBy`, and
//! the `is:for_review` list filter.

use errhound_store::activity;
use errhound_store::ingest::{NewEvent, write_batch};
use errhound_store::issues::{self, Issue, IssueFilter, IssueSort, Page};
use errhound_store::viewer::{self, SubscriptionReason, ViewerState};
use errhound_store::workflow::{self, AssigneeRef, StatusChange};
use errhound_store::{Db, orgs, projects, users};
use errhound_test_utils::engines;

use crate::fixtures::{event, setup};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
const T: i64 = 1_800_000_000_000;

struct World {
    db: Db,
    engine: &'static str,
    project_id: i64,
    alice: i64,
    bob: i64,
}

async fn world(t: &errhound_test_utils::TestDb) -> World {
    let project_id = setup(&t.db).await.project_id;
    let mut conn = t.db.write().await.unwrap();
    let mut c = conn.conn();
    let org_id = projects::get(&mut c, project_id)
        .await
        .unwrap()
        .unwrap()
        .organization_id;
    let mut user = async |email: &str| {
        let id = users::create(&mut c, email, "", None, false, 1)
            .await
            .unwrap()
            .id;
        orgs::add_member(&mut c, org_id, id, errhound_domain::Role::Member, 1)
            .await
            .unwrap();
        id
    };
    let alice = user("alice@acme.test").await;
    let bob = user("bob@acme.test").await;
    World {
        db: t.db.clone(),
        engine: t.engine,
        project_id,
        alice,
        bob,
    }
}

async fn write(w: &World, batch: Vec<NewEvent>, now: i64) {
    let mut tx = w.db.begin().await.unwrap();
    write_batch(&mut tx, batch, now).await.unwrap();
    tx.commit().await.unwrap();
}

async fn issues_by_hash(w: &World, hashes: &[&str]) -> Vec<Issue> {
    let mut conn = w.db.write().await.unwrap();
    let mut out = Vec::new();
    for (n, _) in hashes.iter().enumerate() {
        let stored = errhound_store::events::find(
            &mut conn.conn(),
            w.project_id,
            &format!("{:032x}", n + 1),
        )
        .await
        .unwrap()
        .unwrap();
        out.push(
            issues::get(&mut conn.conn(), stored.issue_id)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    out
}

async fn reload(w: &World, issue: &Issue) -> Issue {
    let mut conn = w.db.write().await.unwrap();
    issues::get(&mut conn.conn(), issue.id)
        .await
        .unwrap()
        .unwrap()
}

async fn states(w: &World, issues: &[Issue], user: i64) -> Vec<ViewerState> {
    let mut conn = w.db.write().await.unwrap();
    let states = viewer::states(&mut conn.conn(), issues, user)
        .await
        .unwrap();
    issues.iter().map(|i| states[&i.id]).collect()
}

fn seen(has_seen: bool, subscription: Option<SubscriptionReason>) -> ViewerState {
    ViewerState {
        has_seen,
        subscription,
    }
}

#[tokio::test]
async fn seen_until_the_issue_reopens_and_per_user() {
    for t in engines().await {
        let w = world(&t).await;
        write(
            &w,
            vec![
                event(w.project_id, 1, &["a"], T),
                event(w.project_id, 2, &["b"], T),
            ],
            T,
        )
        .await;
        let found = issues_by_hash(&w, &["a", "b"]).await;
        let (a, b) = (found[0].clone(), found[1].clone());
        let both = [a.clone(), b.clone()];
        assert_eq!(
            states(&w, &both, w.alice).await,
            [seen(false, None); 2],
            "{}",
            w.engine
        );

        let mut conn = w.db.write().await.unwrap();
        viewer::mark_seen(&mut conn.conn(), a.id, w.alice, T + MINUTE)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(
            states(&w, &both, w.alice).await,
            [seen(true, None), seen(false, None)],
            "{}",
            w.engine
        );
        assert_eq!(states(&w, &both, w.bob).await, [seen(false, None); 2]);

        // Resolved, then a later event regresses it: unseen again until seen after that.
        let mut tx = w.db.begin().await.unwrap();
        workflow::change_status(&mut tx, a.id, &StatusChange::Resolve, None, T + 2 * MINUTE)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        write(
            &w,
            vec![event(w.project_id, 3, &["a"], T + 3 * MINUTE)],
            T + 3 * MINUTE,
        )
        .await;
        let a = reload(&w, &a).await;
        assert_eq!(
            a.substatus.map(|s| s.as_str()),
            Some("regressed"),
            "{}",
            w.engine
        );
        assert_eq!(
            states(&w, std::slice::from_ref(&a), w.alice).await,
            [seen(false, None)],
            "{}",
            w.engine
        );
        let mut conn = w.db.write().await.unwrap();
        viewer::mark_seen(&mut conn.conn(), a.id, w.alice, T + 4 * MINUTE)
            .await
            .unwrap();
        viewer::mark_seen(&mut conn.conn(), a.id, w.bob, T + 5 * MINUTE)
            .await
            .unwrap();
        let seen_by = viewer::seen_by(&mut conn.conn(), a.id, 10).await.unwrap();
        let who: Vec<(i64, i64)> = seen_by.iter().map(|s| (s.user.id, s.last_seen)).collect();
        assert_eq!(who, [(w.bob, T + 5 * MINUTE), (w.alice, T + 4 * MINUTE)]);
        drop(conn);
        assert_eq!(
            states(&w, std::slice::from_ref(&a), w.alice).await,
            [seen(true, None)]
        );

        let mut conn = w.db.write().await.unwrap();
        viewer::mark_unseen(&mut conn.conn(), a.id, w.alice)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(
            states(&w, std::slice::from_ref(&a), w.alice).await,
            [seen(false, None)]
        );
        assert_eq!(
            states(&w, std::slice::from_ref(&a), w.bob).await,
            [seen(true, None)]
        );

        // An issue that is gone (merged away between a read and the write) is no error.
        let mut conn = w.db.write().await.unwrap();
        viewer::mark_seen(&mut conn.conn(), a.id + 1000, w.alice, T)
            .await
            .unwrap();
        viewer::set_subscribed(&mut conn.conn(), a.id + 1000, w.alice, true, T)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn taking_part_subscribes_unless_unsubscribed_explicitly() {
    for t in engines().await {
        let w = world(&t).await;
        write(
            &w,
            vec![
                event(w.project_id, 1, &["a"], T),
                event(w.project_id, 2, &["b"], T),
                event(w.project_id, 3, &["c"], T),
            ],
            T,
        )
        .await;
        let all = issues_by_hash(&w, &["a", "b", "c"]).await;
        let mut tx = w.db.begin().await.unwrap();
        // alice: bookmarks a, is assigned b, comments on c.
        workflow::set_bookmark(&mut tx, all[0].id, w.alice, true, T)
            .await
            .unwrap();
        workflow::assign(
            &mut tx,
            all[1].id,
            AssigneeRef::User(w.alice),
            Some(w.bob),
            T,
        )
        .await
        .unwrap();
        activity::add_comment(&mut tx, all[2].id, w.alice, "looking", T)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            states(&w, &all, w.alice).await,
            [
                seen(false, Some(SubscriptionReason::Bookmarked)),
                seen(false, Some(SubscriptionReason::Assigned)),
                seen(false, Some(SubscriptionReason::Commented)),
            ],
            "{}",
            w.engine
        );
        // Assigning someone else does not subscribe the one who assigned.
        assert_eq!(states(&w, &all, w.bob).await, [seen(false, None); 3]);

        let mut conn = w.db.write().await.unwrap();
        viewer::set_subscribed(&mut conn.conn(), all[0].id, w.alice, false, T)
            .await
            .unwrap();
        viewer::set_subscribed(&mut conn.conn(), all[2].id, w.bob, true, T)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(
            states(&w, &all, w.alice).await,
            [
                seen(false, None),
                seen(false, Some(SubscriptionReason::Assigned)),
                seen(false, Some(SubscriptionReason::Commented)),
            ],
            "{}",
            w.engine
        );
        assert_eq!(
            states(&w, &all, w.bob).await,
            [
                seen(false, None),
                seen(false, None),
                seen(false, Some(SubscriptionReason::Explicit)),
            ]
        );
        // Subscribing again overrides the unsubscription.
        let mut conn = w.db.write().await.unwrap();
        viewer::set_subscribed(&mut conn.conn(), all[0].id, w.alice, true, T + 1)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(
            states(&w, &all[..1], w.alice).await,
            [seen(false, Some(SubscriptionReason::Explicit))]
        );
    }
}

#[tokio::test]
async fn for_review_lists_recent_new_and_reopened_issues() {
    for t in engines().await {
        let w = world(&t).await;
        // a: new, first seen 10 days ago, event yesterday. b: new today. c: regressed today.
        write(
            &w,
            vec![
                event(w.project_id, 1, &["a"], T - 10 * DAY),
                event(w.project_id, 2, &["b"], T),
                event(w.project_id, 3, &["c"], T - 20 * DAY),
            ],
            T,
        )
        .await;
        let all = issues_by_hash(&w, &["a", "b", "c"]).await;
        let mut tx = w.db.begin().await.unwrap();
        workflow::change_status(&mut tx, all[2].id, &StatusChange::Resolve, None, T)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        write(
            &w,
            vec![
                event(w.project_id, 4, &["a"], T - DAY),
                event(w.project_id, 5, &["c"], T + MINUTE),
            ],
            T + MINUTE,
        )
        .await;
        let list = async |since: i64| -> Vec<i64> {
            let mut conn = w.db.write().await.unwrap();
            let filter = IssueFilter {
                project_ids: vec![w.project_id],
                for_review_since: Some(since),
                ..IssueFilter::default()
            };
            let mut ids: Vec<i64> = issues::list(
                &mut conn.conn(),
                &filter,
                IssueSort::LastSeen,
                Page::First,
                10,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
            ids.sort_unstable();
            ids
        };
        let mut recent = vec![all[1].id, all[2].id];
        recent.sort_unstable();
        assert_eq!(list(T - 7 * DAY).await, recent, "{}", w.engine);
        assert_eq!(list(T - 30 * DAY).await.len(), 3, "{}", w.engine);
        assert_eq!(list(T + 2 * MINUTE).await, Vec::<i64>::new());
    }
}
