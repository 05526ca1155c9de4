//! The typed alert rule and its JSON in Sentry's rule API (`/api/0/projects/{org}/{project}/rules/`):
//! `name`, `actionMatch`, `filterMatch`, `frequency` (minutes), `environment`, and `conditions`,
//! `filters` and `actions` as objects with Sentry's `id` (`sentry.rules.conditions.*`,
//! `sentry.rules.filters.*`, `sentry.rules.actions.*`, `sentry.mail.actions.*`) and their fields.
//! Sentry sends numbers as strings in places (`"value": "100"`); both are accepted.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value, json};

use crate::level::Level;

/// How a rule's conditions (`actionMatch`) or filters (`filterMatch`) combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Every one holds.
    All,
    /// At least one holds.
    Any,
    /// None holds.
    None,
}

impl Match {
    fn parse(text: &str) -> Option<Match> {
        match text {
            "all" => Some(Match::All),
            "any" => Some(Match::Any),
            "none" => Some(Match::None),
            _ => None,
        }
    }

    /// Sentry's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Match::All => "all",
            Match::Any => "any",
            Match::None => "none",
        }
    }

    /// Combines the outcomes of the parts; an empty list of filters passes.
    pub fn combine(self, mut outcomes: impl Iterator<Item = bool>) -> bool {
        match self {
            Match::All => outcomes.all(|held| held),
            Match::Any => outcomes.any(|held| held),
            Match::None => !outcomes.any(|held| held),
        }
    }
}

/// The window of a frequency condition (Sentry's choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Interval {
    /// One minute.
    Minute,
    /// Five minutes.
    FiveMinutes,
    /// Fifteen minutes.
    FifteenMinutes,
    /// One hour.
    Hour,
    /// One day.
    Day,
    /// One week.
    Week,
    /// Thirty days.
    ThirtyDays,
}

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: [Interval; 7] = [
        Interval::Minute,
        Interval::FiveMinutes,
        Interval::FifteenMinutes,
        Interval::Hour,
        Interval::Day,
        Interval::Week,
        Interval::ThirtyDays,
    ];

    /// Sentry's name (`1m`, `5m`, `15m`, `1h`, `1d`, `1w`, `30d`).
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Minute => "1m",
            Interval::FiveMinutes => "5m",
            Interval::FifteenMinutes => "15m",
            Interval::Hour => "1h",
            Interval::Day => "1d",
            Interval::Week => "1w",
            Interval::ThirtyDays => "30d",
        }
    }

    fn parse(text: &str) -> Option<Interval> {
        Interval::ALL.into_iter().find(|i| i.as_str() == text)
    }

    /// The window's length in milliseconds.
    pub fn millis(self) -> i64 {
        const MINUTE: i64 = 60_000;
        MINUTE
            * match self {
                Interval::Minute => 1,
                Interval::FiveMinutes => 5,
                Interval::FifteenMinutes => 15,
                Interval::Hour => 60,
                Interval::Day => 24 * 60,
                Interval::Week => 7 * 24 * 60,
                Interval::ThirtyDays => 30 * 24 * 60,
            }
    }
}

/// **When**: what happened to the issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A new issue is created.
    FirstSeen,
    /// A resolved issue is seen again.
    Regression,
    /// An ignored issue comes back (its ignore ran out, or it escalated).
    Reappeared,
    /// Any event of the issue.
    EveryEvent,
    /// The issue is seen more than `value` times in `interval`.
    EventFrequency {
        /// The count to exceed.
        value: u64,
        /// The window.
        interval: Interval,
    },
    /// The issue is seen by more than `value` users in `interval`.
    UniqueUserFrequency {
        /// The count to exceed.
        value: u64,
        /// The window.
        interval: Interval,
    },
}

/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const REGRESSION: &str = "sentry.rules.conditions.regression_event.RegressionEventCondition";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const REAPPEARED: &str = "sentry.rules.conditions.reappeared_event.ReappearedEventCondition";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const EVERY_EVENT: &str = "sentry.rules.conditions.every_event.EveryEventCondition";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const EVENT_FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const UNIQUE_USERS: &str =
    "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition";

/// How an event's level compares with a [`Filter::Level`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelMatch {
    /// The same level.
    Equal,
    /// At least as severe.
    AtLeast,
    /// At most as severe.
    AtMost,
}

/// How a tag or attribute value compares with a filter's (Sentry's `MatchType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMatch {
    /// `eq`
    Equals,
    /// `ne`
    NotEquals,
    /// `sw`
    StartsWith,
    /// `ew`
    EndsWith,
    /// `co`
    Contains,
    /// `nc`
    NotContains,
    /// `is`: the key is present.
    IsSet,
    /// `ns`: the key is absent.
    NotSet,
}

impl TagMatch {
    const NAMES: [(&'static str, TagMatch); 8] = [
        ("eq", TagMatch::Equals),
        ("ne", TagMatch::NotEquals),
        ("sw", TagMatch::StartsWith),
        ("ew", TagMatch::EndsWith),
        ("co", TagMatch::Contains),
        ("nc", TagMatch::NotContains),
        ("is", TagMatch::IsSet),
        ("ns", TagMatch::NotSet),
    ];

    fn parse(text: &str) -> Option<TagMatch> {
        TagMatch::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, m)| *m)
    }

    /// Sentry's name.
    pub fn as_str(self) -> &'static str {
        TagMatch::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("eq", |(name, _)| name)
    }

    /// Whether the values found under the key (none when it is absent) match `wanted`. Values
    /// compare case-insensitively, as Sentry's do.
    pub fn matches<'a>(self, mut found: impl Iterator<Item = &'a str>, wanted: &str) -> bool {
        let wanted = wanted.to_lowercase();
        let mut test = |f: fn(&str, &str) -> bool| found.any(|v| f(&v.to_lowercase(), &wanted));
        match self {
            TagMatch::Equals => test(|v, w| v == w),
            TagMatch::NotEquals => !test(|v, w| v == w),
            TagMatch::StartsWith => test(|v, w| v.starts_with(w)),
            TagMatch::EndsWith => test(|v, w| v.ends_with(w)),
            TagMatch::Contains => test(|v, w| v.contains(w)),
            TagMatch::NotContains => !test(|v, w| v.contains(w)),
            TagMatch::IsSet => test(|_, _| true),
            TagMatch::NotSet => !test(|_, _| true),
        }
    }
}

/// An event attribute a [`Filter::Attribute`] reads (Sentry's `EventAttributeFilter` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventAttribute {
    /// `message`: the event's message or title.
    Message,
    /// `platform`
    Platform,
    /// `environment`
    Environment,
    /// `release`
    Release,
    /// `exception.type`
    ExceptionType,
    /// `exception.value`
    ExceptionValue,
    /// `user.id`
    UserId,
    /// `user.email`
    UserEmail,
    /// `sdk.name`
    SdkName,
    /// `http.method`
    HttpMethod,
    /// `http.url`
    HttpUrl,
}

impl EventAttribute {
    const NAMES: [(&'static str, EventAttribute); 11] = [
        ("message", EventAttribute::Message),
        ("platform", EventAttribute::Platform),
        ("environment", EventAttribute::Environment),
        ("release", EventAttribute::Release),
        ("exception.type", EventAttribute::ExceptionType),
        ("exception.value", EventAttribute::ExceptionValue),
        ("user.id", EventAttribute::UserId),
        ("user.email", EventAttribute::UserEmail),
        ("sdk.name", EventAttribute::SdkName),
        ("http.method", EventAttribute::HttpMethod),
        ("http.url", EventAttribute::HttpUrl),
    ];

    fn parse(text: &str) -> Option<EventAttribute> {
        EventAttribute::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, a)| *a)
    }

    /// Every attribute, in Sentry's order.
    pub fn all() -> impl Iterator<Item = EventAttribute> {
        EventAttribute::NAMES.iter().map(|(_, a)| *a)
    }

    /// Sentry's name.
    pub fn as_str(self) -> &'static str {
        EventAttribute::NAMES
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("message", |(name, _)| name)
    }
}

/// Who an issue is assigned to, for [`Filter::AssignedTo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignedTarget {
    /// Nobody.
    Unassigned,
    /// The team with this id.
    Team(i64),
    /// The user with this id.
    Member(i64),
}

/// **If**: what the event or the issue must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The event's level compared with `level`.
    Level {
        /// How it compares.
        compare: LevelMatch,
        /// The level compared with.
        level: Level,
    },
    /// A tag of the event.
    Tagged {
        /// The tag key.
        key: String,
        /// How its value compares.
        compare: TagMatch,
        /// The value compared with.
        value: String,
    },
    /// An attribute of the event.
    Attribute {
        /// Which attribute.
        attribute: EventAttribute,
        /// How its value compares.
        compare: TagMatch,
        /// The value compared with.
        value: String,
    },
    /// The event is from the project's latest release.
    LatestRelease,
    /// The issue was first seen more (`older`) or less (`newer`) than this long ago.
    Age {
        /// `true`: older than; `false`: newer than.
        older: bool,
        /// The age in milliseconds.
        millis: i64,
        /// The age as Sentry wrote it (`value`, `time`), kept to write it back.
        written: (u64, AgeUnit),
    },
    /// The issue's assignee.
    AssignedTo(AssignedTarget),
    /// The issue has been seen at least `value` times.
    IssueOccurrences {
        /// The count to reach.
        value: u64,
    },
}

/// The unit of an [`Filter::Age`] (Sentry's `time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeUnit {
    /// `minute`
    Minute,
    /// `hour`
    Hour,
    /// `day`
    Day,
    /// `week`
    Week,
}

impl AgeUnit {
    const NAMES: [(&'static str, AgeUnit, i64); 4] = [
        ("minute", AgeUnit::Minute, 60_000),
        ("hour", AgeUnit::Hour, 3_600_000),
        ("day", AgeUnit::Day, 86_400_000),
        ("week", AgeUnit::Week, 604_800_000),
    ];

    fn parse(text: &str) -> Option<AgeUnit> {
        AgeUnit::NAMES
            .iter()
            .find(|(name, ..)| *name == text)
            .map(|(_, unit, _)| *unit)
    }

    /// Sentry's name (`minute`, `hour`, `day`, `week`).
    pub fn as_str(self) -> &'static str {
        self.entry().0
    }

    fn entry(self) -> (&'static str, i64) {
        AgeUnit::NAMES
            .iter()
            .find(|(_, unit, _)| *unit == self)
            .map_or(("minute", 60_000), |(name, _, ms)| (*name, *ms))
    }
}

/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const LEVEL_FILTER: &str = "sentry.rules.filters.level.LevelFilter";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const TAGGED_FILTER: &str = "sentry.rules.filters.tagged_event.TaggedEventFilter";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const ATTRIBUTE_FILTER: &str = "sentry.rules.filters.event_attribute.EventAttributeFilter";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const LATEST_RELEASE_FILTER: &str = "sentry.rules.filters.latest_release.LatestReleaseFilter";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const AGE_FILTER: &str = "sentry.rules.filters.age_comparison.AgeComparisonFilter";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const ASSIGNED_FILTER: &str = "sentry.rules.filters.assigned_to.AssignedToFilter";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const OCCURRENCES_FILTER: &str =
    "sentry.rules.filters.issue_occurrences.IssueOccurrencesFilter";

/// Whom a [`Action::NotifyEmail`] mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTarget {
    /// The issue's owners. Errhound has no ownership rules yet, so this is the project's
    /// members (Sentry's fallthrough to all members when no rule matches).
    IssueOwners,
    /// The members of the team with this id.
    Team(i64),
    /// The user with this id.
    Member(i64),
}

/// **Then**: what a firing rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Notify through one plugin (`service` is the plugin id, e.g. `webhooks`).
    NotifyService {
        /// The plugin id.
        service: String,
    },
    /// Notify through every notification plugin enabled on the project.
    NotifyAllPlugins,
    /// Mail the target.
    NotifyEmail(EmailTarget),
}

/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const NOTIFY_SERVICE: &str =
    "sentry.rules.actions.notify_event_service.NotifyEventServiceAction";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const NOTIFY_ALL: &str = "sentry.rules.actions.notify_event.NotifyEventAction";
/// Sentry's id of a rule part (the `id` of a condition, filter or action).
pub const NOTIFY_EMAIL: &str = "sentry.mail.actions.NotifyEmailAction";

/// The shortest and longest `frequency` (minutes) a rule may have, as Sentry allows.
pub const FREQUENCY_RANGE: std::ops::RangeInclusive<u32> = 5..=43_200;
/// The `frequency` of a rule that names none (Sentry's default).
pub const DEFAULT_FREQUENCY: u32 = 30;
/// Sentry's message for a rule without actions.
const NO_ACTION: &str = "You must add an action for this alert to fire.";
/// Most conditions, filters or actions one rule may hold.
pub const MAX_PARTS: usize = 50;
/// Longest rule name, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// An issue alert rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    /// Shown in lists and notifications.
    pub name: String,
    /// How the conditions combine.
    pub action_match: Match,
    /// How the filters combine.
    pub filter_match: Match,
    /// The rule fires at most once per issue in this many minutes.
    pub frequency_minutes: u32,
    /// Only events of this environment (`None`: every environment).
    pub environment: Option<String>,
    /// When.
    pub conditions: Vec<Condition>,
    /// If.
    pub filters: Vec<Filter>,
    /// Then.
    pub actions: Vec<Action>,
}

/// Invalid fields of a rule body, in Sentry's shape (`{"field": ["message", ...]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleErrors(pub BTreeMap<String, Vec<String>>);

impl RuleErrors {
    /// Adds a problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// The errors as Sentry's JSON body.
    pub fn to_json(&self) -> Value {
        json!(self.0)
    }
}

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, messages) in &self.0 {
            for message in messages {
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                write!(f, "{field}: {message}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for RuleErrors {}

/// A count in a rule body: a non-negative integer or a string holding one.
fn count(object: &Map<String, Value>, key: &str) -> Result<u64, String> {
    match object.get(key) {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("{key} must be a whole number ≥ 0")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("{key} must be a whole number ≥ 0")),
        _ => Err(format!("{key} is required")),
    }
}

/// An id in a rule body: an integer or a string holding one.
fn id(object: &Map<String, Value>, key: &str) -> Result<i64, String> {
    match object.get(key) {
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| format!("{key} must be an id")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{key} must be an id")),
        _ => Err(format!("{key} is required")),
    }
}

fn text<'a>(object: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match object.get(key) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(format!("{key} is required")),
    }
}

fn interval(object: &Map<String, Value>) -> Result<Interval, String> {
    let name = text(object, "interval")?;
    Interval::parse(name).ok_or_else(|| {
        let choices: Vec<&str> = Interval::ALL.iter().map(|i| i.as_str()).collect();
        format!("interval {name:?} is not one of {}", choices.join(", "))
    })
}

impl Condition {
    fn parse(object: &Map<String, Value>) -> Result<Condition, String> {
        Ok(match text(object, "id")? {
            FIRST_SEEN => Condition::FirstSeen,
            REGRESSION => Condition::Regression,
            REAPPEARED => Condition::Reappeared,
            EVERY_EVENT => Condition::EveryEvent,
            EVENT_FREQUENCY => {
                // Sentry also has percent comparisons against an earlier window; only counts
                // are supported.
                if let Some(kind) = object.get("comparisonType").and_then(Value::as_str)
                    && kind != "count"
                {
                    return Err(format!(
                        "comparisonType {kind:?} is not supported, only \"count\""
                    ));
                }
                Condition::EventFrequency {
                    value: count(object, "value")?,
                    interval: interval(object)?,
                }
            }
            UNIQUE_USERS => Condition::UniqueUserFrequency {
                value: count(object, "value")?,
                interval: interval(object)?,
            },
            other => return Err(format!("unknown condition {other:?}")),
        })
    }

    fn to_json(&self) -> Value {
        match self {
            Condition::FirstSeen => json!({"id": FIRST_SEEN, "name": "A new issue is created"}),
            Condition::Regression => json!({
                "id": REGRESSION,
                "name": "The issue changes state from resolved to unresolved",
            }),
            Condition::Reappeared => json!({
                "id": REAPPEARED,
                "name": "The issue changes state from ignored to unresolved",
            }),
            Condition::EveryEvent => json!({"id": EVERY_EVENT, "name": "An event is seen"}),
            Condition::EventFrequency { value, interval } => json!({
                "id": EVENT_FREQUENCY,
                "name": format!("The issue is seen more than {value} times in {}", interval.as_str()),
                "value": value,
                "interval": interval.as_str(),
                "comparisonType": "count",
            }),
            Condition::UniqueUserFrequency { value, interval } => json!({
                "id": UNIQUE_USERS,
                "name": format!(
                    "The issue is seen by more than {value} users in {}",
                    interval.as_str()
                ),
                "value": value,
                "interval": interval.as_str(),
            }),
        }
    }
}

impl Filter {
    fn parse(object: &Map<String, Value>) -> Result<Filter, String> {
        let compare = |object: &Map<String, Value>| {
            let name = text(object, "match")?;
            TagMatch::parse(name).ok_or_else(|| format!("match {name:?} is not a match type"))
        };
        Ok(match text(object, "id")? {
            LEVEL_FILTER => {
                let compare = match text(object, "match")? {
                    "eq" => LevelMatch::Equal,
                    "gte" => LevelMatch::AtLeast,
                    "lte" => LevelMatch::AtMost,
                    other => return Err(format!("match {other:?} is not eq, gte or lte")),
                };
                let level = object
                    .get("level")
                    .and_then(|v| match v {
                        // Sentry stores the level number as a string ("40").
                        Value::String(s) => s
                            .parse::<i64>()
                            .ok()
                            .and_then(|n| Level::parse(&json!(n)))
                            .or_else(|| Level::from_name(s)),
                        other => Level::parse(other),
                    })
                    .ok_or("level is not a level")?;
                Filter::Level { compare, level }
            }
            TAGGED_FILTER => {
                let compare = compare(object)?;
                Filter::Tagged {
                    key: text(object, "key")?.to_owned(),
                    value: value_for(object, compare)?,
                    compare,
                }
            }
            ATTRIBUTE_FILTER => {
                let name = text(object, "attribute")?;
                let attribute = EventAttribute::parse(name)
                    .ok_or_else(|| format!("attribute {name:?} is not supported"))?;
                let compare = compare(object)?;
                Filter::Attribute {
                    attribute,
                    value: value_for(object, compare)?,
                    compare,
                }
            }
            LATEST_RELEASE_FILTER => Filter::LatestRelease,
            AGE_FILTER => {
                let older = match text(object, "comparison_type")? {
                    "older" => true,
                    "newer" => false,
                    other => {
                        return Err(format!("comparison_type {other:?} is not older or newer"));
                    }
                };
                let value = count(object, "value")?;
                let unit_name = text(object, "time")?;
                let unit = AgeUnit::parse(unit_name).ok_or_else(|| {
                    format!("time {unit_name:?} is not minute, hour, day or week")
                })?;
                let millis = i64::try_from(value)
                    .ok()
                    .and_then(|v| v.checked_mul(unit.entry().1))
                    .ok_or("value is too large")?;
                Filter::Age {
                    older,
                    millis,
                    written: (value, unit),
                }
            }
            ASSIGNED_FILTER => Filter::AssignedTo(match text(object, "targetType")? {
                "Unassigned" => AssignedTarget::Unassigned,
                "Team" => AssignedTarget::Team(id(object, "targetIdentifier")?),
                "Member" => AssignedTarget::Member(id(object, "targetIdentifier")?),
                other => {
                    return Err(format!(
                        "targetType {other:?} is not Unassigned, Team or Member"
                    ));
                }
            }),
            OCCURRENCES_FILTER => Filter::IssueOccurrences {
                value: count(object, "value")?,
            },
            other => return Err(format!("unknown filter {other:?}")),
        })
    }

    fn to_json(&self) -> Value {
        match self {
            Filter::Level { compare, level } => {
                let (name, word) = match compare {
                    LevelMatch::Equal => ("eq", "equal to"),
                    LevelMatch::AtLeast => ("gte", "greater than or equal to"),
                    LevelMatch::AtMost => ("lte", "less than or equal to"),
                };
                json!({
                    "id": LEVEL_FILTER,
                    "name": format!("The event's level is {word} {level}"),
                    "match": name,
                    "level": level_number(*level).to_string(),
                })
            }
            Filter::Tagged {
                key,
                compare,
                value,
            } => json!({
                "id": TAGGED_FILTER,
                "name": format!("The event's tags match {key} {} {value}", compare.as_str()),
                "key": key,
                "match": compare.as_str(),
                "value": value,
            }),
            Filter::Attribute {
                attribute,
                compare,
                value,
            } => json!({
                "id": ATTRIBUTE_FILTER,
                "name": format!(
                    "The event's {} value {} {value}",
                    attribute.as_str(),
                    compare.as_str()
                ),
                "attribute": attribute.as_str(),
                "match": compare.as_str(),
                "value": value,
            }),
            Filter::LatestRelease => json!({
                "id": LATEST_RELEASE_FILTER,
                "name": "The event is from the latest release",
            }),
            Filter::Age {
                older,
                written: (value, unit),
                ..
            } => {
                let comparison = if *older { "older" } else { "newer" };
                let unit = unit.entry().0;
                json!({
                    "id": AGE_FILTER,
                    "name": format!("The issue is {comparison} than {value} {unit}"),
                    "comparison_type": comparison,
                    "value": value,
                    "time": unit,
                })
            }
            Filter::AssignedTo(target) => {
                let (kind, identifier) = match target {
                    AssignedTarget::Unassigned => ("Unassigned", Value::String(String::new())),
                    AssignedTarget::Team(id) => ("Team", json!(id)),
                    AssignedTarget::Member(id) => ("Member", json!(id)),
                };
                json!({
                    "id": ASSIGNED_FILTER,
                    "name": format!("The issue is assigned to {kind}"),
                    "targetType": kind,
                    "targetIdentifier": identifier,
                })
            }
            Filter::IssueOccurrences { value } => json!({
                "id": OCCURRENCES_FILTER,
                "name": format!("The issue has happened at least {value} times"),
                "value": value,
            }),
        }
    }
}

/// The `value` a tag or attribute filter compares with (unused, and so optional, for `is`/`ns`).
fn value_for(object: &Map<String, Value>, compare: TagMatch) -> Result<String, String> {
    match (object.get("value"), compare) {
        (Some(Value::String(s)), _) => Ok(s.clone()),
        (Some(Value::Number(n)), _) => Ok(n.to_string()),
        (None | Some(Value::Null), TagMatch::IsSet | TagMatch::NotSet) => Ok(String::new()),
        _ => Err("value is required".into()),
    }
}

/// Sentry's number of a level (`logging` levels: debug 10 ... fatal 50).
pub fn level_number(level: Level) -> u8 {
    match level {
        Level::Debug => 10,
        Level::Info => 20,
        Level::Warning => 30,
        Level::Error => 40,
        Level::Fatal => 50,
    }
}

impl Action {
    /// Reads one action of Sentry's rule JSON.
    pub fn parse(object: &Map<String, Value>) -> Result<Action, String> {
        Ok(match text(object, "id")? {
            NOTIFY_SERVICE => Action::NotifyService {
                service: text(object, "service")?.to_owned(),
            },
            NOTIFY_ALL => Action::NotifyAllPlugins,
            NOTIFY_EMAIL => Action::NotifyEmail(match text(object, "targetType")? {
                "IssueOwners" => EmailTarget::IssueOwners,
                "Team" => EmailTarget::Team(id(object, "targetIdentifier")?),
                "Member" => EmailTarget::Member(id(object, "targetIdentifier")?),
                other => {
                    return Err(format!(
                        "targetType {other:?} is not IssueOwners, Team or Member"
                    ));
                }
            }),
            other => return Err(format!("unknown action {other:?}")),
        })
    }

    /// The `actions` list of a body of Sentry's rule API alone (for "send test notification"
    /// of a rule not saved), or its problems; at least one action is required.
    pub fn parse_list(body: &Map<String, Value>) -> Result<Vec<Action>, RuleErrors> {
        let mut errors = RuleErrors::default();
        let actions = parts(body, "actions", Action::parse, &mut errors);
        if actions.is_empty() && !errors.0.contains_key("actions") {
            errors.add("actions", NO_ACTION);
        }
        if errors.0.is_empty() {
            Ok(actions)
        } else {
            Err(errors)
        }
    }

    /// The action in Sentry's rule JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Action::NotifyService { service } => json!({
                "id": NOTIFY_SERVICE,
                "name": format!("Send a notification via {service}"),
                "service": service,
            }),
            Action::NotifyAllPlugins => json!({
                "id": NOTIFY_ALL,
                "name": "Send a notification to all legacy integrations",
            }),
            Action::NotifyEmail(target) => {
                let (kind, identifier) = match target {
                    EmailTarget::IssueOwners => ("IssueOwners", Value::String(String::new())),
                    EmailTarget::Team(id) => ("Team", json!(id)),
                    EmailTarget::Member(id) => ("Member", json!(id)),
                };
                json!({
                    "id": NOTIFY_EMAIL,
                    "name": format!("Send a notification to {kind}"),
                    "targetType": kind,
                    "targetIdentifier": identifier,
                    "fallthroughType": "ActiveMembers",
                })
            }
        }
    }
}

/// Parses each object of the list `field` with `parse`, recording errors per field.
fn parts<T>(
    body: &Map<String, Value>,
    field: &str,
    parse: fn(&Map<String, Value>) -> Result<T, String>,
    errors: &mut RuleErrors,
) -> Vec<T> {
    let list = match body.get(field) {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.add(field, "must be a list");
            return Vec::new();
        }
    };
    if list.len() > MAX_PARTS {
        errors.add(field, format!("at most {MAX_PARTS} entries"));
        return Vec::new();
    }
    list.iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let parsed = match item {
                Value::Object(object) => parse(object),
                _ => Err("must be an object".into()),
            };
            parsed
                .map_err(|message| errors.add(field, format!("entry {index}: {message}")))
                .ok()
        })
        .collect()
}

fn match_field(
    body: &Map<String, Value>,
    field: &str,
    default: Match,
    errors: &mut RuleErrors,
) -> Match {
    match body.get(field) {
        None | Some(Value::Null) => default,
        Some(Value::String(s)) => Match::parse(s).unwrap_or_else(|| {
            errors.add(field, format!("{s:?} is not all, any or none"));
            default
        }),
        Some(_) => {
            errors.add(field, "must be all, any or none");
            default
        }
    }
}

impl AlertRule {
    /// The rule a body of Sentry's rule API describes, or every problem with it.
    pub fn from_sentry_json(body: &Map<String, Value>) -> Result<AlertRule, RuleErrors> {
        let mut errors = RuleErrors::default();
        let name = match body.get("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => {
                if name.chars().count() > MAX_NAME_CHARS {
                    errors.add("name", format!("at most {MAX_NAME_CHARS} characters"));
                }
                name.trim().to_owned()
            }
            _ => {
                errors.add("name", "This field is required.");
                String::new()
            }
        };
        let frequency_minutes = match body.get("frequency") {
            None | Some(Value::Null) => DEFAULT_FREQUENCY,
            Some(value) => match count(
                &Map::from_iter([("frequency".into(), value.clone())]),
                "frequency",
            )
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| FREQUENCY_RANGE.contains(n))
            {
                Some(n) => n,
                None => {
                    errors.add(
                        "frequency",
                        format!(
                            "must be between {} and {} minutes",
                            FREQUENCY_RANGE.start(),
                            FREQUENCY_RANGE.end()
                        ),
                    );
                    DEFAULT_FREQUENCY
                }
            },
        };
        let environment = match body.get("environment") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.add("environment", "must be an environment name");
                None
            }
        };
        let rule = AlertRule {
            name,
            action_match: match_field(body, "actionMatch", Match::Any, &mut errors),
            filter_match: match_field(body, "filterMatch", Match::All, &mut errors),
            frequency_minutes,
            environment,
            conditions: parts(body, "conditions", Condition::parse, &mut errors),
            filters: parts(body, "filters", Filter::parse, &mut errors),
            actions: parts(body, "actions", Action::parse, &mut errors),
        };
        if rule.conditions.is_empty() && !errors.0.contains_key("conditions") {
            errors.add("conditions", "Must select at least one trigger.");
        }
        if rule.actions.is_empty() && !errors.0.contains_key("actions") {
            errors.add("actions", NO_ACTION);
        }
        if errors.0.is_empty() {
            Ok(rule)
        } else {
            Err(errors)
        }
    }

    /// The rule as Sentry's rule API shows it (without `id` and dates, which the store adds).
    pub fn to_sentry_json(&self) -> Value {
        json!({
            "name": self.name,
            "actionMatch": self.action_match.as_str(),
            "filterMatch": self.filter_match.as_str(),
            "frequency": self.frequency_minutes,
            "environment": self.environment,
            "conditions": self.conditions.iter().map(Condition::to_json).collect::<Vec<_>>(),
            "filters": self.filters.iter().map(Filter::to_json).collect::<Vec<_>>(),
            "actions": self.actions.iter().map(Action::to_json).collect::<Vec<_>>(),
        })
    }

    /// The rule every new project gets: a new issue or a regression mails the project's members.
    pub fn project_default() -> AlertRule {
        AlertRule {
            name: "Send a notification for new issues and regressions".into(),
            action_match: Match::Any,
            filter_match: Match::All,
            frequency_minutes: DEFAULT_FREQUENCY,
            environment: None,
            conditions: vec![Condition::FirstSeen, Condition::Regression],
            filters: Vec::new(),
            actions: vec![Action::NotifyEmail(EmailTarget::IssueOwners)],
        }
    }

    /// Whether the rule may fire on an event that changed nothing about its issue (a frequency
    /// or every-event condition), so every batch touching an issue must be evaluated.
    pub fn needs_seen_jobs(&self) -> bool {
        self.conditions.iter().any(|c| {
            matches!(
                c,
                Condition::EveryEvent
                    | Condition::EventFrequency { .. }
                    | Condition::UniqueUserFrequency { .. }
            )
        })
    }

    /// The frequency windows the rule's conditions count in, so the caller counts only those.
    pub fn windows(&self) -> Vec<(super::evaluate::Counted, Interval)> {
        use super::evaluate::Counted;
        let mut windows: Vec<(Counted, Interval)> = self
            .conditions
            .iter()
            .filter_map(|c| match c {
                Condition::EventFrequency { interval, .. } => Some((Counted::Events, *interval)),
                Condition::UniqueUserFrequency { interval, .. } => {
                    Some((Counted::Users, *interval))
                }
                _ => None,
            })
            .collect();
        windows.sort();
        windows.dedup();
        windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("a test body is an object"),
        }
    }

    #[test]
    fn a_rule_written_for_sentry_round_trips() {
        let sent = body(json!({
            "name": "Checkout errors",
            "actionMatch": "all",
            "filterMatch": "any",
            "frequency": "60",
            "environment": "production",
            "conditions": [
                {"id": FIRST_SEEN},
                {"id": EVENT_FREQUENCY, "value": "100", "interval": "1h", "comparisonType": "count"},
            ],
            "filters": [
                {"id": LEVEL_FILTER, "match": "gte", "level": "40"},
                {"id": TAGGED_FILTER, "key": "url", "match": "co", "value": "/checkout"},
                {"id": AGE_FILTER, "comparison_type": "newer", "value": 2, "time": "day"},
                {"id": ASSIGNED_FILTER, "targetType": "Team", "targetIdentifier": "7"},
            ],
            "actions": [
                {"id": NOTIFY_SERVICE, "service": "webhooks"},
                {"id": NOTIFY_EMAIL, "targetType": "Member", "targetIdentifier": 3},
            ],
        }));
        let rule = AlertRule::from_sentry_json(&sent).unwrap();
        assert_eq!(rule.frequency_minutes, 60);
        assert_eq!(rule.environment.as_deref(), Some("production"));
        assert_eq!(
            rule.conditions[1],
            Condition::EventFrequency {
                value: 100,
                interval: Interval::Hour
            }
        );
        assert_eq!(
            rule.filters[0],
            Filter::Level {
                compare: LevelMatch::AtLeast,
                level: Level::Error
            }
        );
        assert_eq!(
            rule.filters[2],
            Filter::Age {
                older: false,
                millis: 2 * 86_400_000,
                written: (2, AgeUnit::Day)
            }
        );
        assert_eq!(rule.actions[1], Action::NotifyEmail(EmailTarget::Member(3)));
        // What the API shows parses back to the same rule.
        let shown = body(rule.to_sentry_json());
        assert_eq!(AlertRule::from_sentry_json(&shown).unwrap(), rule);
        assert_eq!(
            rule.windows(),
            vec![(super::super::evaluate::Counted::Events, Interval::Hour)]
        );
    }

    #[test]
    fn every_problem_is_reported_per_field_in_sentrys_shape() {
        let errors = AlertRule::from_sentry_json(&body(json!({
            "frequency": 1,
            "actionMatch": "most",
            "conditions": [{"id": "sentry.rules.conditions.nope"}, {"id": EVENT_FREQUENCY, "value": "-3", "interval": "1h"}],
            "filters": [{"id": LEVEL_FILTER, "match": "gte", "level": "loud"}],
            "actions": "mail",
        })))
        .unwrap_err();
        let fields: Vec<&str> = errors.0.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "actionMatch",
                "actions",
                "conditions",
                "filters",
                "frequency",
                "name"
            ]
        );
        assert_eq!(errors.0["conditions"].len(), 2, "{errors}");
        assert!(errors.to_json()["name"].is_array());
    }

    #[test]
    fn a_rule_needs_a_trigger_and_an_action() {
        let errors = AlertRule::from_sentry_json(&body(json!({"name": "nothing"}))).unwrap_err();
        assert!(errors.0.contains_key("conditions"));
        assert!(errors.0.contains_key("actions"));
    }

    #[test]
    fn the_default_rule_is_valid_sentry_json() {
        let rule = AlertRule::project_default();
        let shown = body(rule.to_sentry_json());
        assert_eq!(AlertRule::from_sentry_json(&shown).unwrap(), rule);
    }

    #[test]
    fn tag_matches_compare_case_insensitively_and_handle_absence() {
        let found = || ["Chrome 120", "firefox"].into_iter();
        assert!(TagMatch::Equals.matches(found(), "FIREFOX"));
        assert!(TagMatch::StartsWith.matches(found(), "chrome"));
        assert!(TagMatch::NotContains.matches(found(), "safari"));
        assert!(!TagMatch::NotEquals.matches(found(), "firefox"));
        assert!(TagMatch::IsSet.matches(found(), ""));
        assert!(TagMatch::NotSet.matches(std::iter::empty(), ""));
        assert!(!TagMatch::Equals.matches(std::iter::empty(), ""));
        assert!(TagMatch::NotEquals.matches(std::iter::empty(), "x"));
    }
}
