//! Dots and the dot kernel shared by the observed-remove types.

use super::{Crdt, ReplicaId};
use std::collections::{BTreeMap, BTreeSet};

/// A unique event: the `counter`-th event of `replica`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot {
    /// Who.
    pub replica: ReplicaId,
    /// Its sequence number there (from 1).
    pub counter: u64,
}

/// Values tagged by the dot of the event that wrote them, and the causal context: every dot
/// this state has seen. A value whose dot the other side has seen but no longer holds was
/// removed there, so the merge drops it; that is what makes removes observed-removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotKernel<T> {
    entries: BTreeMap<Dot, T>,
    context: BTreeSet<Dot>,
}

impl<T> Default for DotKernel<T> {
    fn default() -> Self {
        DotKernel {
            entries: BTreeMap::new(),
            context: BTreeSet::new(),
        }
    }
}

impl<T: Clone + Ord + std::fmt::Debug> DotKernel<T> {
    /// The next dot of `replica` (one past every dot of it seen).
    pub fn next_dot(&self, replica: ReplicaId) -> Dot {
        let last = self
            .context
            .range(
                Dot {
                    replica,
                    counter: 0,
                }..=Dot {
                    replica,
                    counter: u64::MAX,
                },
            )
            .next_back()
            .map_or(0, |d| d.counter);
        Dot {
            replica,
            counter: last + 1,
        }
    }

    /// Writes `value` under a new dot of `replica`, first removing the entries `remove`
    /// selects; returns the delta (the new entry, and the removed dots in its context).
    pub fn write(
        &mut self,
        replica: ReplicaId,
        value: T,
        remove: impl Fn(&T) -> bool,
    ) -> DotKernel<T> {
        let mut delta = self.remove(remove);
        let dot = self.next_dot(replica);
        self.entries.insert(dot, value.clone());
        self.context.insert(dot);
        delta.entries.insert(dot, value);
        delta.context.insert(dot);
        delta
    }

    /// Removes the entries `select` picks; returns the delta (their dots, no entries).
    pub fn remove(&mut self, select: impl Fn(&T) -> bool) -> DotKernel<T> {
        let gone: Vec<Dot> = self
            .entries
            .iter()
            .filter(|(_, v)| select(v))
            .map(|(d, _)| *d)
            .collect();
        for d in &gone {
            self.entries.remove(d);
        }
        DotKernel {
            entries: BTreeMap::new(),
            context: gone.into_iter().collect(),
        }
    }

    /// The live values with their dots.
    pub fn entries(&self) -> impl Iterator<Item = (&Dot, &T)> {
        self.entries.iter()
    }
}

impl<T: Clone + Ord + std::fmt::Debug> Crdt for DotKernel<T> {
    /// Keeps what both hold, and what one holds that the other never saw. A dot is unique
    /// only if its replica never reuses a counter (it must keep its state across restarts, or
    /// restart under a new [`ReplicaId`], see [`super::incarnation_id`]); should two states
    /// still hold one dot with different values, both keep the larger value, so the merge
    /// stays commutative and replicas converge.
    fn merge(&mut self, other: &Self) {
        self.entries
            .retain(|d, _| other.entries.contains_key(d) || !other.context.contains(d));
        for (d, v) in &other.entries {
            match self.entries.get_mut(d) {
                Some(mine) if *mine < *v => *mine = v.clone(),
                Some(_) => {}
                None if !self.context.contains(d) => {
                    self.entries.insert(*d, v.clone());
                }
                None => {}
            }
        }
        self.context.extend(other.context.iter().copied());
    }
}
