//! The issue workflow on both engines: the status state machine with regressions, resolutions in
//! releases and ignore conditions, assignment, bookmarks, comments, the activity timeline, merge
//! and unmerge, releases and environments, and the list filters they add.

use errhound_domain::Role;
use errhound_store::activity::{self, ActivityType};
use errhound_store::ingest::{BatchOutcome, NewEvent, write_batch};
use errhound_store::issues::{self, Issue, IssueFilter, IssueSort, Page};
use errhound_store::workflow::{
    self, Assignee, AssigneeFilter, AssigneeName, AssigneeRef, ChangeError, IgnoreConditions,
    IssueChange, ResolutionKind, StatusChange, WorkflowError,
};
use errhound_store::{Db, events, orgs, projects, releases, teams, users};
use errhound_test_utils::engines;

use crate::fixtures::{event, setup};

const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;
/// A fixed "now" for the tests, on an hour boundary plus half an hour.
const T: i64 = 1_800_000_000_000 + 30 * MINUTE;

struct World {
    db: Db,
    engine: &'static str,
    project_id: i64,
    org_id: i64,
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
    let alice = users::create(&mut c, "alice@acme.test", "Alice", None, false, 1)
        .await
        .unwrap()
        .id;
    let bob = users::create(&mut c, "bob@elsewhere.test", "Bob", None, false, 1)
        .await
        .unwrap()
        .id;
    orgs::add_member(&mut c, org_id, alice, Role::Member, 1)
        .await
        .unwrap();
    World {
        db: t.db.clone(),
        engine: t.engine,
        project_id,
        org_id,
        alice,
        bob,
    }
}

/// An event of issue `hash` at `ts` (also its receive time) from `user`, in `release`.
fn ev(w: &World, n: u32, hash: &str, ts: i64, release: Option<&str>, user: &str) -> NewEvent {
    let mut e = event(w.project_id, n, &[hash], ts);
    e.release = release.map(str::to_owned);
    e.tags = vec![
        ("level".into(), "error".into()),
        ("user".into(), user.into()),
        ("environment".into(), "production".into()),
    ];
    if let Some(release) = release {
        e.tags.push(("release".into(), release.into()));
    }
    e
}

async fn write(w: &World, batch: Vec<NewEvent>, now: i64) -> BatchOutcome {
    let mut tx = w.db.begin().await.unwrap();
    let outcome = write_batch(&mut tx, batch, now).await.unwrap();
    tx.commit().await.unwrap();
    outcome
}

async fn issue(w: &World, id: i64) -> Issue {
    let mut conn = w.db.write().await.unwrap();
    issues::get(&mut conn.conn(), id).await.unwrap().unwrap()
}

async fn issue_of(w: &World, n: u32) -> Issue {
    let mut conn = w.db.write().await.unwrap();
    let stored = events::find(&mut conn.conn(), w.project_id, &format!("{n:032x}"))
        .await
        .unwrap()
        .unwrap();
    issues::get(&mut conn.conn(), stored.issue_id)
        .await
        .unwrap()
        .unwrap()
}

fn state(i: &Issue) -> (&str, Option<&str>) {
    (i.status.as_str(), i.substatus.map(|s| s.as_str()))
}

/// Runs one workflow change in its own transaction.
async fn change(
    w: &World,
    id: i64,
    what: StatusChange,
    now: i64,
) -> Result<workflow::StatusOutcome, WorkflowError> {
    let mut tx = w.db.begin().await.unwrap();
    let outcome = workflow::change_status(&mut tx, id, &what, Some(w.alice), now).await;
    if outcome.is_ok() {
        tx.commit().await.unwrap();
    }
    outcome
}

async fn kinds(w: &World, id: i64) -> Vec<String> {
    let mut conn = w.db.write().await.unwrap();
    activity::timeline(&mut conn.conn(), id, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect()
}

async fn list(w: &World, filter: IssueFilter) -> Vec<i64> {
    let mut conn = w.db.write().await.unwrap();
    let mut ids: Vec<i64> = issues::list(
        &mut conn.conn(),
        &IssueFilter {
            project_ids: vec![w.project_id],
            ..filter
        },
        IssueSort::LastSeen,
        Page::First,
        100,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|i| i.id)
    .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn resolve_then_a_later_event_regresses_with_activity() {
    for t in engines().await {
        let w = world(&t).await;
        write(&w, vec![ev(&w, 1, "a", T - HOUR, None, "id:1")], T - HOUR).await;
        let id = issue_of(&w, 1).await.id;
        let outcome = change(&w, id, StatusChange::Resolve, T).await.unwrap();
        assert!(outcome.changed, "{}", w.engine);
        assert!(
            !change(&w, id, StatusChange::Resolve, T)
                .await
                .unwrap()
                .changed
        );
        let resolved = issue(&w, id).await;
        assert_eq!(state(&resolved), ("resolved", None));
        assert_eq!(resolved.resolved_at, Some(T));

        // An event received before the resolve was in flight: no regression.
        let outcome = write(&w, vec![ev(&w, 2, "a", T - 10, None, "id:1")], T + 1).await;
        assert!(outcome.regressed_issues.is_empty(), "{}", w.engine);
        assert_eq!(issue(&w, id).await.status.as_str(), "resolved");

        let outcome = write(
            &w,
            vec![ev(&w, 3, "a", T + MINUTE, Some("1.0"), "id:1")],
            T + MINUTE,
        )
        .await;
        assert_eq!(outcome.regressed_issues, vec![id], "{}", w.engine);
        let regressed = issue(&w, id).await;
        assert_eq!(state(&regressed), ("unresolved", Some("regressed")));
        assert_eq!(regressed.resolved_at, None);
        assert_eq!(regressed.times_seen, 3);

        let mut conn = w.db.write().await.unwrap();
        let timeline = activity::timeline(&mut conn.conn(), id, 100).await.unwrap();
        let names: Vec<&str> = timeline.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(names, vec!["set_regression", "set_resolved", "first_seen"]);
        assert_eq!(timeline[0].user, None, "the system regressed it");
        assert_eq!(timeline[0].data["version"], "1.0");
        assert_eq!(timeline[0].data["event_id"], format!("{:032x}", 3));
        let who = timeline[1].user.as_ref().unwrap();
        assert_eq!((who.id, who.email.as_str()), (w.alice, "alice@acme.test"));
        assert_eq!(timeline[2].created_at, T - HOUR);
        drop(conn);

        // Regressed issues are listed by substatus.
        let regressed = list(
            &w,
            IssueFilter {
                substatuses: vec![errhound_domain::Substatus::Regressed],
                ..IssueFilter::default()
            },
        )
        .await;
        assert_eq!(regressed, vec![id]);
    }
}

#[tokio::test]
async fn resolved_in_a_release_covers_older_releases_only() {
    for t in engines().await {
        let w = world(&t).await;
        // Releases 1.0 < 2.0 < 3.0 by first seen; the issue is seen in 1.0 and 2.0.
        write(
            &w,
            vec![
                ev(&w, 1, "a", T - 3 * HOUR, Some("1.0"), "id:1"),
                ev(&w, 2, "a", T - 2 * HOUR, Some("2.0"), "id:1"),
                ev(&w, 3, "other", T - HOUR, Some("3.0"), "id:1"),
            ],
            T - HOUR,
        )
        .await;
        let id = issue_of(&w, 1).await.id;
        let err = change(&w, id, StatusChange::ResolveInRelease("9.9".into()), T).await;
        assert!(
            matches!(err, Err(WorkflowError::NotFound("release"))),
            "{err:?}"
        );

        let outcome = change(&w, id, StatusChange::ResolveInRelease("2.0".into()), T)
            .await
            .unwrap();
        assert_eq!(
            outcome.resolution,
            Some((ResolutionKind::InRelease, "2.0".to_owned()))
        );
        // Older release and no release: covered.
        let out = write(
            &w,
            vec![
                ev(&w, 4, "a", T + MINUTE, Some("1.0"), "id:1"),
                ev(&w, 5, "a", T + MINUTE, None, "id:1"),
            ],
            T + MINUTE,
        )
        .await;
        assert!(out.regressed_issues.is_empty(), "{}", w.engine);
        assert_eq!(issue(&w, id).await.status.as_str(), "resolved");
        {
            let resolved = issue(&w, id).await;
            let mut conn = w.db.write().await.unwrap();
            let states = workflow::issue_states(&mut conn.conn(), &[resolved], None)
                .await
                .unwrap();
            let resolution = states[&id].resolution.clone().unwrap();
            assert_eq!(resolution.version, "2.0");
            assert_eq!(resolution.actor.unwrap().id, w.alice);
        }
        // The release it was fixed in still fails: regression.
        let out = write(
            &w,
            vec![ev(&w, 6, "a", T + 2 * MINUTE, Some("2.0"), "id:1")],
            T + 2 * MINUTE,
        )
        .await;
        assert_eq!(out.regressed_issues, vec![id], "{}", w.engine);
        assert_eq!(
            kinds(&w, id).await[..2],
            ["set_regression", "set_resolved_in_release"]
        );

        // Resolved in the latest release (3.0): 2.0 is older now; a new release regresses.
        let outcome = change(
            &w,
            id,
            StatusChange::ResolveInRelease("latest".into()),
            T + HOUR,
        )
        .await
        .unwrap();
        assert_eq!(
            outcome.resolution,
            Some((ResolutionKind::InRelease, "3.0".to_owned()))
        );
        let out = write(
            &w,
            vec![ev(&w, 7, "a", T + HOUR + 1, Some("2.0"), "id:1")],
            T + HOUR + 1,
        )
        .await;
        assert!(out.regressed_issues.is_empty());
        let out = write(
            &w,
            vec![ev(&w, 8, "a", T + 2 * HOUR, Some("4.0"), "id:1")],
            T + 2 * HOUR,
        )
        .await;
        assert_eq!(out.regressed_issues, vec![id], "{}", w.engine);
    }
}

#[tokio::test]
async fn resolved_in_next_release_covers_the_current_one() {
    for t in engines().await {
        let w = world(&t).await;
        write(
            &w,
            vec![
                ev(&w, 1, "a", T - 2 * HOUR, Some("1.0"), "id:1"),
                ev(&w, 2, "b", T - 2 * HOUR, Some("1.0"), "id:1"),
                ev(&w, 3, "c", T - 3 * HOUR, None, "id:1"),
            ],
            T - HOUR,
        )
        .await;
        let a = issue_of(&w, 1).await.id;
        let outcome = change(&w, a, StatusChange::ResolveInNextRelease, T)
            .await
            .unwrap();
        assert_eq!(
            outcome.resolution,
            Some((ResolutionKind::InNextRelease, "1.0".to_owned()))
        );
        let out = write(&w, vec![ev(&w, 4, "a", T + 1, Some("1.0"), "id:1")], T + 1).await;
        assert!(out.regressed_issues.is_empty(), "{}", w.engine);
        let out = write(&w, vec![ev(&w, 5, "a", T + 2, Some("1.1"), "id:1")], T + 2).await;
        assert_eq!(out.regressed_issues, vec![a], "{}", w.engine);

        // A newer release than the issue's exists already (1.1): resolved in that one.
        let b = issue_of(&w, 2).await.id;
        let outcome = change(&w, b, StatusChange::ResolveInNextRelease, T + 3)
            .await
            .unwrap();
        assert_eq!(
            outcome.resolution,
            Some((ResolutionKind::InRelease, "1.1".to_owned()))
        );
        let out = write(&w, vec![ev(&w, 6, "b", T + 4, Some("1.1"), "id:1")], T + 4).await;
        assert_eq!(out.regressed_issues, vec![b], "{}", w.engine);

        // An issue without a release in a project with releases: the project's latest.
        let c = issue_of(&w, 3).await.id;
        let outcome = change(&w, c, StatusChange::ResolveInNextRelease, T + 5)
            .await
            .unwrap();
        assert_eq!(
            outcome.resolution,
            Some((ResolutionKind::InNextRelease, "1.1".to_owned()))
        );
        assert_eq!(kinds(&w, c).await[0], "set_resolved_in_release");
    }
}

#[tokio::test]
async fn resolved_in_next_release_without_releases_is_a_plain_resolve() {
    for t in engines().await {
        let w = world(&t).await;
        write(&w, vec![ev(&w, 1, "a", T - HOUR, None, "id:1")], T - HOUR).await;
        let a = issue_of(&w, 1).await.id;
        let outcome = change(&w, a, StatusChange::ResolveInNextRelease, T)
            .await
            .unwrap();
        assert!(outcome.changed);
        assert_eq!(outcome.resolution, None);
        let out = write(&w, vec![ev(&w, 2, "a", T + 1, None, "id:1")], T + 1).await;
        assert_eq!(out.regressed_issues, vec![a], "{}", w.engine);
    }
}

fn until(ms: i64) -> StatusChange {
    StatusChange::Ignore(IgnoreConditions {
        until_ms: Some(ms),
        ..IgnoreConditions::default()
    })
}

#[tokio::test]
async fn ignore_until_a_time() {
    for t in engines().await {
        let w = world(&t).await;
        write(
            &w,
            vec![
                ev(&w, 1, "a", T - HOUR, None, "id:1"),
                ev(&w, 2, "b", T - HOUR, None, "id:1"),
            ],
            T - HOUR,
        )
        .await;
        let (a, b) = (issue_of(&w, 1).await.id, issue_of(&w, 2).await.id);
        assert!(change(&w, a, until(T + HOUR), T).await.unwrap().changed);
        assert!(!change(&w, a, until(T + HOUR), T).await.unwrap().changed);
        assert_eq!(
            state(&issue(&w, a).await),
            ("ignored", Some("archived_until_condition_met"))
        );
        write(&w, vec![ev(&w, 3, "a", T + 1, None, "id:1")], T + 1).await;
        assert_eq!(
            issue(&w, a).await.status.as_str(),
            "ignored",
            "{}",
            w.engine
        );
        write(
            &w,
            vec![ev(&w, 4, "a", T + 2 * HOUR, None, "id:1")],
            T + 2 * HOUR,
        )
        .await;
        assert_eq!(
            state(&issue(&w, a).await),
            ("unresolved", Some("ongoing")),
            "{}",
            w.engine
        );
        let mut conn = w.db.write().await.unwrap();
        let timeline = activity::timeline(&mut conn.conn(), a, 100).await.unwrap();
        assert_eq!(timeline[0].kind, "set_unresolved");
        assert_eq!(timeline[0].user, None);
        assert_eq!(timeline[1].kind, "set_ignored");
        assert_eq!(timeline[1].data["ignoreUntil"], activity::iso8601(T + HOUR));
        drop(conn);

        // Without events, the periodic sweep ends time-limited ignores.
        change(&w, b, until(T + HOUR), T).await.unwrap();
        let mut tx = w.db.begin().await.unwrap();
        assert!(
            workflow::clear_expired_snoozes(&mut tx, T + 10, 100)
                .await
                .unwrap()
                .is_empty()
        );
        let cleared = workflow::clear_expired_snoozes(&mut tx, T + HOUR, 100)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(cleared, vec![b], "{}", w.engine);
        assert_eq!(state(&issue(&w, b).await), ("unresolved", Some("ongoing")));
        assert_eq!(kinds(&w, b).await[0], "set_unresolved");
    }
}

#[tokio::test]
async fn ignore_until_more_events_escalates() {
    for t in engines().await {
        let w = world(&t).await;
        write(&w, vec![ev(&w, 1, "a", T - HOUR, None, "id:1")], T - HOUR).await;
        let a = issue_of(&w, 1).await.id;
        let three = StatusChange::Ignore(IgnoreConditions {
            count: Some(3),
            ..IgnoreConditions::default()
        });
        change(&w, a, three, T).await.unwrap();
        write(
            &w,
            vec![
                ev(&w, 2, "a", T + 1, None, "id:1"),
                ev(&w, 3, "a", T + 2, None, "id:1"),
            ],
            T + 2,
        )
        .await;
        assert_eq!(
            issue(&w, a).await.status.as_str(),
            "ignored",
            "{}",
            w.engine
        );
        write(&w, vec![ev(&w, 4, "a", T + 3, None, "id:1")], T + 3).await;
        let reopened = issue(&w, a).await;
        assert_eq!(
            state(&reopened),
            ("unresolved", Some("escalating")),
            "{}",
            w.engine
        );
        let mut conn = w.db.write().await.unwrap();
        let timeline = activity::timeline(&mut conn.conn(), a, 100).await.unwrap();
        assert_eq!(timeline[0].kind, "set_escalating");
        assert_eq!(timeline[0].data["expired_snooze"]["count"], 3);
        assert_eq!(timeline[0].data["event_id"], format!("{:032x}", 4));
        assert_eq!(timeline[1].data["ignoreCount"], 3);
        drop(conn);

        // Escalated issues are listed as such.
        let listed = list(
            &w,
            IssueFilter {
                substatuses: vec![errhound_domain::Substatus::Escalating],
                ..IssueFilter::default()
            },
        )
        .await;
        assert_eq!(listed, vec![a]);
    }
}

#[tokio::test]
async fn ignore_until_more_events_within_a_window() {
    for t in engines().await {
        let w = world(&t).await;
        write(
            &w,
            vec![ev(&w, 1, "a", T - 10 * HOUR, None, "id:1")],
            T - 10 * HOUR,
        )
        .await;
        let a = issue_of(&w, 1).await.id;
        let rate = StatusChange::Ignore(IgnoreConditions {
            count: Some(3),
            window_minutes: Some(60),
            ..IgnoreConditions::default()
        });
        change(&w, a, rate, T - 6 * HOUR).await.unwrap();
        // Three more events, but hours apart: never three within an hour.
        for (n, hours) in [(2, 5), (3, 4), (4, 3)] {
            let ts = T - hours * HOUR;
            write(&w, vec![ev(&w, n, "a", ts, None, "id:1")], ts).await;
        }
        assert_eq!(
            issue(&w, a).await.status.as_str(),
            "ignored",
            "{}",
            w.engine
        );
        assert_eq!(issue(&w, a).await.times_seen, 4);
        // Three within the hour.
        write(
            &w,
            vec![
                ev(&w, 5, "a", T - 2 * MINUTE, None, "id:1"),
                ev(&w, 6, "a", T - MINUTE, None, "id:1"),
            ],
            T,
        )
        .await;
        assert_eq!(
            issue(&w, a).await.status.as_str(),
            "ignored",
            "{}",
            w.engine
        );
        write(&w, vec![ev(&w, 7, "a", T, None, "id:1")], T).await;
        assert_eq!(
            state(&issue(&w, a).await),
            ("unresolved", Some("escalating")),
            "{}",
            w.engine
        );
    }
}

#[tokio::test]
async fn ignore_until_more_users_with_and_without_a_window() {
    for t in engines().await {
        let w = world(&t).await;
        write(
            &w,
            vec![
                ev(&w, 1, "a", T - HOUR, None, "id:1"),
                ev(&w, 2, "b", T - HOUR, None, "id:1"),
            ],
            T - HOUR,
        )
        .await;
        let (a, b) = (issue_of(&w, 1).await.id, issue_of(&w, 2).await.id);
        let users = |window| {
            StatusChange::Ignore(IgnoreConditions {
                user_count: Some(2),
                user_window_minutes: window,
                ..IgnoreConditions::default()
            })
        };
        change(&w, a, users(None), T).await.unwrap();
        write(
            &w,
            vec![
                ev(&w, 3, "a", T + 1, None, "id:1"),
                ev(&w, 4, "a", T + 2, None, "id:2"),
            ],
            T + 2,
        )
        .await;
        assert_eq!(
            issue(&w, a).await.status.as_str(),
            "ignored",
            "one new user: {}",
            w.engine
        );
        write(&w, vec![ev(&w, 5, "a", T + 3, None, "id:3")], T + 3).await;
        assert_eq!(
            state(&issue(&w, a).await),
            ("unresolved", Some("escalating")),
            "{}",
            w.engine
        );

        // Within ten minutes: two users long ago do not count, two users now do.
        change(&w, b, users(Some(10)), T).await.unwrap();
        write(
            &w,
            vec![
                ev(&w, 6, "b", T - 30 * MINUTE, None, "id:7"),
                ev(&w, 7, "b", T - 20 * MINUTE, None, "id:8"),
            ],
            T,
        )
        .await;
        assert_eq!(
            issue(&w, b).await.status.as_str(),
            "ignored",
            "{}",
            w.engine
        );
        write(
            &w,
            vec![
                ev(&w, 8, "b", T - MINUTE, None, "id:7"),
                ev(&w, 9, "b", T, None, "id:9"),
            ],
            T,
        )
        .await;
        assert_eq!(
            state(&issue(&w, b).await),
            ("unresolved", Some("escalating")),
            "{}",
            w.engine
        );
    }
}

#[tokio::test]
async fn ignored_forever_never_reopens_and_unresolve_reopens() {
    for t in engines().await {
        let w = world(&t).await;
        write(&w, vec![ev(&w, 1, "a", T - HOUR, None, "id:1")], T - HOUR).await;
        let a = issue_of(&w, 1).await.id;
        change(&w, a, StatusChange::Ignore(IgnoreConditions::default()), T)
            .await
            .unwrap();
        assert_eq!(
            state(&issue(&w, a).await),
            ("ignored", Some("archived_forever"))
        );
        let batch = (2..50)
            .map(|n| ev(&w, n, "a", T + i64::from(n), None, &format!("id:{n}")))
            .collect();
        let out = write(&w, batch, T + 100 * HOUR).await;
        assert!(out.regressed_issues.is_empty());
        assert_eq!(
            issue(&w, a).await.status.as_str(),
            "ignored",
            "{}",
            w.engine
        );
        assert_eq!(issue(&w, a).await.times_seen, 49);

        // Unignored within a week of its first event: new again.
        assert!(
            change(&w, a, StatusChange::Unresolve, T)
                .await
                .unwrap()
                .changed
        );
        assert_eq!(state(&issue(&w, a).await), ("unresolved", Some("new")));
        assert!(
            !change(&w, a, StatusChange::Unresolve, T)
                .await
                .unwrap()
                .changed
        );
        change(&w, a, StatusChange::Resolve, T).await.unwrap();
        change(&w, a, StatusChange::Unresolve, T).await.unwrap();
        assert_eq!(state(&issue(&w, a).await), ("unresolved", Some("ongoing")));
        assert_eq!(
            kinds(&w, a).await,
            vec![
                "set_unresolved",
                "set_resolved",
                "set_unresolved",
                "set_ignored",
                "first_seen"
            ]
        );
    }
}

#[tokio::test]
async fn assignment_bookmarks_and_their_filters() {
    for t in engines().await {
        let w = world(&t).await;
        write(
            &w,
            vec![
                ev(&w, 1, "a", T - HOUR, None, "id:1"),
                ev(&w, 2, "b", T - HOUR, None, "id:1"),
                ev(&w, 3, "c", T - HOUR, None, "id:1"),
            ],
            T - HOUR,
        )
        .await;
        let (a, b, c) = (
            issue_of(&w, 1).await.id,
            issue_of(&w, 2).await.id,
            issue_of(&w, 3).await.id,
        );
        let mut tx = w.db.begin().await.unwrap();
        let team = teams::create(&mut tx.conn(), w.org_id, "backend", "Backend", T)
            .await
            .unwrap();
        assert!(
            teams::add_member(&mut tx.conn(), team.id, w.alice, T)
                .await
                .unwrap()
        );
        // Bob is not in the organization: neither a team member nor an assignee.
        assert!(matches!(
            teams::add_member(&mut tx.conn(), team.id, w.bob, T).await,
            Err(WorkflowError::Invalid(_))
        ));
        let other_org = orgs::create(&mut tx.conn(), "other", "Other", T)
            .await
            .unwrap();
        let foreign = teams::create(&mut tx.conn(), other_org.id, "backend", "B", T)
            .await
            .unwrap();
        let me = Some(w.alice);
        assert!(
            workflow::assign(&mut tx, a, AssigneeRef::User(w.alice), me, T)
                .await
                .unwrap()
        );
        assert!(
            !workflow::assign(&mut tx, a, AssigneeRef::User(w.alice), me, T)
                .await
                .unwrap()
        );
        assert!(matches!(
            workflow::assign(&mut tx, a, AssigneeRef::User(w.bob), me, T).await,
            Err(WorkflowError::Invalid(_))
        ));
        assert!(matches!(
            workflow::assign(&mut tx, a, AssigneeRef::Team(foreign.id), me, T).await,
            Err(WorkflowError::Invalid(_))
        ));
        assert!(
            workflow::assign(&mut tx, b, AssigneeRef::Team(team.id), me, T)
                .await
                .unwrap()
        );
        assert!(
            workflow::set_bookmark(&mut tx, c, w.alice, true, T)
                .await
                .unwrap()
        );
        assert!(
            !workflow::set_bookmark(&mut tx, c, w.alice, true, T)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();

        let filter = |assigned| IssueFilter {
            assigned: Some(assigned),
            ..IssueFilter::default()
        };
        assert_eq!(
            list(&w, filter(AssigneeFilter::User(w.alice))).await,
            vec![a]
        );
        assert_eq!(
            list(&w, filter(AssigneeFilter::Team(team.id))).await,
            vec![b]
        );
        assert_eq!(
            list(&w, filter(AssigneeFilter::UserOrTheirTeams(w.alice))).await,
            vec![a, b]
        );
        assert_eq!(
            list(&w, filter(AssigneeFilter::TeamsOf(w.alice))).await,
            vec![b]
        );
        assert_eq!(list(&w, filter(AssigneeFilter::Anyone)).await, vec![a, b]);
        assert_eq!(list(&w, filter(AssigneeFilter::Nobody)).await, vec![c]);
        let bookmarked = IssueFilter {
            bookmarked_by: Some(w.alice),
            ..IssueFilter::default()
        };
        assert_eq!(list(&w, bookmarked).await, vec![c], "{}", w.engine);

        let all = vec![issue(&w, a).await, issue(&w, b).await, issue(&w, c).await];
        let mut conn = w.db.write().await.unwrap();
        let states = workflow::issue_states(&mut conn.conn(), &all, Some(w.alice))
            .await
            .unwrap();
        match &states[&a].assignee {
            Some(Assignee::User(u)) => assert_eq!(u.email, "alice@acme.test"),
            other => panic!("{other:?}"),
        }
        match &states[&b].assignee {
            Some(Assignee::Team { slug, .. }) => assert_eq!(slug, "backend"),
            other => panic!("{other:?}"),
        }
        assert!(states[&c].bookmarked && !states[&a].bookmarked);
        let timeline = activity::timeline(&mut conn.conn(), a, 10).await.unwrap();
        assert_eq!(timeline[0].kind, "assigned");
        assert_eq!(timeline[0].data["assigneeType"], "user");
        assert_eq!(timeline[0].data["assignee"], w.alice.to_string());
        drop(conn);

        let mut tx = w.db.begin().await.unwrap();
        assert!(workflow::unassign(&mut tx, a, me, T).await.unwrap());
        assert!(!workflow::unassign(&mut tx, a, me, T).await.unwrap());
        assert!(
            workflow::set_bookmark(&mut tx, c, w.alice, false, T)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        assert_eq!(list(&w, filter(AssigneeFilter::Nobody)).await, vec![a, c]);
        assert_eq!(kinds(&w, a).await[..2], ["unassigned", "assigned"]);
        let mut conn = w.db.write().await.unwrap();
        let members = teams::org_members(&mut conn.conn(), w.org_id)
            .await
            .unwrap();
        let alice = members.iter().find(|m| m.user.id == w.alice).unwrap();
        assert_eq!(alice.teams, vec!["backend"]);
        let listed = teams::list_for_org(&mut conn.conn(), w.org_id)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].member_count, 1);
    }
}

#[tokio::test]
async fn comments_are_note_activity() {
    for t in engines().await {
        let w = world(&t).await;
        write(&w, vec![ev(&w, 1, "a", T - HOUR, None, "id:1")], T - HOUR).await;
        let a = issue_of(&w, 1).await.id;
        let mut tx = w.db.begin().await.unwrap();
        let note = activity::add_comment(&mut tx, a, w.alice, "  Looks like a race.  ", T)
            .await
            .unwrap();
        assert_eq!(note.kind, ActivityType::Note.as_str());
        assert_eq!(note.text(), Some("Looks like a race."));
        assert!(matches!(
            activity::add_comment(&mut tx, a, w.alice, "Looks like a race.", T + MINUTE).await,
            Err(WorkflowError::Conflict(_))
        ));
        assert!(matches!(
            activity::add_comment(&mut tx, a, w.alice, "   ", T).await,
            Err(WorkflowError::Invalid(_))
        ));
        // An hour later the same words are a new comment.
        activity::add_comment(&mut tx, a, w.alice, "Looks like a race.", T + 2 * HOUR)
            .await
            .unwrap();
        let edited =
            activity::edit_comment(&mut tx, a, note.id, w.alice, "A lock is missing.", T + 1)
                .await
                .unwrap();
        assert_eq!(edited.text(), Some("A lock is missing."));
        assert_eq!(edited.updated_at, Some(T + 1));
        // Only the author edits or deletes.
        assert!(matches!(
            activity::edit_comment(&mut tx, a, note.id, w.bob, "mine now", T).await,
            Err(WorkflowError::NotFound(_))
        ));
        assert!(matches!(
            activity::delete_comment(&mut tx, a, note.id, w.bob).await,
            Err(WorkflowError::NotFound(_))
        ));
        tx.commit().await.unwrap();

        let mut conn = w.db.write().await.unwrap();
        let listed = activity::comments(&mut conn.conn(), a, Page::First, 10)
            .await
            .unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].id, note.id, "newest first");
        assert_eq!(
            activity::comment_counts(&mut conn.conn(), &[a])
                .await
                .unwrap()[&a],
            2
        );
        drop(conn);
        let mut tx = w.db.begin().await.unwrap();
        activity::delete_comment(&mut tx, a, note.id, w.alice)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            kinds(&w, a).await,
            vec!["note", "first_seen"],
            "{}",
            w.engine
        );
    }
}

#[tokio::test]
async fn merge_moves_everything_and_later_events_follow() {
    for t in engines().await {
        let w = world(&t).await;
        write(
            &w,
            vec![
                ev(&w, 1, "a", T - 3 * HOUR, Some("1.0"), "id:1"),
                ev(&w, 2, "a", T - 2 * HOUR, Some("1.0"), "id:2"),
                ev(&w, 3, "a", T - 2 * HOUR, Some("1.0"), "id:2"),
                ev(&w, 4, "b", T - 5 * HOUR, Some("0.9"), "id:3"),
                ev(&w, 5, "c", T - HOUR, Some("1.1"), "id:1"),
                ev(&w, 6, "c", T - HOUR, Some("1.1"), "id:4"),
            ],
            T - HOUR,
        )
        .await;
        let (a, b, c) = (
            issue_of(&w, 1).await.id,
            issue_of(&w, 4).await.id,
            issue_of(&w, 5).await.id,
        );
        let mut tx = w.db.begin().await.unwrap();
        let me = Some(w.alice);
        activity::add_comment(&mut tx, b, w.alice, "seen on b", T)
            .await
            .unwrap();
        workflow::set_bookmark(&mut tx, c, w.alice, true, T)
            .await
            .unwrap();
        workflow::assign(&mut tx, c, AssigneeRef::User(w.alice), me, T)
            .await
            .unwrap();
        assert!(matches!(
            workflow::merge(&mut tx, &[a], me, T).await,
            Err(WorkflowError::Invalid(_))
        ));
        let merged = workflow::merge(&mut tx, &[c, b, a], me, T).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(merged.parent, a, "most events wins: {}", w.engine);
        let mut children = vec![b, c];
        children.sort_unstable();
        assert_eq!(merged.children, children);

        let parent = issue(&w, a).await;
        assert_eq!(parent.times_seen, 6);
        assert_eq!(parent.user_count, 4, "distinct users of all three");
        assert_eq!(parent.first_seen, T - 5 * HOUR);
        assert_eq!(parent.last_seen, T - HOUR);
        assert_eq!(parent.first_release.as_deref(), Some("0.9"));
        assert_eq!(parent.last_release.as_deref(), Some("1.1"));
        let mut conn = w.db.write().await.unwrap();
        let mut c_ = conn.conn();
        assert!(issues::get(&mut c_, b).await.unwrap().is_none());
        assert!(issues::get(&mut c_, c).await.unwrap().is_none());
        let mut hashes = issues::hashes(&mut c_, a).await.unwrap();
        hashes.sort();
        assert_eq!(hashes, vec!["a", "b", "c"]);
        let stored = events::list_for_issue(&mut c_, a, Page::First, 100)
            .await
            .unwrap();
        assert_eq!(stored.len(), 6);
        let hourly: i64 = issues::hourly_counts(&mut c_, &[a], 0)
            .await
            .unwrap()
            .iter()
            .map(|h| h.count)
            .sum();
        assert_eq!(hourly, 6);
        let by_hour = issues::hourly_counts(&mut c_, &[a], 0).await.unwrap();
        assert_eq!(
            by_hour
                .iter()
                .find(|h| h.hour == (T - HOUR) / HOUR)
                .unwrap()
                .count,
            2
        );
        assert_eq!(workflow::redirect(&mut c_, b).await.unwrap(), Some(a));
        assert_eq!(workflow::redirect(&mut c_, c).await.unwrap(), Some(a));
        let timeline = activity::timeline(&mut c_, a, 100).await.unwrap();
        let names: Vec<&str> = timeline.iter().map(|x| x.kind.as_str()).collect();
        assert_eq!(names, vec!["merge", "assigned", "note", "first_seen"]);
        let merged_ids: Vec<String> = timeline[0].data["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            merged_ids,
            children.iter().map(i64::to_string).collect::<Vec<_>>()
        );
        let states = workflow::issue_states(&mut c_, &[parent], Some(w.alice))
            .await
            .unwrap();
        assert!(states[&a].bookmarked, "bookmark moved");
        assert!(
            matches!(states[&a].assignee, Some(Assignee::User(_))),
            "assignee moved"
        );
        assert_eq!(states[&a].num_comments, 1);
        drop(conn);

        // A later event of a merged hash lands in the survivor, tag counts included.
        let out = write(&w, vec![ev(&w, 7, "b", T + 1, Some("1.1"), "id:9")], T + 1).await;
        assert!(out.new_issues.is_empty(), "{}", w.engine);
        assert_eq!(issue_of(&w, 7).await.id, a);
        let parent = issue(&w, a).await;
        assert_eq!((parent.times_seen, parent.user_count), (7, 5));

        // Merging a merged issue again is refused (it does not exist any more).
        let mut tx = w.db.begin().await.unwrap();
        assert!(matches!(
            workflow::merge(&mut tx, &[a, b], me, T).await,
            Err(WorkflowError::NotFound("issue"))
        ));
    }
}

#[tokio::test]
async fn unmerge_sends_later_events_of_a_hash_to_a_new_issue() {
    for t in engines().await {
        let w = world(&t).await;
        let mut second = ev(&w, 2, "x", T - HOUR, None, "id:1");
        second.hashes = vec!["a".into(), "x".into()];
        write(
            &w,
            vec![ev(&w, 1, "a", T - 2 * HOUR, None, "id:1"), second],
            T - HOUR,
        )
        .await;
        let a = issue_of(&w, 1).await.id;
        assert_eq!(issue_of(&w, 2).await.id, a);

        let mut tx = w.db.begin().await.unwrap();
        assert!(matches!(
            workflow::unmerge(&mut tx, a, &["zzz".to_owned()], Some(w.alice), T).await,
            Err(WorkflowError::Conflict(_))
        ));
        let split = workflow::unmerge(&mut tx, a, &["x".to_owned()], Some(w.alice), T)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let new = issue(&w, split).await;
        let old = issue(&w, a).await;
        assert_eq!(new.title, old.title);
        assert_eq!((new.times_seen, new.status.as_str()), (0, "unresolved"));
        assert_eq!(new.short_id, old.short_id + 1);
        assert_eq!(old.times_seen, 2, "stored events stay");
        let mut conn = w.db.write().await.unwrap();
        assert_eq!(
            issues::hashes(&mut conn.conn(), split).await.unwrap(),
            vec!["x"]
        );
        assert_eq!(
            issues::hashes(&mut conn.conn(), a).await.unwrap(),
            vec!["a"]
        );
        drop(conn);
        assert_eq!(kinds(&w, a).await[0], "unmerge_source");
        assert_eq!(kinds(&w, split).await[0], "unmerge_destination");

        let out = write(
            &w,
            vec![
                ev(&w, 3, "x", T + 1, None, "id:2"),
                ev(&w, 4, "a", T + 1, None, "id:2"),
            ],
            T + 1,
        )
        .await;
        assert!(out.new_issues.is_empty(), "{}", w.engine);
        assert_eq!(issue_of(&w, 3).await.id, split);
        assert_eq!(issue_of(&w, 4).await.id, a);
        let new = issue(&w, split).await;
        assert_eq!((new.times_seen, new.user_count), (1, 1));
        assert_eq!(
            (new.first_seen, new.last_seen),
            (T, T + 1),
            "born at the unmerge"
        );
    }
}

#[tokio::test]
async fn releases_and_environments_are_counted_per_batch() {
    for t in engines().await {
        let w = world(&t).await;
        let mut staging = ev(&w, 3, "b", T - 3 * HOUR, Some("1.0"), "id:1");
        staging.tags.retain(|(k, _)| k != "environment");
        staging.tags.push(("environment".into(), "staging".into()));
        write(
            &w,
            vec![
                ev(&w, 1, "a", T - 2 * HOUR, Some("1.0"), "id:1"),
                ev(&w, 2, "a", T - HOUR, Some("1.1"), "id:1"),
                staging,
            ],
            T,
        )
        .await;
        write(&w, vec![ev(&w, 4, "a", T, Some("1.1"), "id:1")], T).await;
        let mut conn = w.db.write().await.unwrap();
        let list = releases::list(&mut conn.conn(), w.project_id, None, Page::First, 10)
            .await
            .unwrap();
        let shown: Vec<(&str, i64, i64, i64, i64)> = list
            .iter()
            .map(|r| {
                (
                    r.version.as_str(),
                    r.event_count,
                    r.new_issues,
                    r.first_seen,
                    r.last_seen,
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                ("1.1", 2, 0, T - HOUR, T),
                ("1.0", 2, 2, T - 3 * HOUR, T - 2 * HOUR)
            ],
            "{}",
            w.engine
        );
        let filtered = releases::list(&mut conn.conn(), w.project_id, Some("1.1"), Page::First, 10)
            .await
            .unwrap();
        assert_eq!(filtered.len(), 1);
        let latest = releases::latest(&mut conn.conn(), w.project_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.version, "1.1");
        let envs = releases::environments(&mut conn.conn(), w.project_id)
            .await
            .unwrap();
        let shown: Vec<(&str, i64, i64)> = envs
            .iter()
            .map(|e| (e.name.as_str(), e.event_count, e.new_issues))
            .collect();
        assert_eq!(shown, vec![("production", 3, 1), ("staging", 1, 1)]);
    }
}

#[tokio::test]
async fn one_change_applies_to_many_issues_or_to_none() {
    for t in engines().await {
        let w = world(&t).await;
        write(
            &w,
            vec![
                ev(&w, 1, "a", T - HOUR, None, "id:1"),
                ev(&w, 2, "b", T - HOUR, None, "id:1"),
            ],
            T - HOUR,
        )
        .await;
        let both = vec![issue_of(&w, 1).await, issue_of(&w, 2).await];
        let apply = |change: IssueChange| {
            let (db, issues, org_id, alice) = (w.db.clone(), both.clone(), w.org_id, w.alice);
            async move {
                let mut tx = db.begin().await.unwrap();
                let outcome =
                    workflow::apply_changes(&mut tx, org_id, alice, &issues, &change, T).await;
                if outcome.is_ok() {
                    tx.commit().await.unwrap();
                }
                outcome
            }
        };

        // Resolve, assign to the caller and bookmark, all together.
        let outcome = apply(IssueChange {
            status: Some(StatusChange::Resolve),
            assignee: Some(Some(AssigneeName::Me)),
            bookmarked: Some(true),
            merge: false,
        })
        .await
        .unwrap();
        assert_eq!(outcome.status_changed, 2, "{}", w.engine);
        assert_eq!(outcome.assignee, Some(AssigneeRef::User(w.alice)));
        for i in &both {
            assert_eq!(
                issue(&w, i.id).await.status.as_str(),
                "resolved",
                "{}",
                w.engine
            );
        }

        // Bob is no member: the whole change is refused, the status change included.
        let refused = apply(IssueChange {
            status: Some(StatusChange::Unresolve),
            assignee: Some(Some(AssigneeName::UserId(w.bob))),
            ..IssueChange::default()
        })
        .await;
        assert!(
            matches!(refused, Err(ChangeError::NotAMember)),
            "{}: {refused:?}",
            w.engine
        );
        assert_eq!(
            issue(&w, both[0].id).await.status.as_str(),
            "resolved",
            "{}",
            w.engine
        );
        let unknown_team = apply(IssueChange {
            assignee: Some(Some(AssigneeName::TeamSlug("nobody".into()))),
            ..IssueChange::default()
        })
        .await;
        assert!(matches!(unknown_team, Err(ChangeError::UnknownTeam)));

        // Merge: the survivor keeps both issues' events.
        let merged = apply(IssueChange {
            merge: true,
            ..IssueChange::default()
        })
        .await
        .unwrap()
        .merged
        .unwrap();
        assert_eq!(merged.children.len(), 1, "{}", w.engine);
        assert_eq!(issue(&w, merged.parent).await.times_seen, 2, "{}", w.engine);
    }
}
