//! Rules the ingest path applies per batch to decide whether an event reopens a resolved or
//! ignored issue (pure, so they are unit-tested here).

use errhound_domain::time::{MINUTE_MS, hour_of};
use serde_json::{Value, json};

use super::resolution::ResolutionKind;
use crate::activity;

/// A release's place in its project's order: `(first_seen, id)`.
pub(crate) type ReleaseOrder = (i64, i64);

/// Whether a resolution covers an event of `event_release` (so the event does not reopen the
/// issue). `None` for an event without a release: covered, as Sentry assumes an older,
/// unversioned deployment.
pub(crate) fn resolution_covers(
    kind: ResolutionKind,
    resolution_release: ReleaseOrder,
    event_release: Option<ReleaseOrder>,
) -> bool {
    match event_release {
        None => true,
        Some(event) => match kind {
            ResolutionKind::InRelease => event < resolution_release,
            ResolutionKind::InNextRelease => event <= resolution_release,
        },
    }
}

/// An ignore's conditions and the counts to test them against.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SnoozeCheck {
    pub until_ms: Option<i64>,
    pub count: Option<i64>,
    pub window_minutes: Option<i64>,
    pub user_count: Option<i64>,
    pub user_window_minutes: Option<i64>,
    pub times_seen_at: i64,
    pub user_count_at: i64,
    /// The counters now (this batch included).
    pub times_seen: i64,
    pub users: i64,
    /// Events within `window_minutes` (when it is set).
    pub events_in_window: i64,
    /// Distinct users within `user_window_minutes` (when it is set).
    pub users_in_window: i64,
}

/// How an ignore ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnoozeEnd {
    /// Its time passed: `ongoing`, `set_unresolved`.
    Expired,
    /// A count condition was met: `escalating`, `set_escalating`.
    Escalated,
}

impl SnoozeCheck {
    /// The start of the event window, as a Unix hour (the hour holding `now - window` counts).
    pub(crate) fn window_start_hour(now_ms: i64, window_minutes: i64) -> i64 {
        hour_of(now_ms - window_minutes * MINUTE_MS)
    }

    /// Whether the ignore has ended (Sentry's `GroupSnooze.is_valid` turned false), and how.
    pub(crate) fn ended(&self, now_ms: i64) -> Option<SnoozeEnd> {
        let time_up = self.until_ms.is_some_and(|until| until <= now_ms);
        let count_met = self.count.is_some_and(|count| match self.window_minutes {
            Some(_) => self.events_in_window >= count,
            None => self.times_seen - self.times_seen_at >= count,
        });
        let users_met = self
            .user_count
            .is_some_and(|count| match self.user_window_minutes {
                Some(_) => self.users_in_window >= count,
                None => self.users - self.user_count_at >= count,
            });
        if !(time_up || count_met || users_met) {
            None
        } else if self.until_ms.is_some() {
            Some(SnoozeEnd::Expired)
        } else {
            Some(SnoozeEnd::Escalated)
        }
    }

    /// Sentry's `expired_snooze` details for the activity.
    pub(crate) fn details(&self) -> Value {
        json!({
            "until": self.until_ms.map(activity::iso8601),
            "count": self.count,
            "window": self.window_minutes,
            "user_count": self.user_count,
            "user_window": self.user_window_minutes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_cover_older_releases() {
        let r = (100, 5);
        // In release R: strictly older releases are covered, R itself and newer are not.
        assert!(resolution_covers(
            ResolutionKind::InRelease,
            r,
            Some((50, 9))
        ));
        assert!(resolution_covers(
            ResolutionKind::InRelease,
            r,
            Some((100, 4))
        ));
        assert!(!resolution_covers(ResolutionKind::InRelease, r, Some(r)));
        assert!(!resolution_covers(
            ResolutionKind::InRelease,
            r,
            Some((150, 1))
        ));
        // In next release after C: C itself is covered too.
        assert!(resolution_covers(ResolutionKind::InNextRelease, r, Some(r)));
        assert!(!resolution_covers(
            ResolutionKind::InNextRelease,
            r,
            Some((100, 6))
        ));
        // No release on the event: covered.
        assert!(resolution_covers(ResolutionKind::InRelease, r, None));
    }

    #[test]
    fn snooze_conditions() {
        let base = SnoozeCheck {
            times_seen_at: 10,
            user_count_at: 2,
            times_seen: 12,
            users: 3,
            ..SnoozeCheck::default()
        };
        assert_eq!(base.ended(0), None, "forever never ends");
        let until = SnoozeCheck {
            until_ms: Some(1_000),
            ..base
        };
        assert_eq!(until.ended(999), None);
        assert_eq!(until.ended(1_000), Some(SnoozeEnd::Expired));
        let count = SnoozeCheck {
            count: Some(2),
            ..base
        };
        assert_eq!(count.ended(0), Some(SnoozeEnd::Escalated));
        let count = SnoozeCheck {
            count: Some(3),
            ..base
        };
        assert_eq!(count.ended(0), None);
        let windowed = SnoozeCheck {
            count: Some(3),
            window_minutes: Some(60),
            events_in_window: 3,
            ..base
        };
        assert_eq!(windowed.ended(0), Some(SnoozeEnd::Escalated));
        let users = SnoozeCheck {
            user_count: Some(1),
            ..base
        };
        assert_eq!(users.ended(0), Some(SnoozeEnd::Escalated));
        let users_window = SnoozeCheck {
            user_count: Some(2),
            user_window_minutes: Some(10),
            users_in_window: 1,
            ..base
        };
        assert_eq!(users_window.ended(0), None);
        // A count met on an ignore that also had a time limit ends as "expired" (Sentry: the
        // reason is ONGOING whenever the snooze had an `until`).
        let both = SnoozeCheck {
            until_ms: Some(5_000),
            count: Some(1),
            ..base
        };
        assert_eq!(both.ended(0), Some(SnoozeEnd::Expired));
    }

    #[test]
    fn windows_start_in_the_hour_holding_their_start() {
        assert_eq!(SnoozeCheck::window_start_hour(7_200_000, 60), 1);
        assert_eq!(SnoozeCheck::window_start_hour(7_200_000, 61), 0);
    }
}
