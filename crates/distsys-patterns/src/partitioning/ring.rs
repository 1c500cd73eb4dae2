//! Consistent hashing ring with virtual nodes and weights (Karger et al. 1997).

use super::hash::{key_hash, node_hash};
use super::{pick_replicas, Member, NodeId, Placement};
use std::collections::BTreeMap;

/// A ring of `vnodes x weight` points per node; a key belongs to the first point clockwise
/// from its hash. Adding a node moves only keys to it; removing one moves only its keys.
#[derive(Debug, Clone)]
pub struct Ring {
    vnodes: u32,
    points: Vec<(u64, NodeId)>,
    zones: BTreeMap<NodeId, Option<String>>,
}

impl Ring {
    /// A ring of `members` with `vnodes` points per unit of weight (the seed's default: 100).
    pub fn new(members: &[Member], vnodes: u32) -> Ring {
        let mut ring = Ring {
            vnodes: vnodes.max(1),
            points: Vec::new(),
            zones: BTreeMap::new(),
        };
        for m in members {
            ring.insert_points(m);
        }
        ring.points.sort_unstable();
        ring
    }

    /// Adds a node (its points join the ring).
    pub fn add(&mut self, member: &Member) {
        self.insert_points(member);
        self.points.sort_unstable();
    }

    /// Appends a new node's points (the caller sorts).
    fn insert_points(&mut self, member: &Member) {
        if self.zones.contains_key(&member.id) {
            return;
        }
        self.zones.insert(member.id, member.zone.clone());
        let count = u64::from(self.vnodes) * u64::from(member.weight.max(1));
        self.points
            .extend((0..count).map(|i| (node_hash(member.id, i, 0), member.id)));
    }

    /// Removes a node and its points.
    pub fn remove(&mut self, node: NodeId) {
        self.zones.remove(&node);
        self.points.retain(|(_, n)| *n != node);
    }

    /// Number of physical nodes.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Whether the ring has no node.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// Index of the first point at or after `hash` (wrapping).
    pub(crate) fn first_point(&self, hash: u64) -> usize {
        let i = self.points.partition_point(|(h, _)| *h < hash);
        if i == self.points.len() {
            0
        } else {
            i
        }
    }

    /// The points, sorted by hash.
    pub(crate) fn points(&self) -> &[(u64, NodeId)] {
        &self.points
    }

    /// The nodes met walking clockwise from `hash` (each point once, with repeats of nodes).
    pub(crate) fn walk(&self, hash: u64) -> impl Iterator<Item = NodeId> + '_ {
        let start = self.first_point(hash);
        let n = self.points.len();
        (0..n).map(move |i| self.points[(start + i) % n].1)
    }
}

impl Placement for Ring {
    fn name(&self) -> String {
        format!("ring ({} vnodes)", self.vnodes)
    }

    fn locate(&self, key: &[u8]) -> NodeId {
        debug_assert!(!self.points.is_empty(), "a ring needs a node");
        self.points[self.first_point(key_hash(key))].1
    }

    fn replicas(&self, key: &[u8], count: usize) -> Vec<NodeId> {
        pick_replicas(self.walk(key_hash(key)), count, &self.zones, self.len())
    }

    fn memory_bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<(u64, NodeId)>()
    }
}
