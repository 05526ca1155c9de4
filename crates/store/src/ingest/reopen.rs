//! Issues a batch brings back: resolved issues regress, ignored issues whose condition is met
//! are unresolved. In four steps, one statement each for the whole batch:
//!
//! 1. **load** the workflow state of the batch's issues that are not unresolved, and for
//!    windowed ignore conditions the counts in their windows;
//! 2. **decide** ([`decide`], pure) which issues reopen, and on which event;
//! 3. **apply** the transitions, guarded by the status loaded, so a concurrent change wins;
//! 4. **record** the activity of the transitions that happened.

use std::collections::{BTreeMap, HashMap, HashSet};

use errhound_domain::{IssueStatus, JobKind};

use super::{NewEvent, ReleaseOrders, padded, shaped};
use crate::StoreError;
use crate::activity::{ActivityType, NewActivity};
use crate::db::Tx;
use crate::query::Query;
use crate::workflow::{ReleaseOrder, ResolutionKind, SnoozeCheck, SnoozeEnd, resolution_covers};

/// What [`reopen_resolved`] changed.
pub(super) struct Reopened {
    /// Resolved issues reopened (regressions), ascending.
    pub regressed: Vec<i64>,
    /// Ignored issues whose condition was met: `(issue, outbox job kind, index of the event)`.
    pub unignored: Vec<(i64, JobKind, usize)>,
}

/// Reopens issues of the batch that its events bring back:
///
/// * a resolved issue regresses (`unresolved`/`regressed`, `set_regression`) on an event received
///   after it was resolved whose release its resolution does not cover
///   ([`crate::workflow::resolution_covers`]);
/// * an ignored issue whose ignore condition is met is unresolved (`ongoing`/`set_unresolved` when
///   the ignore had a time limit, else `escalating`/`set_escalating`); ignored forever stays.
///
/// `stored` pairs the index of each stored event with its issue.
pub(super) async fn reopen_resolved(
    tx: &mut Tx,
    events: &[NewEvent],
    stored: &[(usize, i64)],
    release_order: &ReleaseOrders,
    now_ms: i64,
) -> Result<Reopened, StoreError> {
    let mut by_issue: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for &(index, issue) in stored {
        by_issue.entry(issue).or_default().push(index);
    }
    let mut closed = load_closed(tx, by_issue.keys().copied().collect()).await?;
    if closed.is_empty() {
        return Ok(Reopened {
            regressed: Vec::new(),
            unignored: Vec::new(),
        });
    }
    load_windows(tx, &mut closed, now_ms).await?;
    let decided = decide(&closed, &by_issue, events, release_order, now_ms);
    let applied = apply(tx, decided).await?;
    record(tx, &applied, events, now_ms).await?;
    Ok(outcome(&applied))
}

/// A batch's issue that is not unresolved, as loaded.
#[derive(Debug, Clone)]
struct ClosedIssue {
    id: i64,
    state: ClosedState,
}

#[derive(Debug, Clone)]
enum ClosedState {
    Resolved {
        /// When it was resolved, epoch ms.
        resolved_at: Option<i64>,
        /// The release resolution (kind and the release's order), if it is one.
        in_release: Option<(ResolutionKind, ReleaseOrder)>,
    },
    /// Ignored with conditions, and the counts to test them against.
    Snoozed(SnoozeCheck),
    /// Ignored forever (or any other state no event changes).
    Other,
}

/// Why a closed issue reopens, and on which event (an index into the batch).
#[derive(Debug, Clone, Copy)]
struct Reopening {
    issue_id: i64,
    change: Change,
    event: usize,
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Regression,
    Unignore(SnoozeEnd, SnoozeCheck),
}

impl Change {
    /// The status the transition starts from (the guard of the update).
    fn status_before(self) -> &'static str {
        match self {
            Change::Regression => IssueStatus::Resolved.as_str(),
            Change::Unignore(..) => IssueStatus::Ignored.as_str(),
        }
    }

    fn substatus(self) -> &'static str {
        match self {
            Change::Regression => "regressed",
            Change::Unignore(SnoozeEnd::Expired, _) => "ongoing",
            Change::Unignore(SnoozeEnd::Escalated, _) => "escalating",
        }
    }
}

/// The workflow state of an issue that is not unresolved.
#[derive(sqlx::FromRow)]
struct ClosedIssueRow {
    id: i64,
    status: String,
    resolved_at: Option<i64>,
    times_seen: i64,
    user_count: i64,
    resolution_kind: Option<String>,
    resolution_first_seen: Option<i64>,
    resolution_release_id: Option<i64>,
    snooze_issue_id: Option<i64>,
    until_ms: Option<i64>,
    snooze_count: Option<i64>,
    window_minutes: Option<i64>,
    snooze_user_count: Option<i64>,
    user_window_minutes: Option<i64>,
    times_seen_at: Option<i64>,
    user_count_at: Option<i64>,
}

impl From<ClosedIssueRow> for ClosedIssue {
    fn from(row: ClosedIssueRow) -> ClosedIssue {
        let state = if row.status == IssueStatus::Resolved.as_str() {
            let in_release = match (
                row.resolution_kind.as_deref(),
                row.resolution_first_seen,
                row.resolution_release_id,
            ) {
                (Some(kind), Some(first_seen), Some(release_id)) => {
                    let kind = ResolutionKind::parse(kind);
                    Some((kind, (first_seen, release_id)))
                }
                _ => None,
            };
            ClosedState::Resolved {
                resolved_at: row.resolved_at,
                in_release,
            }
        } else if row.status == IssueStatus::Ignored.as_str() && row.snooze_issue_id.is_some() {
            ClosedState::Snoozed(SnoozeCheck {
                until_ms: row.until_ms,
                count: row.snooze_count,
                window_minutes: row.window_minutes,
                user_count: row.snooze_user_count,
                user_window_minutes: row.user_window_minutes,
                times_seen_at: row.times_seen_at.unwrap_or(0),
                user_count_at: row.user_count_at.unwrap_or(0),
                times_seen: row.times_seen,
                users: row.user_count,
                events_in_window: 0,
                users_in_window: 0,
            })
        } else {
            ClosedState::Other
        };
        ClosedIssue { id: row.id, state }
    }
}

/// Step 1: the state of the issues that are not unresolved (one statement per 512 issues).
async fn load_closed(tx: &mut Tx, issues: Vec<i64>) -> Result<Vec<ClosedIssue>, StoreError> {
    let mut closed = Vec::new();
    // A lookup, so the id list can be padded (by repeating its last id) to one of the fixed
    // statement sizes: one statement for up to 512 issues, still a reused prepared statement.
    for chunk in padded(&issues) {
        let mut query = Query::builder();
        query.push(
            "SELECT i.id, i.status, i.resolved_at, i.times_seen, i.user_count, \
             r.kind AS resolution_kind, rr.first_seen AS resolution_first_seen, \
             rr.id AS resolution_release_id, s.issue_id AS snooze_issue_id, s.until_ms, \
             s.count AS snooze_count, s.window_minutes, s.user_count AS snooze_user_count, \
             s.user_window_minutes, s.times_seen_at, s.user_count_at \
             FROM issues i LEFT JOIN issue_resolutions r ON r.issue_id = i.id \
             LEFT JOIN releases rr ON rr.id = r.release_id \
             LEFT JOIN issue_snoozes s ON s.issue_id = i.id \
             WHERE i.status <> 'unresolved' AND i.id IN (",
        );
        query.push_bind_list(chunk.iter().copied()).push(")");
        let rows: Vec<ClosedIssueRow> = query.fetch_all(&mut tx.conn()).await?;
        closed.extend(rows.into_iter().map(ClosedIssue::from));
    }
    Ok(closed)
}

#[derive(sqlx::FromRow)]
struct IssueSum {
    issue_id: i64,
    n: i64,
}

/// Step 1, continued: the counts in the windows of windowed ignore conditions. Events come from
/// the hourly counts, users from the `user` tag values whose latest event lies in the window;
/// one statement each for the whole batch.
async fn load_windows(
    tx: &mut Tx,
    closed: &mut [ClosedIssue],
    now_ms: i64,
) -> Result<(), StoreError> {
    let checks = || {
        closed.iter().filter_map(|issue| match &issue.state {
            ClosedState::Snoozed(check) => Some((issue.id, *check)),
            _ => None,
        })
    };
    let event_windows: Vec<(i64, i64)> = checks()
        .filter_map(|(id, c)| {
            let minutes = c.window_minutes.filter(|_| c.count.is_some())?;
            Some((id, SnoozeCheck::window_start_hour(now_ms, minutes)))
        })
        .collect();
    let user_windows: Vec<(i64, i64)> = checks()
        .filter_map(|(id, c)| {
            let minutes = c.user_window_minutes.filter(|_| c.user_count.is_some())?;
            Some((id, now_ms - minutes * 60_000))
        })
        .collect();
    let mut events_in_window: HashMap<i64, i64> = HashMap::new();
    let mut users_in_window: HashMap<i64, i64> = HashMap::new();
    for (windows, sql, out) in [
        (
            &event_windows,
            ") SELECT c.issue_id, CAST(SUM(c.count) AS BIGINT) AS n FROM issue_hourly_counts c \
             JOIN w ON w.issue_id = c.issue_id WHERE c.hour >= w.since GROUP BY c.issue_id",
            &mut events_in_window,
        ),
        (
            &user_windows,
            ") SELECT t.issue_id, COUNT(*) AS n FROM issue_tag_values t \
             JOIN w ON w.issue_id = t.issue_id WHERE t.key = 'user' AND t.last_seen >= w.since \
             GROUP BY t.issue_id",
            &mut users_in_window,
        ),
    ] {
        for chunk in shaped(windows) {
            let mut query = Query::builder();
            query.push("WITH w (issue_id, since) AS (VALUES ");
            for (i, (issue, since)) in chunk.iter().enumerate() {
                if i > 0 {
                    query.push(", ");
                }
                query
                    .push("(")
                    .push_bind(*issue)
                    .push(", ")
                    .push_bind(*since)
                    .push(")");
            }
            query.push(sql);
            let rows: Vec<IssueSum> = query.fetch_all(&mut tx.conn()).await?;
            out.extend(rows.into_iter().map(|r| (r.issue_id, r.n)));
        }
    }
    for issue in closed.iter_mut() {
        if let ClosedState::Snoozed(check) = &mut issue.state {
            check.events_in_window = events_in_window.get(&issue.id).copied().unwrap_or(0);
            check.users_in_window = users_in_window.get(&issue.id).copied().unwrap_or(0);
        }
    }
    Ok(())
}

/// Step 2: which closed issues the batch's events reopen, and on which event (the newest that
/// qualifies), in issue order.
fn decide(
    closed: &[ClosedIssue],
    by_issue: &BTreeMap<i64, Vec<usize>>,
    events: &[NewEvent],
    release_order: &ReleaseOrders,
    now_ms: i64,
) -> Vec<Reopening> {
    let newest = |indexes: &mut dyn Iterator<Item = usize>| {
        indexes.max_by_key(|&i| (events[i].timestamp_ms, events[i].received_ms))
    };
    let mut decided: Vec<Reopening> = closed
        .iter()
        .filter_map(|issue| {
            let indexes = by_issue.get(&issue.id)?;
            let (change, event) = match &issue.state {
                ClosedState::Resolved {
                    resolved_at,
                    in_release,
                } => {
                    let reopening = newest(&mut indexes.iter().copied().filter(|&i| {
                        let e = &events[i];
                        // Events received before the resolve were in flight: not a regression.
                        let after_resolve = resolved_at.is_none_or(|at| e.received_ms >= at);
                        let covered = in_release.is_some_and(|(kind, order)| {
                            // A release the batch did not see sorts last: never covered.
                            let event_release = e.release.as_ref().map(|r| {
                                release_order
                                    .get(r)
                                    .copied()
                                    .unwrap_or((i64::MAX, i64::MAX))
                            });
                            resolution_covers(kind, order, event_release)
                        });
                        after_resolve && !covered
                    }))?;
                    (Change::Regression, reopening)
                }
                ClosedState::Snoozed(check) => {
                    let end = check.ended(now_ms)?;
                    let event = newest(&mut indexes.iter().copied())?;
                    (Change::Unignore(end, *check), event)
                }
                ClosedState::Other => return None,
            };
            Some(Reopening {
                issue_id: issue.id,
                change,
                event,
            })
        })
        .collect();
    decided.sort_unstable_by_key(|r| r.issue_id);
    decided
}

/// Step 3: one guarded UPDATE for every transition (a concurrent change of the status wins),
/// then the resolutions and snoozes of the issues that moved are removed. Returns the
/// transitions that happened.
async fn apply(tx: &mut Tx, decided: Vec<Reopening>) -> Result<Vec<Reopening>, StoreError> {
    if decided.is_empty() {
        return Ok(decided);
    }
    let mut changed: HashSet<i64> = HashSet::new();
    for chunk in shaped(&decided) {
        let mut query = Query::builder();
        query.push("WITH v (issue_id, from_status, new_substatus) AS (VALUES ");
        for (i, reopening) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            query.push("(").push_bind(reopening.issue_id).push(", ");
            query
                .push_bind(reopening.change.status_before())
                .push(", ")
                .push_bind(reopening.change.substatus())
                .push(")");
        }
        query.push(
            ") UPDATE issues SET status = 'unresolved', substatus = v.new_substatus, \
             resolved_at = NULL FROM v WHERE issues.id = v.issue_id \
             AND issues.status = v.from_status RETURNING id AS value",
        );
        let rows: Vec<crate::query::Int> = query.fetch_all(&mut tx.conn()).await?;
        changed.extend(rows.into_iter().map(|r| r.value));
    }
    let applied: Vec<Reopening> = decided
        .into_iter()
        .filter(|r| changed.contains(&r.issue_id))
        .collect();
    let ids_of = |regression: bool| -> Vec<i64> {
        applied
            .iter()
            .filter(|r| matches!(r.change, Change::Regression) == regression)
            .map(|r| r.issue_id)
            .collect()
    };
    for (table, ids) in [
        ("issue_resolutions", ids_of(true)),
        ("issue_snoozes", ids_of(false)),
    ] {
        for chunk in shaped(&ids) {
            let mut query = Query::builder();
            query
                .push("DELETE FROM ")
                .push(table)
                .push(" WHERE issue_id IN (");
            query.push_bind_list(chunk.iter().copied()).push(")");
            query.execute(&mut tx.conn()).await?;
        }
    }
    Ok(applied)
}

/// Step 4: an activity per transition that happened.
async fn record(
    tx: &mut Tx,
    applied: &[Reopening],
    events: &[NewEvent],
    now_ms: i64,
) -> Result<(), StoreError> {
    let activities: Vec<NewActivity> = applied
        .iter()
        .map(|reopening| {
            let e = &events[reopening.event];
            let (kind, data) = match reopening.change {
                Change::Regression => (
                    ActivityType::SetRegression,
                    serde_json::json!({
                        "version": e.release.clone().unwrap_or_default(),
                        "event_id": e.event_id,
                    }),
                ),
                Change::Unignore(SnoozeEnd::Expired, _) => (
                    ActivityType::SetUnresolved,
                    serde_json::json!({ "event_id": e.event_id }),
                ),
                Change::Unignore(SnoozeEnd::Escalated, check) => (
                    ActivityType::SetEscalating,
                    serde_json::json!({ "event_id": e.event_id, "expired_snooze": check.details() }),
                ),
            };
            NewActivity {
                issue_id: reopening.issue_id,
                kind,
                user_id: None,
                data,
            }
        })
        .collect();
    crate::activity::record_many(&mut tx.conn(), &activities, now_ms).await
}

fn outcome(applied: &[Reopening]) -> Reopened {
    let mut outcome = Reopened {
        regressed: Vec::new(),
        unignored: Vec::new(),
    };
    for reopening in applied {
        match reopening.change {
            Change::Regression => outcome.regressed.push(reopening.issue_id),
            Change::Unignore(end, _) => {
                let kind = match end {
                    SnoozeEnd::Expired => JobKind::IssueUnignored,
                    SnoozeEnd::Escalated => JobKind::IssueEscalating,
                };
                outcome
                    .unignored
                    .push((reopening.issue_id, kind, reopening.event));
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::super::tests::event;
    use super::*;

    const NOW: i64 = 10_000_000;

    fn at(mut e: NewEvent, received_ms: i64, release: Option<&str>) -> NewEvent {
        e.timestamp_ms = received_ms;
        e.received_ms = received_ms;
        e.release = release.map(str::to_owned);
        e
    }

    fn resolved(
        id: i64,
        resolved_at: i64,
        in_release: Option<(ResolutionKind, ReleaseOrder)>,
    ) -> ClosedIssue {
        ClosedIssue {
            id,
            state: ClosedState::Resolved {
                resolved_at: Some(resolved_at),
                in_release,
            },
        }
    }

    fn summary(decided: &[Reopening]) -> Vec<(i64, String, usize)> {
        decided
            .iter()
            .map(|r| (r.issue_id, r.change.substatus().to_owned(), r.event))
            .collect()
    }

    fn all_on(issue: i64, count: usize) -> BTreeMap<i64, Vec<usize>> {
        [(issue, (0..count).collect())].into_iter().collect()
    }

    #[test]
    fn a_resolved_issue_regresses_on_the_newest_event_received_after_the_resolve() {
        let events = vec![
            at(event("1", &["a"]), 500, None),
            at(event("2", &["a"]), 2_000, None),
            at(event("3", &["a"]), 1_500, None),
        ];
        let decided = decide(
            &[resolved(9, 1_000, None)],
            &all_on(9, 3),
            &events,
            &ReleaseOrders::new(),
            NOW,
        );
        assert_eq!(summary(&decided), vec![(9, "regressed".to_owned(), 1)]);
        // Only events that were in flight at the resolve: no regression.
        let decided = decide(
            &[resolved(9, 1_000, None)],
            &all_on(9, 1),
            &events,
            &ReleaseOrders::new(),
            NOW,
        );
        assert!(decided.is_empty());
    }

    #[test]
    fn a_release_resolution_covers_older_releases_only() {
        let orders: ReleaseOrders = [("1.0".to_owned(), (100, 1)), ("2.0".to_owned(), (200, 2))]
            .into_iter()
            .collect();
        let resolution = Some((ResolutionKind::InRelease, (200, 2)));
        let old = vec![at(event("1", &["a"]), 2_000, Some("1.0"))];
        let covered = decide(
            &[resolved(9, 1_000, resolution)],
            &all_on(9, 1),
            &old,
            &orders,
            NOW,
        );
        assert!(covered.is_empty(), "1.0 is older than the fix");
        let fixed = vec![at(event("2", &["a"]), 2_000, Some("2.0"))];
        let regressed = decide(
            &[resolved(9, 1_000, resolution)],
            &all_on(9, 1),
            &fixed,
            &orders,
            NOW,
        );
        assert_eq!(summary(&regressed), vec![(9, "regressed".to_owned(), 0)]);
        // A release the batch did not see sorts last.
        let unknown = vec![at(event("3", &["a"]), 2_000, Some("9.9"))];
        let regressed = decide(
            &[resolved(9, 1_000, resolution)],
            &all_on(9, 1),
            &unknown,
            &orders,
            NOW,
        );
        assert_eq!(regressed.len(), 1);
    }

    #[test]
    fn an_ignore_ends_when_its_condition_is_met_and_forever_stays() {
        let events = vec![
            at(event("1", &["a"]), 2_000, None),
            at(event("2", &["a"]), 3_000, None),
        ];
        let by_issue: BTreeMap<i64, Vec<usize>> = [
            (1, vec![0, 1]),
            (2, vec![0, 1]),
            (3, vec![0, 1]),
            (4, vec![0]),
        ]
        .into_iter()
        .collect();
        let snoozed = |id, check| ClosedIssue {
            id,
            state: ClosedState::Snoozed(check),
        };
        let closed = vec![
            // Time passed: ongoing.
            snoozed(
                1,
                SnoozeCheck {
                    until_ms: Some(NOW - 1),
                    ..SnoozeCheck::default()
                },
            ),
            // 5 more events wanted, 2 arrived: stays ignored.
            snoozed(
                2,
                SnoozeCheck {
                    count: Some(5),
                    times_seen_at: 10,
                    times_seen: 12,
                    ..SnoozeCheck::default()
                },
            ),
            // 2 more events wanted, 2 arrived: escalating.
            snoozed(
                3,
                SnoozeCheck {
                    count: Some(2),
                    times_seen_at: 10,
                    times_seen: 12,
                    ..SnoozeCheck::default()
                },
            ),
            ClosedIssue {
                id: 4,
                state: ClosedState::Other,
            },
        ];
        let decided = decide(&closed, &by_issue, &events, &ReleaseOrders::new(), NOW);
        assert_eq!(
            summary(&decided),
            vec![
                (1, "ongoing".to_owned(), 1),
                (3, "escalating".to_owned(), 1)
            ]
        );
        let kinds: Vec<(i64, JobKind)> = outcome(&decided)
            .unignored
            .into_iter()
            .map(|(id, kind, _)| (id, kind))
            .collect();
        assert_eq!(
            kinds,
            vec![(1, JobKind::IssueUnignored), (3, JobKind::IssueEscalating)]
        );
    }

    #[test]
    fn issues_without_events_in_the_batch_are_left_alone() {
        let events = vec![at(event("1", &["a"]), 2_000, None)];
        let decided = decide(
            &[resolved(9, 1_000, None)],
            &all_on(8, 1),
            &events,
            &ReleaseOrders::new(),
            NOW,
        );
        assert!(decided.is_empty());
    }
}
