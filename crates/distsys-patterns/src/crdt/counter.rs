//! Counters.

use super::{Crdt, ReplicaId};
use std::collections::BTreeMap;

/// A grow-only counter: one count per replica, merged by maximum. A replica's count saturates
/// at `u64::MAX` (it never wraps); the total is summed in 128 bits, so it cannot overflow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GCounter {
    counts: BTreeMap<ReplicaId, u64>,
}

impl GCounter {
    /// Adds `n` at `replica`; returns the delta.
    pub fn inc(&mut self, replica: ReplicaId, n: u64) -> GCounter {
        let count = self.counts.entry(replica).or_default();
        *count = count.saturating_add(n);
        GCounter {
            counts: BTreeMap::from([(replica, *count)]),
        }
    }

    /// The total.
    pub fn value(&self) -> u128 {
        self.counts.values().map(|c| u128::from(*c)).sum()
    }
}

impl Crdt for GCounter {
    fn merge(&mut self, other: &Self) {
        for (r, c) in &other.counts {
            let mine = self.counts.entry(*r).or_default();
            *mine = (*mine).max(*c);
        }
    }
}

/// A counter that goes up and down: two grow-only counters (each replica's increments and
/// decrements saturate at `u64::MAX`; the value is exact in 128 bits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PNCounter {
    up: GCounter,
    down: GCounter,
}

impl PNCounter {
    /// Adds `n` (negative: subtracts) at `replica`; returns the delta.
    pub fn add(&mut self, replica: ReplicaId, n: i64) -> PNCounter {
        let mut delta = PNCounter::default();
        if n >= 0 {
            delta.up = self.up.inc(replica, n.unsigned_abs());
        } else {
            delta.down = self.down.inc(replica, n.unsigned_abs());
        }
        delta
    }

    /// The value. Exact: at most 2^64 replicas of at most 2^64 each fit in 128 bits.
    pub fn value(&self) -> i128 {
        let (up, down) = (self.up.value(), self.down.value());
        if up >= down {
            i128::try_from(up - down).unwrap_or(i128::MAX)
        } else {
            i128::try_from(down - up).map_or(i128::MIN, |d| -d)
        }
    }
}

impl Crdt for PNCounter {
    fn merge(&mut self, other: &Self) {
        self.up.merge(&other.up);
        self.down.merge(&other.down);
    }
}
