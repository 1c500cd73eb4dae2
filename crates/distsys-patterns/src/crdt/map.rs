//! Maps.

use super::set::ORSet;
use super::{Crdt, ReplicaId};
use std::collections::BTreeMap;

/// A map whose keys are an observed-remove set and whose values are CRDTs merged per key.
/// A removed key's value is kept hidden and merged on, so a key re-added later shows every
/// update it ever received (the simple, join-preserving choice; values are not reset).
#[derive(Debug, Clone, PartialEq)]
pub struct ORMap<K: Ord, V> {
    keys: ORSet<K>,
    values: BTreeMap<K, V>,
}

impl<K: Ord, V> Default for ORMap<K, V> {
    fn default() -> Self {
        ORMap {
            keys: ORSet::default(),
            values: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone + std::fmt::Debug, V: Crdt + Default> ORMap<K, V> {
    /// Applies `update` to the value at `key` (adding the key) at `replica`; `update` returns
    /// the value's delta. Returns the map's delta.
    pub fn update(
        &mut self,
        replica: ReplicaId,
        key: K,
        update: impl FnOnce(&mut V) -> V,
    ) -> ORMap<K, V> {
        let keys = self.keys.add(replica, key.clone());
        let value_delta = update(self.values.entry(key.clone()).or_default());
        ORMap {
            keys,
            values: BTreeMap::from([(key, value_delta)]),
        }
    }

    /// Removes `key` (the adds of it seen here); returns the delta.
    pub fn remove(&mut self, key: &K) -> ORMap<K, V> {
        ORMap {
            keys: self.keys.remove(key),
            values: BTreeMap::new(),
        }
    }

    /// The value at `key`, if the key is present.
    pub fn get(&self, key: &K) -> Option<&V> {
        if self.keys.contains(key) {
            self.values.get(key)
        } else {
            None
        }
    }

    /// The present keys.
    pub fn keys(&self) -> Vec<K> {
        self.keys.items().into_iter().collect()
    }
}

impl<K: Ord + Clone + std::fmt::Debug, V: Crdt + Default> Crdt for ORMap<K, V> {
    fn merge(&mut self, other: &Self) {
        self.keys.merge(&other.keys);
        for (k, v) in &other.values {
            self.values.entry(k.clone()).or_default().merge(v);
        }
    }
}
