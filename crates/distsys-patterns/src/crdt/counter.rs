//! Counters.

use super::{Crdt, ReplicaId};
use std::collections::BTreeMap;

/// A grow-only counter: one count per replica, merged by maximum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GCounter {
    counts: BTreeMap<ReplicaId, u64>,
}

impl GCounter {
    /// Adds `n` at `replica`; returns the delta.
    pub fn inc(&mut self, replica: ReplicaId, n: u64) -> GCounter {
        let count = self.counts.entry(replica).or_default();
        *count += n;
        GCounter {
            counts: BTreeMap::from([(replica, *count)]),
        }
    }

    /// The total.
    pub fn value(&self) -> u64 {
        self.counts.values().sum()
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

/// A counter that goes up and down: two grow-only counters.
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

    /// The value.
    pub fn value(&self) -> i64 {
        self.up.value() as i64 - self.down.value() as i64
    }
}

impl Crdt for PNCounter {
    fn merge(&mut self, other: &Self) {
        self.up.merge(&other.up);
        self.down.merge(&other.down);
    }
}
