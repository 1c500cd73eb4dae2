//! Jump consistent hash (Lamping and Veach 2014).

use super::hash::key_hash;
use super::{NodeId, Placement};

/// Buckets `0..n` mapped to nodes in order; no lookup state beyond the node list. Growing from
/// `n` to `n + 1` buckets moves exactly the keys the new bucket takes (about 1/(n+1)); only the
/// last bucket can be removed without moving other keys, and weights are not supported.
#[derive(Debug, Clone)]
pub struct Jump {
    nodes: Vec<NodeId>,
}

impl Jump {
    /// Jump hashing over `nodes` (bucket i is `nodes[i]`).
    pub fn new(nodes: Vec<NodeId>) -> Jump {
        Jump { nodes }
    }

    /// The bucket of `hash` among `buckets` (the published algorithm).
    pub fn bucket(mut hash: u64, buckets: usize) -> usize {
        let (mut b, mut j): (i64, i64) = (-1, 0);
        while j < buckets as i64 {
            b = j;
            hash = hash.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
            j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((hash >> 33) + 1) as f64)) as i64;
        }
        b.max(0) as usize
    }
}

impl Placement for Jump {
    fn name(&self) -> String {
        "jump".into()
    }

    fn locate(&self, key: &[u8]) -> NodeId {
        self.nodes[Self::bucket(key_hash(key), self.nodes.len())]
    }

    fn replicas(&self, key: &[u8], count: usize) -> Vec<NodeId> {
        // The owner, then the next buckets in order (distinct by construction).
        let n = self.nodes.len();
        let first = Self::bucket(key_hash(key), n);
        (0..count.min(n))
            .map(|i| self.nodes[(first + i) % n])
            .collect()
    }

    fn memory_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<NodeId>()
    }
}
