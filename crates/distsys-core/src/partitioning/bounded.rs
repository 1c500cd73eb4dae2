//! Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, SODA 2018).

use super::hash::key_hash;
use super::{Member, NodeId, Placement, Ring};
use std::collections::BTreeMap;

/// A ring where no node takes more than `ceil((1 + epsilon) x mean)` keys: a key walks
/// clockwise from its hash to the first node under the cap. Placement depends on the keys
/// already assigned, so keys are [`BoundedLoad::assign`]ed (and released) explicitly;
/// [`Placement::locate`] answers where a new key would go now.
#[derive(Debug, Clone)]
pub struct BoundedLoad {
    ring: Ring,
    epsilon: f64,
    load: BTreeMap<NodeId, u64>,
    assigned: u64,
}

impl BoundedLoad {
    /// A bounded-load ring of `members` with `vnodes` per unit of weight and the cap
    /// `(1 + epsilon) x mean`.
    pub fn new(members: &[Member], vnodes: u32, epsilon: f64) -> BoundedLoad {
        BoundedLoad {
            ring: Ring::new(members, vnodes),
            epsilon: epsilon.max(0.0),
            load: members.iter().map(|m| (m.id, 0)).collect(),
            assigned: 0,
        }
    }

    /// The most keys any node may hold once one more key is assigned.
    pub fn cap(&self) -> u64 {
        let nodes = self.load.len().max(1) as f64;
        (((self.assigned + 1) as f64 / nodes) * (1.0 + self.epsilon)).ceil() as u64
    }

    /// Assigns a key to its node and counts it there.
    pub fn assign(&mut self, key: &[u8]) -> NodeId {
        let node = self.locate(key);
        *self.load.entry(node).or_default() += 1;
        self.assigned += 1;
        node
    }

    /// Forgets one key held by `node`.
    pub fn release(&mut self, node: NodeId) {
        if let Some(l) = self.load.get_mut(&node) {
            if *l > 0 {
                *l -= 1;
                self.assigned -= 1;
            }
        }
    }

    /// Keys held per node.
    pub fn loads(&self) -> &BTreeMap<NodeId, u64> {
        &self.load
    }
}

impl Placement for BoundedLoad {
    fn name(&self) -> String {
        format!("bounded-load (eps {})", self.epsilon)
    }

    fn locate(&self, key: &[u8]) -> NodeId {
        let cap = self.cap();
        let mut first = None;
        for node in self.ring.walk(key_hash(key)) {
            first.get_or_insert(node);
            if self.load.get(&node).copied().unwrap_or(0) < cap {
                return node;
            }
        }
        first.expect("a ring needs a node")
    }

    fn replicas(&self, key: &[u8], count: usize) -> Vec<NodeId> {
        let owner = self.locate(key);
        let mut out = vec![owner];
        out.extend(
            self.ring
                .replicas(key, count + 1)
                .into_iter()
                .filter(|n| *n != owner),
        );
        out.truncate(count.min(self.ring.len()));
        out
    }

    fn memory_bytes(&self) -> usize {
        self.ring.memory_bytes() + self.load.len() * 16
    }
}
