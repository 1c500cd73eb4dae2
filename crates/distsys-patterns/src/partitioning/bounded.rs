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
    /// Each ring point's node as a dense index into `nodes` and `load` (the walk touches only
    /// these two arrays).
    point_node: Vec<u32>,
    nodes: Vec<NodeId>,
    load: Vec<u64>,
    assigned: u64,
}

impl BoundedLoad {
    /// A bounded-load ring of `members` with `vnodes` per unit of weight and the cap
    /// `(1 + epsilon) x mean`.
    pub fn new(members: &[Member], vnodes: u32, epsilon: f64) -> BoundedLoad {
        let ring = Ring::new(members, vnodes);
        let nodes: Vec<NodeId> = {
            let mut ids: Vec<NodeId> = members.iter().map(|m| m.id).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let index: BTreeMap<NodeId, u32> = nodes
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as u32))
            .collect();
        let point_node = ring.points().iter().map(|(_, id)| index[id]).collect();
        BoundedLoad {
            ring,
            epsilon: epsilon.max(0.0),
            point_node,
            load: vec![0; nodes.len()],
            nodes,
            assigned: 0,
        }
    }

    /// The most keys any node may hold once one more key is assigned.
    pub fn cap(&self) -> u64 {
        let nodes = self.nodes.len().max(1) as f64;
        (((self.assigned + 1) as f64 / nodes) * (1.0 + self.epsilon)).ceil() as u64
    }

    /// Dense index of the node that takes `key` now.
    fn pick(&self, key: &[u8]) -> usize {
        let cap = self.cap();
        let start = self.ring.first_point(key_hash(key));
        let points = self.point_node.len();
        (0..points)
            .map(|i| self.point_node[(start + i) % points] as usize)
            .find(|n| self.load[*n] < cap)
            .unwrap_or(self.point_node[start] as usize)
    }

    /// Assigns a key to its node and counts it there.
    pub fn assign(&mut self, key: &[u8]) -> NodeId {
        let n = self.pick(key);
        self.load[n] += 1;
        self.assigned += 1;
        self.nodes[n]
    }

    /// Forgets one key held by `node`.
    pub fn release(&mut self, node: NodeId) {
        if let Ok(n) = self.nodes.binary_search(&node) {
            if self.load[n] > 0 {
                self.load[n] -= 1;
                self.assigned -= 1;
            }
        }
    }

    /// Keys held per node.
    pub fn loads(&self) -> BTreeMap<NodeId, u64> {
        self.nodes
            .iter()
            .copied()
            .zip(self.load.iter().copied())
            .collect()
    }
}

impl Placement for BoundedLoad {
    fn name(&self) -> String {
        format!("bounded-load (eps {})", self.epsilon)
    }

    fn locate(&self, key: &[u8]) -> NodeId {
        self.nodes[self.pick(key)]
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
        self.ring.memory_bytes() + self.point_node.len() * 4 + self.nodes.len() * 16
    }
}
