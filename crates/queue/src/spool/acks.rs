//! Which records are done: the acknowledgement watermark.
//!
//! Acknowledgements may arrive in any order, and a batch may never be acknowledged (its worker
//! failed). The watermark, below which every record is done and may be deleted, therefore only
//! advances over a contiguous prefix: it stops before the oldest record that was handed out and
//! not acknowledged. A record the reader passed without handing it out (already acknowledged
//! before a restart, or damaged) counts as done.

use std::collections::BTreeMap;

/// Claimed records not yet acknowledged, and how far the reader has gone.
#[derive(Debug)]
pub(super) struct Claims {
    /// Record id -> stored bytes, for every record handed out and not acknowledged.
    outstanding: BTreeMap<u64, u64>,
    /// Id of the last record the reader passed (handed out or skipped).
    read_through: u64,
}

impl Claims {
    /// Starts with every record up to `acked` done.
    pub(super) fn new(acked: u64) -> Claims {
        Claims {
            outstanding: BTreeMap::new(),
            read_through: acked,
        }
    }

    /// The id of the last good record the reader passed: where a resync after damage starts.
    pub(super) fn read_through(&self) -> u64 {
        self.read_through
    }

    /// The reader handed out record `id`, which occupies `bytes`.
    pub(super) fn claimed(&mut self, id: u64, bytes: u64) {
        self.outstanding.insert(id, bytes);
        self.passed(id);
    }

    /// The reader went past every record up to `id` without handing it out.
    pub(super) fn passed(&mut self, id: u64) {
        self.read_through = self.read_through.max(id);
    }

    /// Marks `ids` acknowledged; returns the bytes they occupied. Ids that are not outstanding
    /// (acknowledged twice, or never handed out) change nothing.
    pub(super) fn acknowledge(&mut self, ids: impl IntoIterator<Item = u64>) -> u64 {
        ids.into_iter()
            .filter_map(|id| self.outstanding.remove(&id))
            .sum()
    }

    /// Every record up to this id is done.
    pub(super) fn watermark(&self) -> u64 {
        match self.outstanding.first_key_value() {
            Some((&oldest, _)) => oldest - 1,
            None => self.read_through,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_acks_advance_the_watermark() {
        let mut claims = Claims::new(0);
        (1..=4).for_each(|id| claims.claimed(id, 10));
        assert_eq!(claims.watermark(), 0);
        assert_eq!(claims.acknowledge([1, 2]), 20);
        assert_eq!(claims.watermark(), 2);
        claims.acknowledge([3, 4]);
        assert_eq!(claims.watermark(), 4);
    }

    #[test]
    fn a_later_batch_acked_first_does_not_cover_an_earlier_one() {
        let mut claims = Claims::new(0);
        (1..=6).for_each(|id| claims.claimed(id, 1));
        claims.acknowledge([4, 5, 6]);
        assert_eq!(claims.watermark(), 0, "records 1..=3 were not acknowledged");
        claims.acknowledge([2]);
        assert_eq!(claims.watermark(), 0);
        claims.acknowledge([1]);
        assert_eq!(claims.watermark(), 2);
        claims.acknowledge([3]);
        assert_eq!(claims.watermark(), 6);
    }

    #[test]
    fn a_batch_never_acked_holds_the_watermark() {
        let mut claims = Claims::new(10);
        (11..=20).for_each(|id| claims.claimed(id, 1));
        // The batch 11..=15 is lost; every later batch is acknowledged.
        claims.acknowledge(16..=20);
        (21..=30).for_each(|id| claims.claimed(id, 1));
        claims.acknowledge(21..=30);
        assert_eq!(claims.watermark(), 10);
    }

    #[test]
    fn skipped_records_count_as_done_and_repeated_acks_change_nothing() {
        let mut claims = Claims::new(0);
        claims.claimed(1, 5);
        claims.passed(2); // damaged
        claims.claimed(3, 5);
        assert_eq!(claims.acknowledge([1, 3]), 10);
        assert_eq!(claims.watermark(), 3);
        assert_eq!(claims.acknowledge([1, 3, 99]), 0);
        assert_eq!(claims.watermark(), 3);
    }
}
