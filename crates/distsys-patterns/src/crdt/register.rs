//! Registers.

use super::dots::DotKernel;
use super::{Crdt, ReplicaId};
use crate::clock::HlcTimestamp;

/// A last-writer-wins register: the write with the larger (hybrid logical clock, replica)
/// stamp wins. Concurrent writes lose all but one value; HLC stamps (unlike wall clocks) never
/// let a causally later write lose to an earlier one. Two writes with one stamp (a replica
/// that reissued a stamp after a restart) are ordered by value, so every replica keeps the
/// same one whatever the merge order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LWWRegister<T> {
    value: Option<T>,
    stamp: (HlcTimestamp, ReplicaId),
}

impl<T: Clone + Ord + std::fmt::Debug> LWWRegister<T> {
    /// Writes `value` stamped `(at, replica)`; returns the delta (the whole register).
    pub fn set(&mut self, value: T, at: HlcTimestamp, replica: ReplicaId) -> LWWRegister<T> {
        let write = LWWRegister {
            value: Some(value),
            stamp: (at, replica),
        };
        self.merge(&write);
        write
    }

    /// The value, if any write happened.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The winning stamp.
    pub fn stamp(&self) -> (HlcTimestamp, ReplicaId) {
        self.stamp
    }
}

impl<T: Clone + Ord + std::fmt::Debug> Crdt for LWWRegister<T> {
    fn merge(&mut self, other: &Self) {
        let wins = match (&self.value, &other.value) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(mine), Some(theirs)) => (other.stamp, theirs) > (self.stamp, mine),
        };
        if wins {
            *self = other.clone();
        }
    }
}

/// A multi-value register: a write replaces the values it has seen; concurrent writes are all
/// kept (siblings) until a later write, which has seen them, replaces them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MVRegister<T> {
    kernel: DotKernel<T>,
}

impl<T> Default for MVRegister<T> {
    fn default() -> Self {
        MVRegister {
            kernel: DotKernel::default(),
        }
    }
}

impl<T: Clone + PartialEq + Ord + std::fmt::Debug> MVRegister<T> {
    /// Writes `value` at `replica`, replacing every value seen here; returns the delta.
    pub fn set(&mut self, replica: ReplicaId, value: T) -> MVRegister<T> {
        MVRegister {
            kernel: self.kernel.write(replica, value, |_| true),
        }
    }

    /// The current values (more than one after concurrent writes), sorted.
    pub fn values(&self) -> Vec<T> {
        let mut v: Vec<T> = self.kernel.entries().map(|(_, x)| x.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

impl<T: Clone + PartialEq + Ord + std::fmt::Debug> Crdt for MVRegister<T> {
    fn merge(&mut self, other: &Self) {
        self.kernel.merge(&other.kernel);
    }
}
