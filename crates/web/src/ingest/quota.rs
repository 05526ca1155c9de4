//! Per-key rate limits at ingest: each DSN key with a limit admits at most `count` events per
//! window (a fixed window, see [`errhound_domain::rate_limit`] for why not GCRA); the event
//! after that is refused with 429 before it is queued.
//!
//! The counters live in this process's memory, one small entry per key that has a limit and
//! sent events, so memory is bounded by the number of keys. With several ingest processes each
//! counts on its own and a key could get `count` events per window from each of them: sharing
//! the counters (Redis, with the queue) is out of scope for now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use errhound_domain::rate_limit::{KeyRateLimit, Refusal, Window};

/// Entries past which windows that ended are dropped (keys that stopped sending or were
/// deleted); below it the map never holds more than one entry per limited key anyway.
const PRUNE_AT: usize = 10_000;

/// The windows of every limited key. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct KeyQuotas {
    windows: Arc<Mutex<HashMap<i64, Window>>>,
}

impl KeyQuotas {
    /// No key has sent anything yet.
    pub fn new() -> KeyQuotas {
        KeyQuotas::default()
    }

    /// Counts one event of key `key_id` under `limit` now, or refuses it.
    pub fn admit(&self, key_id: i64, limit: KeyRateLimit) -> Result<(), Refusal> {
        self.admit_at(key_id, limit, Instant::now())
    }

    fn admit_at(&self, key_id: i64, limit: KeyRateLimit, now: Instant) -> Result<(), Refusal> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= PRUNE_AT && !windows.contains_key(&key_id) {
            windows.retain(|_, window| !window.ended(now));
        }
        windows
            .entry(key_id)
            .or_insert_with(|| Window::new(limit, now))
            .admit(limit, now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::Duration;

    use super::*;

    #[test]
    fn each_key_counts_alone_and_the_first_refusal_of_a_window_is_marked() {
        let quotas = KeyQuotas::new();
        let two = KeyRateLimit::new(2, 10).unwrap();
        let start = Instant::now();
        assert_eq!(quotas.admit_at(1, two, start), Ok(()));
        assert_eq!(quotas.admit_at(1, two, start), Ok(()));
        assert_eq!(quotas.admit_at(2, two, start), Ok(()), "another key");
        let refused = quotas.admit_at(1, two, start).unwrap_err();
        assert_eq!(refused.retry_after_secs, 10);
        assert!(refused.first);
        assert!(!quotas.admit_at(1, two, start).unwrap_err().first);

        let next = start + Duration::from_secs(10);
        assert_eq!(quotas.admit_at(1, two, next), Ok(()));
        assert_eq!(quotas.admit_at(1, two, next), Ok(()));
        assert!(
            quotas.admit_at(1, two, next).unwrap_err().first,
            "a new window"
        );
    }
}
