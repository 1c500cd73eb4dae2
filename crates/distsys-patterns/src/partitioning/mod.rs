//! Data placement: which node owns a key, and which nodes hold its replicas.
//!
//! Hash-based schemes share one trait, [`Placement`], so the advisor and the benchmarks can swap
//! them: a consistent-hashing [`Ring`] with virtual nodes and weights, [`BoundedLoad`]
//! consistent hashing (Mirrokni, Thorup, Zadimoghaddam 2018), [`Rendezvous`] (highest random
//! weight) hashing, [`Jump`] consistent hashing (Lamping and Veach 2014) and [`Maglev`] hashing
//! (Eisenbud et al. 2016). Ordered keys use [`range::RangeMap`] (split by size and by load,
//! merge, rebalance); explicit placement uses [`directory`]; skewed workloads draw keys by
//! [`Zipf`] rank.
//!
//! Every hash is XXH3 (the `xxhash-rust` crate) over fixed little-endian encodings, so a
//! placement is identical across runs, platforms and versions of this crate.

mod bounded;
pub mod directory;
pub mod evidence;
mod hash;
mod jump;
mod maglev;
pub mod range;
mod rendezvous;
mod ring;
mod zipf;

pub use bounded::BoundedLoad;
pub use hash::{key_hash, mix};
pub use jump::Jump;
pub use maglev::Maglev;
pub use rendezvous::Rendezvous;
pub use ring::Ring;
pub use zipf::Zipf;

use std::collections::{BTreeMap, BTreeSet};

/// A node's identity (the one definition, in distsys-types).
pub use distsys_types::NodeId;

/// A node taking part in placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its identity.
    pub id: NodeId,
    /// Relative capacity (1 = a standard node); schemes without weights ignore it.
    pub weight: u32,
    /// Failure domain (region or zone); replicas prefer distinct zones.
    pub zone: Option<String>,
}

impl Member {
    /// A standard node with no zone.
    pub fn new(id: NodeId) -> Member {
        Member {
            id,
            weight: 1,
            zone: None,
        }
    }
}

/// A hash-based placement scheme.
pub trait Placement {
    /// The scheme's name in reports.
    fn name(&self) -> String;
    /// The node that owns `key`.
    fn locate(&self, key: &[u8]) -> NodeId;
    /// `count` distinct nodes for `key`'s replicas, the owner first, in distinct zones while
    /// zones remain (fewer when the cluster has fewer nodes).
    fn replicas(&self, key: &[u8], count: usize) -> Vec<NodeId>;
    /// Approximate bytes of lookup state.
    fn memory_bytes(&self) -> usize;
}

/// Picks up to `count` distinct nodes from `candidates` (in preference order): first one per
/// zone not used yet, then any remaining node. The one rule every scheme's replica placement
/// uses.
pub(crate) fn pick_replicas(
    candidates: impl Iterator<Item = NodeId>,
    count: usize,
    zones: &BTreeMap<NodeId, Option<String>>,
    total_nodes: usize,
) -> Vec<NodeId> {
    let want = count.min(total_nodes);
    let zone_count = zones
        .values()
        .flatten()
        .collect::<BTreeSet<_>>()
        .len()
        .max(1);
    let mut chosen: Vec<NodeId> = Vec::with_capacity(want);
    let mut used_zones: BTreeSet<Option<&String>> = BTreeSet::new();
    let mut skipped: Vec<NodeId> = Vec::new();
    for node in candidates {
        if chosen.len() == want {
            break;
        }
        if chosen.contains(&node) || skipped.contains(&node) {
            continue;
        }
        let zone = zones.get(&node).and_then(|z| z.as_ref());
        let zone_is_new = zone.is_none() || !used_zones.contains(&zone);
        if zone_is_new || used_zones.len() >= zone_count {
            used_zones.insert(zone);
            chosen.push(node);
        } else {
            skipped.push(node);
        }
        if chosen.len() + skipped.len() >= total_nodes {
            break;
        }
    }
    // Zones exhausted: fill with the best nodes passed over, in preference order.
    for node in skipped {
        if chosen.len() == want {
            break;
        }
        chosen.push(node);
    }
    chosen
}

/// Keys at or before `key`, for the ordered maps of range and directory partitioning.
pub(crate) fn up_to(key: &[u8]) -> (std::ops::Bound<&[u8]>, std::ops::Bound<&[u8]>) {
    (std::ops::Bound::Unbounded, std::ops::Bound::Included(key))
}

#[cfg(test)]
mod tests;
