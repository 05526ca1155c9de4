//! Whether a rule fires for one event of an issue, from what the worker knows about the event and
//! the issue. Sentry's order: the rule's environment, then the conditions (`actionMatch`), then the
//! filters (`filterMatch`). The once-per-interval limit is not decided here: the store claims it
//! atomically after [`decide`] says yes, so two workers never both send.

use std::collections::HashMap;

use super::rule::{
    AlertRule, AssignedTarget, Condition, EventAttribute, Filter, Interval, LevelMatch,
};
use crate::jobs::JobKind;
use crate::level::Level;

/// What an event did to its issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Nothing but being counted.
    Seen,
    /// It opened a new issue.
    Created,
    /// It reopened a resolved issue.
    Regressed,
    /// It brought an ignored issue back (the ignore ran out, or its count was met).
    Reappeared,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 4] = [
        Trigger::Seen,
        Trigger::Created,
        Trigger::Regressed,
        Trigger::Reappeared,
    ];

    /// The stored name (a delivery's `reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Seen => "seen",
            Trigger::Created => "created",
            Trigger::Regressed => "regressed",
            Trigger::Reappeared => "reappeared",
        }
    }

    /// The trigger stored as `name`.
    pub fn parse(name: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl From<JobKind> for Trigger {
    fn from(kind: JobKind) -> Trigger {
        match kind {
            JobKind::IssueCreated => Trigger::Created,
            JobKind::IssueRegressed => Trigger::Regressed,
            JobKind::IssueUnignored | JobKind::IssueEscalating => Trigger::Reappeared,
            JobKind::IssueSeen => Trigger::Seen,
        }
    }
}

/// What a frequency condition counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counted {
    /// Events of the issue.
    Events,
    /// Distinct users of the issue's events.
    Users,
}

/// The issue's counts in the windows a rule needs ([`AlertRule::windows`]), including the event
/// being decided on.
#[derive(Debug, Clone, Default)]
pub struct WindowCounts(pub HashMap<(Counted, Interval), u64>);

/// The assignee of an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    /// A team.
    Team(i64),
    /// A user.
    User(i64),
}

/// What the worker knows about one event and its issue.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// What the event did to the issue.
    pub trigger: Trigger,
    /// The event's level.
    pub level: Option<Level>,
    /// The event's environment.
    pub environment: Option<&'a str>,
    /// The event's release.
    pub release: Option<&'a str>,
    /// The project's latest release.
    pub latest_release: Option<&'a str>,
    /// The event's tags.
    pub tags: &'a [(String, String)],
    /// Other attributes of the event ([`EventAttribute`]), each value once per occurrence.
    pub attributes: &'a [(EventAttribute, String)],
    /// When the issue was first seen (ms since the epoch).
    pub issue_first_seen_ms: i64,
    /// How many events the issue has, this one included.
    pub issue_times_seen: u64,
    /// Who the issue is assigned to.
    pub assignee: Option<Assignee>,
    /// Now (ms since the epoch).
    pub now_ms: i64,
}

impl Facts<'_> {
    fn attribute(&self, attribute: EventAttribute) -> Vec<&str> {
        match attribute {
            EventAttribute::Environment => self.environment.into_iter().collect(),
            EventAttribute::Release => self.release.into_iter().collect(),
            other => self
                .attributes
                .iter()
                .filter(|(a, _)| *a == other)
                .map(|(_, v)| v.as_str())
                .collect(),
        }
    }
}

fn condition_holds(condition: &Condition, facts: &Facts<'_>, counts: &WindowCounts) -> bool {
    let exceeds = |counted: Counted, interval: &Interval, value: &u64| {
        counts
            .0
            .get(&(counted, *interval))
            .is_some_and(|n| n > value)
    };
    match condition {
        Condition::FirstSeen => facts.trigger == Trigger::Created,
        Condition::Regression => facts.trigger == Trigger::Regressed,
        Condition::Reappeared => facts.trigger == Trigger::Reappeared,
        Condition::EveryEvent => true,
        Condition::EventFrequency { value, interval } => exceeds(Counted::Events, interval, value),
        Condition::UniqueUserFrequency { value, interval } => {
            exceeds(Counted::Users, interval, value)
        }
    }
}

fn filter_holds(filter: &Filter, facts: &Facts<'_>) -> bool {
    match filter {
        Filter::Level { compare, level } => facts.level.is_some_and(|seen| match compare {
            LevelMatch::Equal => seen == *level,
            LevelMatch::AtLeast => seen >= *level,
            LevelMatch::AtMost => seen <= *level,
        }),
        Filter::Tagged {
            key,
            compare,
            value,
        } => compare.matches(
            facts
                .tags
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str()),
            value,
        ),
        Filter::Attribute {
            attribute,
            compare,
            value,
        } => compare.matches(facts.attribute(*attribute).into_iter(), value),
        Filter::LatestRelease => match (facts.release, facts.latest_release) {
            (Some(release), Some(latest)) => release == latest,
            _ => false,
        },
        Filter::Age { older, millis, .. } => {
            let age = facts.now_ms.saturating_sub(facts.issue_first_seen_ms);
            if *older { age > *millis } else { age < *millis }
        }
        Filter::AssignedTo(target) => match (target, facts.assignee) {
            (AssignedTarget::Unassigned, None) => true,
            (AssignedTarget::Team(want), Some(Assignee::Team(have))) => *want == have,
            (AssignedTarget::Member(want), Some(Assignee::User(have))) => *want == have,
            _ => false,
        },
        Filter::IssueOccurrences { value } => facts.issue_times_seen >= *value,
    }
}

/// Whether `rule` fires for the event `facts` describe (before the once-per-interval claim).
pub fn decide(rule: &AlertRule, facts: &Facts<'_>, counts: &WindowCounts) -> bool {
    if let Some(environment) = &rule.environment
        && facts.environment != Some(environment.as_str())
    {
        return false;
    }
    rule.action_match.combine(
        rule.conditions
            .iter()
            .map(|c| condition_holds(c, facts, counts)),
    ) && rule
        .filter_match
        .combine(rule.filters.iter().map(|f| filter_holds(f, facts)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rule::{Action, EmailTarget, Match, TagMatch};

    const DAY: i64 = 86_400_000;

    fn facts(trigger: Trigger) -> Facts<'static> {
        static TAGS: std::sync::LazyLock<Vec<(String, String)>> = std::sync::LazyLock::new(|| {
            vec![
                ("browser".into(), "Chrome 120".into()),
                ("url".into(), "https://shop.example/checkout".into()),
            ]
        });
        static ATTRIBUTES: std::sync::LazyLock<Vec<(EventAttribute, String)>> =
            std::sync::LazyLock::new(|| vec![(EventAttribute::ExceptionType, "ValueError".into())]);
        Facts {
            trigger,
            level: Some(Level::Error),
            environment: Some("production"),
            release: Some("shop@2.0"),
            latest_release: Some("shop@2.0"),
            tags: &TAGS,
            attributes: &ATTRIBUTES,
            issue_first_seen_ms: 10 * DAY,
            issue_times_seen: 12,
            assignee: Some(Assignee::Team(4)),
            now_ms: 11 * DAY,
        }
    }

    fn rule(conditions: Vec<Condition>, filters: Vec<Filter>) -> AlertRule {
        AlertRule {
            name: "test".into(),
            action_match: Match::Any,
            filter_match: Match::All,
            frequency_minutes: 30,
            environment: None,
            conditions,
            filters,
            actions: vec![Action::NotifyEmail(EmailTarget::IssueOwners)],
        }
    }

    #[test]
    fn the_default_rule_fires_on_new_issues_and_regressions_only() {
        let default = AlertRule::project_default();
        let none = WindowCounts::default();
        assert!(decide(&default, &facts(Trigger::Created), &none));
        assert!(decide(&default, &facts(Trigger::Regressed), &none));
        assert!(!decide(&default, &facts(Trigger::Seen), &none));
        assert!(!decide(&default, &facts(Trigger::Reappeared), &none));
    }

    #[test]
    fn frequency_conditions_fire_above_their_count_in_their_window() {
        let rule = rule(
            vec![Condition::EventFrequency {
                value: 100,
                interval: Interval::Hour,
            }],
            vec![],
        );
        let counted = |n| WindowCounts(HashMap::from([((Counted::Events, Interval::Hour), n)]));
        assert!(!decide(&rule, &facts(Trigger::Seen), &counted(100)));
        assert!(decide(&rule, &facts(Trigger::Seen), &counted(101)));
        // A count the caller did not provide never fires.
        assert!(!decide(
            &rule,
            &facts(Trigger::Seen),
            &WindowCounts::default()
        ));
    }

    #[test]
    fn environment_conditions_and_filters_combine_as_sentry_says() {
        let mut both = rule(
            vec![Condition::FirstSeen, Condition::Regression],
            vec![
                Filter::Level {
                    compare: LevelMatch::AtLeast,
                    level: Level::Error,
                },
                Filter::Tagged {
                    key: "URL".into(),
                    compare: TagMatch::Contains,
                    value: "/checkout".into(),
                },
            ],
        );
        let none = WindowCounts::default();
        assert!(decide(&both, &facts(Trigger::Created), &none));
        both.action_match = Match::All;
        assert!(!decide(&both, &facts(Trigger::Created), &none), "not both");
        both.action_match = Match::None;
        assert!(decide(&both, &facts(Trigger::Seen), &none));
        both.action_match = Match::Any;
        both.environment = Some("staging".into());
        assert!(!decide(&both, &facts(Trigger::Created), &none));
        both.environment = None;
        both.filters.push(Filter::Level {
            compare: LevelMatch::Equal,
            level: Level::Fatal,
        });
        assert!(!decide(&both, &facts(Trigger::Created), &none));
        both.filter_match = Match::Any;
        assert!(decide(&both, &facts(Trigger::Created), &none));
    }

    #[test]
    fn every_filter_reads_its_fact() {
        let holds = |filter: Filter| filter_holds(&filter, &facts(Trigger::Seen));
        assert!(holds(Filter::LatestRelease));
        assert!(holds(Filter::Age {
            older: true,
            millis: DAY / 2,
            written: (12, crate::alerts::rule::AgeUnit::Hour),
        }));
        assert!(!holds(Filter::Age {
            older: false,
            millis: DAY / 2,
            written: (12, crate::alerts::rule::AgeUnit::Hour),
        }));
        assert!(holds(Filter::AssignedTo(AssignedTarget::Team(4))));
        assert!(!holds(Filter::AssignedTo(AssignedTarget::Member(4))));
        assert!(!holds(Filter::AssignedTo(AssignedTarget::Unassigned)));
        assert!(holds(Filter::IssueOccurrences { value: 12 }));
        assert!(!holds(Filter::IssueOccurrences { value: 13 }));
        assert!(holds(Filter::Attribute {
            attribute: EventAttribute::ExceptionType,
            compare: TagMatch::Equals,
            value: "valueerror".into(),
        }));
        assert!(holds(Filter::Attribute {
            attribute: EventAttribute::Release,
            compare: TagMatch::StartsWith,
            value: "shop@".into(),
        }));
        assert!(!holds(Filter::Attribute {
            attribute: EventAttribute::UserEmail,
            compare: TagMatch::IsSet,
            value: String::new(),
        }));
    }

    #[test]
    fn outbox_kinds_are_triggers() {
        assert_eq!(Trigger::from(JobKind::IssueCreated), Trigger::Created);
        assert_eq!(Trigger::from(JobKind::IssueEscalating), Trigger::Reappeared);
    }
}
