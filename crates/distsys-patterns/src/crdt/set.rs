//! Sets.

use super::dots::DotKernel;
use super::{Crdt, ReplicaId};
use std::collections::BTreeSet;

/// A grow-only set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GSet<T: Ord> {
    items: BTreeSet<T>,
}

impl<T: Ord> Default for GSet<T> {
    fn default() -> Self {
        GSet {
            items: BTreeSet::new(),
        }
    }
}

impl<T: Ord + Clone + std::fmt::Debug> GSet<T> {
    /// Adds `item`; returns the delta.
    pub fn add(&mut self, item: T) -> GSet<T> {
        self.items.insert(item.clone());
        GSet {
            items: BTreeSet::from([item]),
        }
    }

    /// Whether `item` is in.
    pub fn contains(&self, item: &T) -> bool {
        self.items.contains(item)
    }

    /// The items.
    pub fn items(&self) -> &BTreeSet<T> {
        &self.items
    }
}

impl<T: Ord + Clone + std::fmt::Debug> Crdt for GSet<T> {
    fn merge(&mut self, other: &Self) {
        self.items.extend(other.items.iter().cloned());
    }
}

/// A two-phase set: an item can be added, then removed for good (a tombstone set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoPSet<T: Ord> {
    added: GSet<T>,
    removed: GSet<T>,
}

impl<T: Ord> Default for TwoPSet<T> {
    fn default() -> Self {
        TwoPSet {
            added: GSet::default(),
            removed: GSet::default(),
        }
    }
}

impl<T: Ord + Clone + std::fmt::Debug> TwoPSet<T> {
    /// Adds `item` (no effect once it was removed); returns the delta.
    pub fn add(&mut self, item: T) -> TwoPSet<T> {
        TwoPSet {
            added: self.added.add(item),
            removed: GSet::default(),
        }
    }

    /// Removes `item` for good if it is present; returns the delta (empty otherwise).
    pub fn remove(&mut self, item: T) -> TwoPSet<T> {
        if !self.added.contains(&item) {
            return TwoPSet::default();
        }
        TwoPSet {
            added: GSet::default(),
            removed: self.removed.add(item),
        }
    }

    /// Whether `item` is in: added and never removed.
    pub fn contains(&self, item: &T) -> bool {
        self.added.contains(item) && !self.removed.contains(item)
    }
}

impl<T: Ord + Clone + std::fmt::Debug> Crdt for TwoPSet<T> {
    fn merge(&mut self, other: &Self) {
        self.added.merge(&other.added);
        self.removed.merge(&other.removed);
    }
}

/// An observed-remove set, add wins: a remove takes away only the adds it has seen, so an add
/// concurrent with a remove survives; items can be re-added any number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ORSet<T> {
    kernel: DotKernel<T>,
}

impl<T> Default for ORSet<T> {
    fn default() -> Self {
        ORSet {
            kernel: DotKernel::default(),
        }
    }
}

impl<T: Ord + Clone + std::fmt::Debug> ORSet<T> {
    /// Adds `item` at `replica`; returns the delta.
    pub fn add(&mut self, replica: ReplicaId, item: T) -> ORSet<T> {
        let same = item.clone();
        ORSet {
            kernel: self.kernel.write(replica, item, |x| *x == same),
        }
    }

    /// Removes `item` (the adds of it seen here); returns the delta.
    pub fn remove(&mut self, item: &T) -> ORSet<T> {
        ORSet {
            kernel: self.kernel.remove(|x| x == item),
        }
    }

    /// Whether `item` is in.
    pub fn contains(&self, item: &T) -> bool {
        self.kernel.entries().any(|(_, x)| x == item)
    }

    /// The items.
    pub fn items(&self) -> BTreeSet<T> {
        self.kernel.entries().map(|(_, x)| x.clone()).collect()
    }
}

impl<T: Ord + Clone + std::fmt::Debug> Crdt for ORSet<T> {
    fn merge(&mut self, other: &Self) {
        self.kernel.merge(&other.kernel);
    }
}
