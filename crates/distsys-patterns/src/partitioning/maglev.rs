//! Maglev hashing (Eisenbud et al., NSDI 2016).

use super::hash::{key_hash, node_hash};
use super::{pick_replicas, Member, NodeId, Placement};
use std::collections::BTreeMap;

/// A lookup table of prime size `M` filled by each node's permutation in turn: near-perfect
/// balance, one table read per lookup, and little disruption when a node comes or goes. `M` is
/// fixed for a deployment (the paper's 65537, or a larger prime for more than 655 nodes, to keep
/// at least 100 entries per node): changing it moves every key.
#[derive(Debug, Clone)]
pub struct Maglev {
    table: Vec<NodeId>,
    zones: BTreeMap<NodeId, Option<String>>,
}

/// The smallest prime at least `n`.
fn prime_at_least(n: usize) -> usize {
    let is_prime = |p: usize| {
        p >= 2
            && (2..)
                .take_while(|d| d * d <= p)
                .all(|d| !p.is_multiple_of(d))
    };
    (n.max(2)..).find(|p| is_prime(*p)).unwrap_or(2)
}

/// Table sizes offered: primes about 10x apart, starting with the paper's.
const TABLE_SIZES: [usize; 3] = [65_537, 655_373, 6_553_577];

impl Maglev {
    /// The table size for a cluster of up to `nodes` (total weight): the smallest offered prime
    /// with at least 100 entries per node.
    pub fn table_size_for(nodes: usize) -> usize {
        TABLE_SIZES
            .into_iter()
            .find(|m| *m >= nodes * 100)
            .unwrap_or_else(|| prime_at_least(nodes * 100))
    }

    /// A Maglev table over `members` sized by [`Maglev::table_size_for`].
    pub fn new(members: &[Member]) -> Maglev {
        let total_weight: usize = members.iter().map(|m| m.weight.max(1) as usize).sum();
        Maglev::with_table_size(members, Maglev::table_size_for(total_weight))
    }

    /// A Maglev table of `size` entries (a prime larger than the node count; weights repeat a
    /// node's turns).
    pub fn with_table_size(members: &[Member], size: usize) -> Maglev {
        let size = prime_at_least(size.max(members.len() + 1));
        let mut table = vec![NodeId::MAX; size];
        let perms: Vec<(NodeId, usize, usize, usize)> = members
            .iter()
            .map(|m| {
                let offset = (node_hash(m.id, 0, 2) % size as u64) as usize;
                let skip = (node_hash(m.id, 0, 3) % (size as u64 - 1)) as usize + 1;
                (m.id, offset, skip, m.weight.max(1) as usize)
            })
            .collect();
        let mut next = vec![0usize; perms.len()];
        let mut filled = 0;
        'fill: loop {
            for (i, (id, offset, skip, weight)) in perms.iter().enumerate() {
                for _ in 0..*weight {
                    loop {
                        let slot = (offset + next[i] * skip) % size;
                        next[i] += 1;
                        if table[slot] == NodeId::MAX {
                            table[slot] = *id;
                            filled += 1;
                            break;
                        }
                    }
                    if filled == size {
                        break 'fill;
                    }
                }
            }
            if perms.is_empty() {
                break;
            }
        }
        Maglev {
            table,
            zones: members.iter().map(|m| (m.id, m.zone.clone())).collect(),
        }
    }
}

impl Placement for Maglev {
    fn name(&self) -> String {
        format!("maglev (M={})", self.table.len())
    }

    fn locate(&self, key: &[u8]) -> NodeId {
        self.table[(key_hash(key) % self.table.len() as u64) as usize]
    }

    fn replicas(&self, key: &[u8], count: usize) -> Vec<NodeId> {
        let m = self.table.len();
        let start = (key_hash(key) % m as u64) as usize;
        let walk = (0..m).map(|i| self.table[(start + i) % m]);
        pick_replicas(walk, count, &self.zones, self.zones.len())
    }

    fn memory_bytes(&self) -> usize {
        self.table.capacity() * std::mem::size_of::<NodeId>()
    }
}
