//! Rendezvous (highest random weight) hashing (Thaler and Ravishankar 1998), weighted by the
//! logarithmic method (Schindelhauer and Schomaker 2005).

use super::hash::{key_hash, mix, node_hash};
use super::{pick_replicas, Member, NodeId, Placement};
use std::collections::BTreeMap;

/// Each node scores every key; the highest score owns it. Adding a node moves only the keys it
/// now wins; removing one moves only its keys. Lookups cost one score per node.
#[derive(Debug, Clone)]
pub struct Rendezvous {
    nodes: Vec<(NodeId, u64, f64)>,
    zones: BTreeMap<NodeId, Option<String>>,
}

impl Rendezvous {
    /// Rendezvous hashing over `members`.
    pub fn new(members: &[Member]) -> Rendezvous {
        Rendezvous {
            nodes: members
                .iter()
                .map(|m| (m.id, node_hash(m.id, 0, 1), f64::from(m.weight.max(1))))
                .collect(),
            zones: members.iter().map(|m| (m.id, m.zone.clone())).collect(),
        }
    }

    fn score(hash: u64, seed: u64, weight: f64) -> f64 {
        // Uniform in (0, 1), then -w / ln(u): the weighted HRW score.
        let u = ((mix(hash, seed) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        -weight / u.ln()
    }

    fn ranked(&self, key: &[u8]) -> Vec<NodeId> {
        let hash = key_hash(key);
        let mut scored: Vec<(f64, NodeId)> = self
            .nodes
            .iter()
            .map(|(id, seed, w)| (Self::score(hash, *seed, *w), *id))
            .collect();
        scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(_, id)| id).collect()
    }
}

impl Placement for Rendezvous {
    fn name(&self) -> String {
        "rendezvous (HRW)".into()
    }

    fn locate(&self, key: &[u8]) -> NodeId {
        let hash = key_hash(key);
        let mut best = (f64::NEG_INFINITY, 0);
        for (id, seed, w) in &self.nodes {
            let s = Self::score(hash, *seed, *w);
            if s > best.0 || (s == best.0 && *id < best.1) {
                best = (s, *id);
            }
        }
        best.1
    }

    fn replicas(&self, key: &[u8], count: usize) -> Vec<NodeId> {
        pick_replicas(
            self.ranked(key).into_iter(),
            count,
            &self.zones,
            self.nodes.len(),
        )
    }

    fn memory_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<(NodeId, u64, f64)>()
    }
}
