//! Issue alert rules, as Sentry's (`sentry.rules.*`): **when** something happens to an issue
//! (conditions), **if** the event and issue pass the filters, **then** notify (actions), at most
//! once per issue per rule per `frequency` minutes.
//!
//! [`rule`] holds the typed rule and its Sentry JSON (the ids of Sentry's rule API, so scripts
//! written for Sentry keep working); [`evaluate`] decides whether a rule fires for one event,
//! from facts the worker gathered ([`evaluate::Facts`]); [`preview`] replays past events
//! through the same decision. Nothing here does I/O: counting events
//! in a window, claiming the once-per-interval slot and sending are the store's and the
//! notifier's.

pub mod delivery;
pub mod evaluate;
pub mod event_facts;
pub mod preview;
pub mod rule;

pub use delivery::{AttemptOutcome, DeliveryState, Reason, WorkflowNotice, retry_delay_ms};
pub use evaluate::{Assignee, Counted, Facts, Trigger, WindowCounts, decide};
pub use event_facts::EventFacts;
pub use preview::{IssueFires, IssueHistory, PastEvent, Simulation, simulate};
pub use rule::{
    Action, AlertRule, AssignedTarget, Condition, EmailTarget, EventAttribute, Filter, Interval,
    LevelMatch, Match, RuleErrors, TagMatch,
};
