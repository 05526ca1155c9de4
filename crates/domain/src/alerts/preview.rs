//! The rule preview: how often a rule would have fired on a project's past events.
//!
//! [`simulate`] replays the events, oldest first, through the same decision the worker makes
//! ([`decide`]) and the same once-per-interval limit: a new issue, a regression or a
//! reappearance always fires; repeats (frequency and every-event conditions) wait the rule's
//! `frequency`, per issue.
//!
//! It is a simulation, not a record, and differs from what the worker would have done where
//! the past is not kept:
//!
//! * every event is decided on, where the worker decides once per ingest batch and issue (so a
//!   burst counted by a frequency condition may cross its threshold one event earlier here);
//! * frequency windows count only the replayed events: a window longer than the replayed range
//!   (a `1w` or `30d` condition on a 7-day preview), or reaching back before its start,
//!   undercounts;
//! * the issue's assignee and the project's latest release are today's, not those of the time
//!   of each event;
//! * fires from before the replay are unknown, so an issue's first repeat in the replay is
//!   never held back by one.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use super::evaluate::{Assignee, Counted, Facts, Trigger, WindowCounts, decide};
use super::event_facts::EventFacts;
use super::rule::{AlertRule, Interval};

/// One past event to replay.
#[derive(Debug, Clone, Copy)]
pub struct PastEvent<'a> {
    /// Its issue.
    pub issue_id: i64,
    /// When it was received (ms since the epoch): the replay's clock.
    pub received_ms: i64,
    /// What the rule's filters read.
    pub facts: &'a EventFacts,
    /// Who it happened to (the `user` tag), counted by unique-user conditions.
    pub user: Option<&'a str>,
}

/// What is known about an issue of the replayed events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueHistory {
    /// When the issue was first seen (ms since the epoch), for age filters.
    pub first_seen_ms: i64,
    /// Its events before the first replayed one. `0` means the issue was first seen inside the
    /// replayed range, so its first replayed event opened it ([`Trigger::Created`]). This is
    /// counted rather than read from `first_seen_ms`, which is the SDK's clock.
    pub times_seen_before: u64,
    /// Who it is assigned to now.
    pub assignee: Option<Assignee>,
    /// When it regressed (ms, the time of the event that reopened it where known).
    pub regressed_at_ms: Vec<i64>,
    /// When it came back from being ignored (ms, as `regressed_at_ms`).
    pub reappeared_at_ms: Vec<i64>,
}

/// How often the rule fired for one issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueFires {
    /// The issue.
    pub issue_id: i64,
    /// How many times it fired.
    pub fires: u64,
    /// The first fire (ms, the received time of the event that fired it).
    pub first_fire_ms: i64,
    /// The last fire (ms).
    pub last_fire_ms: i64,
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Simulation {
    /// Fires over all issues.
    pub fires: u64,
    /// Events replayed.
    pub events: usize,
    /// Every issue it fired for, most fires first (then the earliest first fire).
    pub issues: Vec<IssueFires>,
}

/// A sliding count of one issue in one window.
#[derive(Debug)]
enum Window {
    /// Receive times of the events inside the window.
    Events(VecDeque<i64>),
    /// The users inside the window, in order, and how often each occurs there.
    Users {
        seen: VecDeque<(i64, String)>,
        counts: HashMap<String, u32>,
    },
}

impl Window {
    fn new(counted: Counted) -> Window {
        match counted {
            Counted::Events => Window::Events(VecDeque::new()),
            Counted::Users => Window::Users {
                seen: VecDeque::new(),
                counts: HashMap::new(),
            },
        }
    }

    /// Adds an event at `now_ms`, forgets what fell out of `[now_ms - length, now_ms]`, and
    /// returns the count.
    fn push(&mut self, now_ms: i64, user: Option<&str>, length_ms: i64) -> u64 {
        let since = now_ms.saturating_sub(length_ms);
        match self {
            Window::Events(times) => {
                times.push_back(now_ms);
                while times.front().is_some_and(|&t| t < since) {
                    times.pop_front();
                }
                times.len() as u64
            }
            Window::Users { seen, counts } => {
                if let Some(user) = user {
                    seen.push_back((now_ms, user.to_owned()));
                    *counts.entry(user.to_owned()).or_default() += 1;
                }
                while seen.front().is_some_and(|(t, _)| *t < since) {
                    let Some((_, user)) = seen.pop_front() else {
                        break;
                    };
                    if let Entry::Occupied(mut left) = counts.entry(user) {
                        *left.get_mut() -= 1;
                        if *left.get() == 0 {
                            left.remove();
                        }
                    }
                }
                counts.len() as u64
            }
        }
    }
}

/// The replay's state of one issue.
#[derive(Debug)]
struct IssueState {
    replayed: u64,
    /// Regression and reappearance times not yet matched to an event, ascending.
    regressions: VecDeque<i64>,
    reappearances: VecDeque<i64>,
    windows: Vec<Window>,
    last_fire_ms: Option<i64>,
}

impl IssueState {
    fn new(history: &IssueHistory, windows: &[(Counted, Interval)]) -> IssueState {
        let sorted = |times: &[i64]| {
            let mut times = times.to_vec();
            times.sort_unstable();
            VecDeque::from(times)
        };
        IssueState {
            replayed: 0,
            regressions: sorted(&history.regressed_at_ms),
            reappearances: sorted(&history.reappeared_at_ms),
            windows: windows.iter().map(|&(c, _)| Window::new(c)).collect(),
            last_fire_ms: None,
        }
    }

    /// What the event at `now_ms` did to its issue; consumes the activity it answers.
    fn trigger(&mut self, history: &IssueHistory, now_ms: i64) -> Trigger {
        let created = self.replayed == 0 && history.times_seen_before == 0;
        self.replayed += 1;
        let take = |times: &mut VecDeque<i64>| {
            let mut taken = false;
            while times.front().is_some_and(|&t| t <= now_ms) {
                times.pop_front();
                taken = true;
            }
            taken
        };
        let regressed = take(&mut self.regressions);
        let reappeared = take(&mut self.reappearances);
        if created {
            Trigger::Created
        } else if regressed {
            Trigger::Regressed
        } else if reappeared {
            Trigger::Reappeared
        } else {
            Trigger::Seen
        }
    }
}

/// Replays `events` (oldest first by `received_ms`) against `rule`. `issues` holds the history
/// of each event's issue (an issue missing from it is treated as seen before, unassigned and
/// never reopened); `latest_release` is the project's latest release.
pub fn simulate(
    rule: &AlertRule,
    events: &[PastEvent<'_>],
    issues: &HashMap<i64, IssueHistory>,
    latest_release: Option<&str>,
) -> Simulation {
    let windows = rule.windows();
    let unknown = IssueHistory {
        times_seen_before: 1,
        ..IssueHistory::default()
    };
    let mut states: HashMap<i64, IssueState> = HashMap::new();
    let mut fired: HashMap<i64, IssueFires> = HashMap::new();
    let mut total = 0;
    for event in events {
        let history = issues.get(&event.issue_id).unwrap_or(&unknown);
        let state = states
            .entry(event.issue_id)
            .or_insert_with(|| IssueState::new(history, &windows));
        let now = event.received_ms;
        let trigger = state.trigger(history, now);
        let mut counts = WindowCounts::default();
        for (window, &(counted, interval)) in state.windows.iter_mut().zip(&windows) {
            let n = window.push(now, event.user, interval.millis());
            counts.0.insert((counted, interval), n);
        }
        let facts = Facts {
            trigger,
            level: event.facts.level,
            environment: event.facts.environment.as_deref(),
            release: event.facts.release.as_deref(),
            latest_release,
            tags: &event.facts.tags,
            attributes: &event.facts.attributes,
            issue_first_seen_ms: history.first_seen_ms,
            issue_times_seen: history.times_seen_before + state.replayed,
            assignee: history.assignee,
            now_ms: now,
        };
        if !decide(rule, &facts, &counts) {
            continue;
        }
        // The worker's claim (`store::alerts::rules::claim_fire`): a new episode always fires,
        // a repeat waits the rule's interval since the issue's last fire.
        let interval_ms = match trigger {
            Trigger::Seen => i64::from(rule.frequency_minutes) * 60_000,
            Trigger::Created | Trigger::Regressed | Trigger::Reappeared => 0,
        };
        if state
            .last_fire_ms
            .is_some_and(|last| last > now.saturating_sub(interval_ms))
        {
            continue;
        }
        state.last_fire_ms = Some(now);
        total += 1;
        fired
            .entry(event.issue_id)
            .and_modify(|f| {
                f.fires += 1;
                f.last_fire_ms = now;
            })
            .or_insert(IssueFires {
                issue_id: event.issue_id,
                fires: 1,
                first_fire_ms: now,
                last_fire_ms: now,
            });
    }
    let mut issues: Vec<IssueFires> = fired.into_values().collect();
    issues.sort_by(|a, b| {
        b.fires
            .cmp(&a.fires)
            .then(a.first_fire_ms.cmp(&b.first_fire_ms))
            .then(a.issue_id.cmp(&b.issue_id))
    });
    Simulation {
        fires: total,
        events: events.len(),
        issues,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rule::{
        Action, AssignedTarget, Condition, EmailTarget, Filter, LevelMatch, Match, TagMatch,
    };
    use crate::level::Level;

    const MINUTE: i64 = 60_000;
    const START: i64 = 1_000 * 86_400_000;

    fn rule(conditions: Vec<Condition>) -> AlertRule {
        AlertRule {
            name: "preview".into(),
            action_match: Match::Any,
            filter_match: Match::All,
            frequency_minutes: 30,
            environment: None,
            conditions,
            filters: Vec::new(),
            actions: vec![Action::NotifyEmail(EmailTarget::IssueOwners)],
        }
    }

    fn facts(level: Level, environment: &str) -> EventFacts {
        EventFacts {
            level: Some(level),
            environment: Some(environment.into()),
            release: Some("shop@1.0".into()),
            tags: vec![("url".into(), "https://shop.example/checkout".into())],
            ..EventFacts::default()
        }
    }

    fn new_issue(first_seen_ms: i64) -> IssueHistory {
        IssueHistory {
            first_seen_ms,
            ..IssueHistory::default()
        }
    }

    fn old_issue() -> IssueHistory {
        IssueHistory {
            first_seen_ms: START - 100 * 86_400_000,
            times_seen_before: 40,
            ..IssueHistory::default()
        }
    }

    /// Events of `issue_id` at `START + minute * MINUTE`, all with `facts`.
    fn at<'a>(issue_id: i64, minutes: &[i64], facts: &'a EventFacts) -> Vec<PastEvent<'a>> {
        minutes
            .iter()
            .map(|m| PastEvent {
                issue_id,
                received_ms: START + m * MINUTE,
                facts,
                user: None,
            })
            .collect()
    }

    fn by_time(mut events: Vec<PastEvent<'_>>) -> Vec<PastEvent<'_>> {
        events.sort_by_key(|e| e.received_ms);
        events
    }

    #[test]
    fn a_new_issue_fires_once_and_an_old_one_never_for_first_seen() {
        let error = facts(Level::Error, "production");
        let events = by_time([at(1, &[0, 1, 2, 90], &error), at(2, &[3, 4], &error)].concat());
        let issues = HashMap::from([(1, new_issue(START)), (2, old_issue())]);
        let run = simulate(&rule(vec![Condition::FirstSeen]), &events, &issues, None);
        assert_eq!(run.fires, 1);
        assert_eq!(run.events, 6);
        assert_eq!(
            run.issues,
            vec![IssueFires {
                issue_id: 1,
                fires: 1,
                first_fire_ms: START,
                last_fire_ms: START,
            }]
        );
        // The default rule says the same: no regression happened.
        let default = simulate(&AlertRule::project_default(), &events, &issues, None);
        assert_eq!(default.fires, 1);
    }

    #[test]
    fn a_frequency_condition_fires_above_its_count_inside_its_window() {
        let error = facts(Level::Error, "production");
        let mut frequent = rule(vec![Condition::EventFrequency {
            value: 3,
            interval: Interval::FiveMinutes,
        }]);
        frequent.frequency_minutes = 5;
        // Four events within five minutes: the fourth exceeds 3. Spread out they never do.
        let burst = at(1, &[0, 1, 2, 3], &error);
        let spread = at(2, &[0, 6, 12, 18, 24, 30], &error);
        let events = by_time([burst, spread].concat());
        let issues = HashMap::from([(1, old_issue()), (2, old_issue())]);
        let run = simulate(&frequent, &events, &issues, None);
        assert_eq!(run.fires, 1, "{run:?}");
        assert_eq!(run.issues[0].issue_id, 1);
        assert_eq!(run.issues[0].first_fire_ms, START + 3 * MINUTE);
        // The window's start is inclusive, as the worker counts (`timestamp >= now - window`).
        let edge = at(3, &[0, 1, 2, 5], &error);
        let run = simulate(&frequent, &edge, &HashMap::from([(3, old_issue())]), None);
        assert_eq!(run.fires, 1);
        let past = at(3, &[0, 1, 2, 6], &error);
        let run = simulate(&frequent, &past, &HashMap::from([(3, old_issue())]), None);
        assert_eq!(run.fires, 0);
    }

    #[test]
    fn unique_users_are_counted_once_each_inside_the_window() {
        let error = facts(Level::Error, "production");
        let users = rule(vec![Condition::UniqueUserFrequency {
            value: 2,
            interval: Interval::Hour,
        }]);
        let mut events = at(1, &[0, 1, 2, 3, 4, 70, 71, 72], &error);
        let names = ["ana", "ana", "bo", "bo", "", "ana", "bo", "cy"];
        for (event, name) in events.iter_mut().zip(names) {
            event.user = (!name.is_empty()).then_some(name);
        }
        let issues = HashMap::from([(1, old_issue())]);
        // Minutes 0-4: two users only. Minute 72: ana and bo left the first hour's window at
        // 60-61 and came back, with cy that makes three inside the hour (minutes 12..72).
        let run = simulate(&users, &events, &issues, None);
        assert_eq!(run.fires, 1, "{run:?}");
        assert_eq!(run.issues[0].first_fire_ms, START + 72 * MINUTE);
        // Counting events instead, the same stream exceeds 2 at its third event.
        let counted = rule(vec![Condition::EventFrequency {
            value: 2,
            interval: Interval::Hour,
        }]);
        let run = simulate(&counted, &events, &issues, None);
        assert_eq!(run.issues[0].first_fire_ms, START + 2 * MINUTE);
    }

    #[test]
    fn repeats_wait_the_rule_interval_per_issue() {
        let error = facts(Level::Error, "production");
        let every = rule(vec![Condition::EveryEvent]);
        // Every 10 minutes for two hours, in two issues; the rule's interval is 30 minutes.
        let minutes: Vec<i64> = (0..12).map(|i| i * 10).collect();
        let events = by_time([at(1, &minutes, &error), at(2, &minutes, &error)].concat());
        let issues = HashMap::from([(1, old_issue()), (2, old_issue())]);
        let run = simulate(&every, &events, &issues, None);
        // Fires at 0, 30, 60, 90: a fire exactly one interval after the last is allowed.
        assert_eq!(run.fires, 8, "{run:?}");
        assert_eq!(run.issues.len(), 2);
        for issue in &run.issues {
            assert_eq!(issue.fires, 4);
            assert_eq!(issue.first_fire_ms, START);
            assert_eq!(issue.last_fire_ms, START + 90 * MINUTE);
        }
    }

    #[test]
    fn a_regression_fires_at_once_even_inside_the_interval() {
        let error = facts(Level::Error, "production");
        let mut both = rule(vec![Condition::EveryEvent, Condition::Regression]);
        both.frequency_minutes = 60;
        let events = at(1, &[0, 5, 10, 20, 25], &error);
        let mut history = old_issue();
        // Resolved after minute 10, reopened by the event at minute 20.
        history.regressed_at_ms = vec![START + 20 * MINUTE];
        let issues = HashMap::from([(1, history.clone())]);
        let run = simulate(&both, &events, &issues, None);
        assert_eq!(run.fires, 2, "{run:?}");
        assert_eq!(run.issues[0].last_fire_ms, START + 20 * MINUTE);
        // A regression rule alone fires once, for the reopening event.
        let run = simulate(&rule(vec![Condition::Regression]), &events, &issues, None);
        assert_eq!(run.fires, 1);
        assert_eq!(run.issues[0].first_fire_ms, START + 20 * MINUTE);
        // A time between events goes to the next event; reappearances work alike.
        history.regressed_at_ms = Vec::new();
        history.reappeared_at_ms = vec![START + 7 * MINUTE];
        let issues = HashMap::from([(1, history)]);
        let run = simulate(&rule(vec![Condition::Reappeared]), &events, &issues, None);
        assert_eq!(run.fires, 1);
        assert_eq!(run.issues[0].first_fire_ms, START + 10 * MINUTE);
    }

    #[test]
    fn the_environment_and_the_filters_are_respected() {
        let production = facts(Level::Error, "production");
        let staging = facts(Level::Error, "staging");
        let warning = facts(Level::Warning, "production");
        let events = by_time(
            [
                at(1, &[0], &staging),
                at(2, &[1], &warning),
                at(3, &[2], &production),
            ]
            .concat(),
        );
        let issues: HashMap<i64, IssueHistory> = (1..=3).map(|id| (id, new_issue(START))).collect();
        let mut new = rule(vec![Condition::FirstSeen]);
        assert_eq!(simulate(&new, &events, &issues, None).fires, 3);
        new.environment = Some("production".into());
        assert_eq!(simulate(&new, &events, &issues, None).fires, 2);
        new.filters.push(Filter::Level {
            compare: LevelMatch::AtLeast,
            level: Level::Error,
        });
        let run = simulate(&new, &events, &issues, None);
        assert_eq!(run.fires, 1);
        assert_eq!(run.issues[0].issue_id, 3);
        // Filters that read the issue: its assignee, its occurrences, the latest release.
        new.environment = None;
        new.filters = vec![Filter::AssignedTo(AssignedTarget::Team(7))];
        let mut assigned = issues.clone();
        if let Some(issue) = assigned.get_mut(&2) {
            issue.assignee = Some(Assignee::Team(7));
        }
        let run = simulate(&new, &events, &assigned, None);
        assert_eq!(
            run.issues.iter().map(|i| i.issue_id).collect::<Vec<_>>(),
            [2]
        );
        new.filters = vec![Filter::LatestRelease];
        assert_eq!(simulate(&new, &events, &issues, Some("shop@1.0")).fires, 3);
        assert_eq!(simulate(&new, &events, &issues, Some("shop@2.0")).fires, 0);
        new.filters = vec![Filter::Tagged {
            key: "url".into(),
            compare: TagMatch::Contains,
            value: "/checkout".into(),
        }];
        assert_eq!(simulate(&new, &events, &issues, None).fires, 3);
        // Occurrences count the events before the replay and those replayed so far.
        let mut often = rule(vec![Condition::EveryEvent]);
        often.frequency_minutes = 5;
        often.filters = vec![Filter::IssueOccurrences { value: 43 }];
        let repeats = at(1, &[0, 10, 20, 30], &production);
        let run = simulate(&often, &repeats, &HashMap::from([(1, old_issue())]), None);
        assert_eq!(run.fires, 2, "the 43rd and 44th events");
    }

    #[test]
    fn issues_are_listed_by_fires_and_memory_stays_bounded() {
        let error = facts(Level::Error, "production");
        let every = rule(vec![Condition::EveryEvent]);
        let few = at(1, &[0, 40], &error);
        let many = at(2, &[0, 40, 80, 120], &error);
        let events = by_time([few, many].concat());
        let issues = HashMap::from([(1, old_issue()), (2, old_issue())]);
        let run = simulate(&every, &events, &issues, None);
        let order: Vec<(i64, u64)> = run.issues.iter().map(|i| (i.issue_id, i.fires)).collect();
        assert_eq!(order, [(2, 4), (1, 2)]);

        let mut window = Window::new(Counted::Events);
        for m in 0..1_000 {
            window.push(START + m * MINUTE, None, 5 * MINUTE);
        }
        match window {
            Window::Events(times) => assert_eq!(times.len(), 6),
            Window::Users { .. } => unreachable!("an events window"),
        }
        let mut users = Window::new(Counted::Users);
        for m in 0..1_000 {
            users.push(START + m * MINUTE, Some(&format!("u{m}")), MINUTE);
        }
        match users {
            Window::Users { seen, counts } => assert_eq!((seen.len(), counts.len()), (2, 2)),
            Window::Events(_) => unreachable!("a users window"),
        }
    }
}
