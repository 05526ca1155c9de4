//! A DSN key's rate limit (Sentry's `ProjectKey.rateLimit`): at most `count` events per
//! `window` seconds, and the fixed window that counts them.
//!
//! **Fixed window, not GCRA.** Sentry documents and enforces key quotas as "N events per
//! window" with counters per window (`sentry.quotas.redis`), and users set them that way. A
//! fixed window gives exactly that: `count` events, then refusals until the window ends, with a
//! `Retry-After` that says when. GCRA (a token bucket, as `governor` implements) would smooth
//! the flow but admit a trickle of `count / window` events after the burst, which is not what a
//! key limit promises. The price of the fixed window is that up to `2 × count` events can pass
//! around a window boundary. Unlike Sentry, whose windows are aligned to the epoch, a window here
//! starts with the first event after the previous window ended, so `count` events sent in a
//! burst are always admitted together.

use std::time::{Duration, Instant};

/// Longest window: one day (Sentry's `RateLimitSerializer` allows up to 86 400 s).
pub const MAX_WINDOW_SECS: u64 = 86_400;

/// A valid key rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRateLimit {
    count: u32,
    window_secs: u32,
}

/// Why a rate limit is invalid (the message names the rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// The window is outside 1..=[`MAX_WINDOW_SECS`].
    #[error("The window must be between 1 and 86400 seconds.")]
    Window,
    /// The count is below 1 (or absurdly large).
    #[error("The count must be at least 1.")]
    Count,
}

impl KeyRateLimit {
    /// At most `count` events per `window_secs` seconds.
    pub fn new(count: i64, window_secs: i64) -> Result<KeyRateLimit, RateLimitError> {
        let window_secs = u32::try_from(window_secs)
            .ok()
            .filter(|w| (1..=MAX_WINDOW_SECS).contains(&u64::from(*w)))
            .ok_or(RateLimitError::Window)?;
        let count = u32::try_from(count)
            .ok()
            .filter(|c| *c >= 1)
            .ok_or(RateLimitError::Count)?;
        Ok(KeyRateLimit { count, window_secs })
    }

    /// Events admitted per window.
    pub fn count(self) -> u32 {
        self.count
    }

    /// The window's length in seconds.
    pub fn window_secs(self) -> u32 {
        self.window_secs
    }

    fn window(self) -> Duration {
        Duration::from_secs(u64::from(self.window_secs))
    }
}

/// The events one key sent in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    limit: KeyRateLimit,
    started: Instant,
    used: u32,
    refused: bool,
}

/// An event the window refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Whole seconds (rounded up, at least 1) until the window ends.
    pub retry_after_secs: u64,
    /// Whether it is the window's first refusal (so a caller can log one line per window, not
    /// one per refused event).
    pub first: bool,
}

impl Window {
    /// A window that starts at `now`, with nothing used yet.
    pub fn new(limit: KeyRateLimit, now: Instant) -> Window {
        Window {
            limit,
            started: now,
            used: 0,
            refused: false,
        }
    }

    /// Counts one event at `now` under `limit`, or refuses it. A window that has ended, or that
    /// counted under another limit (the key was changed), is replaced by a new one starting at
    /// `now`.
    pub fn admit(&mut self, limit: KeyRateLimit, now: Instant) -> Result<(), Refusal> {
        if self.limit != limit || now.saturating_duration_since(self.started) >= limit.window() {
            *self = Window::new(limit, now);
        }
        if self.used < limit.count {
            self.used += 1;
            return Ok(());
        }
        let left = limit
            .window()
            .saturating_sub(now.saturating_duration_since(self.started));
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let first = !self.refused;
        self.refused = true;
        Err(Refusal {
            retry_after_secs: secs.max(1),
            first,
        })
    }

    /// Whether the window has ended at `now` (so forgetting it changes nothing).
    pub fn ended(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= self.limit.window()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(count: i64, window: i64) -> KeyRateLimit {
        KeyRateLimit::new(count, window).expect("a valid limit")
    }

    /// The seconds a refusal names, or `Ok`.
    fn admit(window: &mut Window, limit: KeyRateLimit, now: Instant) -> Result<(), u64> {
        window.admit(limit, now).map_err(|r| r.retry_after_secs)
    }

    #[test]
    fn limits_are_validated() {
        assert!(KeyRateLimit::new(1, 1).is_ok());
        assert!(KeyRateLimit::new(1_000_000, 86_400).is_ok());
        assert_eq!(KeyRateLimit::new(1, 0), Err(RateLimitError::Window));
        assert_eq!(KeyRateLimit::new(1, 86_401), Err(RateLimitError::Window));
        assert_eq!(KeyRateLimit::new(1, -5), Err(RateLimitError::Window));
        assert_eq!(KeyRateLimit::new(0, 60), Err(RateLimitError::Count));
        assert_eq!(KeyRateLimit::new(-1, 60), Err(RateLimitError::Count));
        assert_eq!(
            KeyRateLimit::new(i64::from(u32::MAX) + 1, 60),
            Err(RateLimitError::Count)
        );
    }

    #[test]
    fn a_window_admits_count_events_then_says_when_it_ends() {
        let start = Instant::now();
        let three_per_minute = limit(3, 60);
        let mut window = Window::new(three_per_minute, start);
        for _ in 0..3 {
            assert_eq!(admit(&mut window, three_per_minute, start), Ok(()));
        }
        assert_eq!(
            window.admit(three_per_minute, start),
            Err(Refusal {
                retry_after_secs: 60,
                first: true
            })
        );
        assert!(!window.admit(three_per_minute, start).unwrap_err().first);
        let later = start + Duration::from_millis(20_500);
        assert_eq!(
            admit(&mut window, three_per_minute, later),
            Err(40),
            "rounded up"
        );
        let almost = start + Duration::from_millis(59_999);
        assert_eq!(admit(&mut window, three_per_minute, almost), Err(1));
        assert!(!window.ended(almost));

        // The next window starts with the next event and admits `count` again.
        let next = start + Duration::from_secs(75);
        assert!(window.ended(next));
        for _ in 0..3 {
            assert_eq!(admit(&mut window, three_per_minute, next), Ok(()));
        }
        assert_eq!(
            window.admit(three_per_minute, next),
            Err(Refusal {
                retry_after_secs: 60,
                first: true
            }),
            "a new window's first refusal"
        );
    }

    #[test]
    fn a_changed_limit_starts_a_new_window() {
        let start = Instant::now();
        let one = limit(1, 3600);
        let mut window = Window::new(one, start);
        assert_eq!(admit(&mut window, one, start), Ok(()));
        assert_eq!(admit(&mut window, one, start), Err(3600));
        let two = limit(2, 3600);
        assert_eq!(admit(&mut window, two, start), Ok(()));
        assert_eq!(admit(&mut window, two, start), Ok(()));
        assert_eq!(admit(&mut window, two, start), Err(3600));
    }
}
