//! The life of one delivery in the notification outbox, and how long a failed one waits.

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
