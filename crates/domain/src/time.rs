//! Time units (all timestamps are epoch milliseconds) and the hour buckets that event-count
//! charts and stats are drawn from.

use std::collections::HashMap;
use std::hash::Hash;

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One hour in milliseconds (the unit of the stored hourly counts).
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The hour (hours since the epoch) that holds `ms`.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS)
}

/// `buckets` consecutive buckets of `bucket_hours` whole hours each, ending with the bucket that
/// holds "now". Buckets are aligned to multiples of `bucket_hours` since the epoch, so the same
/// hour always falls into the same bucket (the database groups by the same rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourBuckets {
    bucket_hours: i64,
    buckets: i64,
}

impl HourBuckets {
    /// Buckets of `bucket_hours` hours (at least 1), `buckets` of them (at least 1).
    pub const fn new(bucket_hours: i64, buckets: i64) -> HourBuckets {
        HourBuckets {
            bucket_hours: if bucket_hours < 1 { 1 } else { bucket_hours },
            buckets: if buckets < 1 { 1 } else { buckets },
        }
    }

    /// Hours per bucket.
    pub fn bucket_hours(&self) -> i64 {
        self.bucket_hours
    }

    /// The whole span in milliseconds.
    pub fn span_ms(&self) -> i64 {
        self.bucket_hours * self.buckets * HOUR_MS
    }

    /// The first and last bucket numbers at `now_ms`.
    fn range(&self, now_ms: i64) -> (i64, i64) {
        let last = hour_of(now_ms).div_euclid(self.bucket_hours);
        (last - self.buckets + 1, last)
    }

    /// The first hour of the oldest bucket at `now_ms` (where a counts query starts).
    pub fn first_hour(&self, now_ms: i64) -> i64 {
        self.range(now_ms).0 * self.bucket_hours
    }

    /// `(bucket start in epoch ms, count)` for every bucket, oldest first, summing `rows` of
    /// `(hour, count)`; rows outside the buckets are left out.
    pub fn fill(&self, now_ms: i64, rows: impl IntoIterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
        let mut by_key = self.fill_by(now_ms, &[()], rows.into_iter().map(|(h, c)| ((), h, c)));
        by_key.remove(&()).unwrap_or_default()
    }

    /// [`HourBuckets::fill`] for several series at once (e.g. one per issue): `rows` are
    /// `(key, hour, count)`; every key of `keys` gets a full series, rows of other keys are left
    /// out.
    pub fn fill_by<K: Copy + Eq + Hash>(
        &self,
        now_ms: i64,
        keys: &[K],
        rows: impl IntoIterator<Item = (K, i64, i64)>,
    ) -> HashMap<K, Vec<(i64, i64)>> {
        let (first, last) = self.range(now_ms);
        let empty: Vec<(i64, i64)> = (first..=last)
            .map(|b| (b * self.bucket_hours * HOUR_MS, 0))
            .collect();
        let mut out: HashMap<K, Vec<(i64, i64)>> =
            keys.iter().map(|&k| (k, empty.clone())).collect();
        for (key, hour, count) in rows {
            let bucket = hour.div_euclid(self.bucket_hours);
            let Ok(index) = usize::try_from(bucket - first) else {
                continue;
            };
            if let Some(slot) = out.get_mut(&key).and_then(|s| s.get_mut(index)) {
                slot.1 += count;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_end_with_the_one_holding_now() {
        // 10:30 on day 2 (hour 58): daily buckets end with day 2, hourly ones with hour 58.
        let now = 58 * HOUR_MS + 30 * MINUTE_MS;
        let days = HourBuckets::new(24, 3);
        assert_eq!(days.first_hour(now), 0);
        let series = days.fill(now, [(0, 1), (23, 2), (24, 4), (58, 8), (72, 16), (-1, 32)]);
        assert_eq!(series, vec![(0, 3), (DAY_MS, 4), (2 * DAY_MS, 8)]);
        let hours = HourBuckets::new(1, 2);
        assert_eq!(hours.first_hour(now), 57);
        assert_eq!(
            hours.fill(now, [(57, 1), (58, 2), (56, 4)]),
            vec![(57 * HOUR_MS, 1), (58 * HOUR_MS, 2)]
        );
        assert_eq!(hours.span_ms(), 2 * HOUR_MS);
    }

    #[test]
    fn series_per_key_get_only_their_rows() {
        let now = 5 * HOUR_MS;
        let buckets = HourBuckets::new(2, 2);
        let out = buckets.fill_by(now, &[1, 2], [(1, 4, 1), (2, 2, 5), (3, 4, 7), (1, 5, 2)]);
        assert_eq!(out[&1], vec![(2 * HOUR_MS, 0), (4 * HOUR_MS, 3)]);
        assert_eq!(out[&2], vec![(2 * HOUR_MS, 5), (4 * HOUR_MS, 0)]);
        assert!(!out.contains_key(&3));
    }

    #[test]
    fn zero_sizes_do_not_divide_by_zero() {
        let b = HourBuckets::new(0, 0);
        assert_eq!(b.fill(HOUR_MS, [(1, 3)]), vec![(HOUR_MS, 3)]);
    }
}
