//! The life of one delivery in the notification outbox: why it exists, where it is, and how long
//! a failed one waits.

use super::evaluate::Trigger;

/// Something a person did to an issue that concerns another person (Sentry's workflow
/// notifications). Sent by mail to one user each, never digested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkflowNotice {
    /// The issue was assigned to them (or to a team of theirs).
    Assigned,
    /// Someone commented on an issue they took part in.
    Commented,
    /// An issue they resolved received an event again.
    ResolvedRegressed,
}

impl WorkflowNotice {
    /// Every notice.
    pub const ALL: [WorkflowNotice; 3] = [
        WorkflowNotice::Assigned,
        WorkflowNotice::Commented,
        WorkflowNotice::ResolvedRegressed,
    ];

    /// The stored name (a delivery's `reason`); distinct from every [`Trigger`]'s.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowNotice::Assigned => "assigned",
            WorkflowNotice::Commented => "commented",
            WorkflowNotice::ResolvedRegressed => "resolved_regressed",
        }
    }
}

/// Why a delivery exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A rule fired on what an event did to its issue.
    Alert(Trigger),
    /// A person did something that concerns the recipient.
    Workflow(WorkflowNotice),
}

impl Reason {
    /// The stored name: the trigger's (as deliveries were stored before workflow notices) or
    /// the notice's.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Alert(trigger) => trigger.as_str(),
            Reason::Workflow(notice) => notice.as_str(),
        }
    }

    /// The reason stored as `name`.
    pub fn parse(name: &str) -> Option<Reason> {
        Trigger::parse(name).map(Reason::Alert).or_else(|| {
            WorkflowNotice::ALL
                .into_iter()
                .find(|n| n.as_str() == name)
                .map(Reason::Workflow)
        })
    }

    /// The workflow notice, if it is one.
    pub fn notice(self) -> Option<WorkflowNotice> {
        match self {
            Reason::Workflow(notice) => Some(notice),
            Reason::Alert(_) => None,
        }
    }
}

impl From<Trigger> for Reason {
    fn from(trigger: Trigger) -> Reason {
        Reason::Alert(trigger)
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its digest window to close or for its next attempt.
    Pending,
    /// Claimed by a sender; reclaimed (with the same batch) when its lease runs out.
    Sending,
    /// Delivered.
    Sent,
    /// Given up on after a lasting failure or too many attempts ("retry now" revives it).
    Dead,
}

impl DeliveryState {
    /// Every state.
    pub const ALL: [DeliveryState; 4] = [
        DeliveryState::Pending,
        DeliveryState::Sending,
        DeliveryState::Sent,
        DeliveryState::Dead,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Dead => "dead",
        }
    }

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<DeliveryState> {
        DeliveryState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The target took it.
    Sent,
    /// It failed and will be tried again.
    Retrying,
    /// It failed for good.
    Failed,
}

impl AttemptOutcome {
    /// The stored (and metrics label) name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Sent => "sent",
            AttemptOutcome::Retrying => "retrying",
            AttemptOutcome::Failed => "failed",
        }
    }

    /// The outcome stored as `name`.
    pub fn parse(name: &str) -> Option<AttemptOutcome> {
        [
            AttemptOutcome::Sent,
            AttemptOutcome::Retrying,
            AttemptOutcome::Failed,
        ]
        .into_iter()
        .find(|o| o.as_str() == name)
    }
}

/// Attempts before a delivery that keeps failing is dead.
pub const MAX_ATTEMPTS: u32 = 12;
/// The wait after the first failure; it doubles after each further one.
pub const FIRST_RETRY_MS: i64 = 15_000;
/// The longest wait between two attempts.
pub const MAX_RETRY_MS: i64 = 3_600_000;

/// How long to wait after the `attempts`-th failed attempt (1 for the first), or `None` when the
/// delivery has had its [`MAX_ATTEMPTS`]. Exponential, capped at [`MAX_RETRY_MS`]: about 4 hours
/// from the first attempt to the last.
pub fn retry_delay_ms(attempts: u32) -> Option<i64> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doubling = attempts.saturating_sub(1).min(20);
    Some((FIRST_RETRY_MS << doubling).min(MAX_RETRY_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_outcomes_read_back_from_their_names() {
        for state in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
        }
        for outcome in [
            AttemptOutcome::Sent,
            AttemptOutcome::Retrying,
            AttemptOutcome::Failed,
        ] {
            assert_eq!(AttemptOutcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(DeliveryState::parse("lost"), None);
    }

    #[test]
    fn reasons_read_back_and_old_rows_stay_readable() {
        let reasons = Trigger::ALL
            .into_iter()
            .map(Reason::Alert)
            .chain(WorkflowNotice::ALL.into_iter().map(Reason::Workflow));
        for reason in reasons {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
        // Rows written before workflow notices hold a bare trigger name.
        assert_eq!(
            Reason::parse("regressed"),
            Some(Reason::Alert(Trigger::Regressed))
        );
        assert_eq!(
            Reason::parse("resolved_regressed"),
            Some(Reason::Workflow(WorkflowNotice::ResolvedRegressed))
        );
        assert_eq!(Reason::parse("mentioned"), None);
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap_then_stop() {
        assert_eq!(retry_delay_ms(1), Some(15_000));
        assert_eq!(retry_delay_ms(2), Some(30_000));
        assert_eq!(retry_delay_ms(3), Some(60_000));
        assert_eq!(retry_delay_ms(9), Some(MAX_RETRY_MS));
        assert_eq!(retry_delay_ms(MAX_ATTEMPTS), None);
        let total: i64 = (1..MAX_ATTEMPTS).filter_map(retry_delay_ms).sum();
        assert!((3 * 3_600_000..6 * 3_600_000).contains(&total), "{total}");
    }
}
