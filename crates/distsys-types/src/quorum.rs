//! Quorum systems: which sets of nodes may decide, and what any two of those sets share.
//!
//! Every threshold a protocol uses comes from here, so a protocol is correct at every cluster
//! size it accepts, not only at the sizes its tests chose:
//! - **crash majority** over n nodes: `q = floor(n/2) + 1`. `2q > n`, so any two quorums share
//!   at least one node; `n - q = (n-1)/2` nodes may crash and a quorum is left.
//! - **byzantine** over n nodes of which up to f lie: `q = floor((n+f)/2) + 1` (= `2f + 1` at
//!   `n = 3f + 1`). Any two quorums share at least `2q - n >= f + 1` nodes, so at least one
//!   honest node; `n - f >= q` (the honest nodes alone form a quorum) exactly when
//!   `n >= 3f + 1`. Certificates that must contain one honest node ("vouched") need `f + 1`.
//! - **joint** (two voter sets during a membership change): a set is a quorum when it holds a
//!   majority of each voter set; two joint quorums share a node of each set.

use crate::NodeId;
use std::collections::BTreeSet;
use std::fmt;

/// The faults a quorum system is built to survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultModel {
    /// Nodes stop (and may restart from what they persisted); they never lie.
    Crash,
    /// Up to `f` nodes may behave arbitrarily (lie, equivocate, collude).
    Byzantine,
}

/// Why a quorum system cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumError {
    /// A byzantine system of `nodes` cannot tolerate `faults` liars: it needs `3f + 1` nodes.
    TooFewForByzantine {
        /// Nodes in the group.
        nodes: usize,
        /// Byzantine faults asked for.
        faults: usize,
    },
}

impl fmt::Display for QuorumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuorumError::TooFewForByzantine { nodes, faults } => write!(
                f,
                "{faults} byzantine fault(s) need at least 3f+1 = {} nodes, got {nodes}",
                QuorumSystem::min_nodes(FaultModel::Byzantine, *faults)
            ),
        }
    }
}

impl std::error::Error for QuorumError {}

/// A threshold quorum system over `nodes` nodes, tolerating `faults` faults of one model.
///
/// Guarantees (property-tested): any two quorums share at least [`QuorumSystem::min_overlap`]
/// nodes, which is `>= 1` for crash faults and `>= faults + 1` for byzantine faults; a quorum of
/// non-faulty nodes exists while at most `faults` nodes are faulty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuorumSystem {
    nodes: usize,
    faults: usize,
    model: FaultModel,
}

impl QuorumSystem {
    /// Strict majorities of `nodes` nodes, tolerating `(nodes - 1) / 2` crashes. With no nodes
    /// the quorum (1) is unreachable, so nothing can ever be decided.
    pub const fn crash(nodes: usize) -> QuorumSystem {
        QuorumSystem {
            nodes,
            faults: nodes.saturating_sub(1) / 2,
            model: FaultModel::Crash,
        }
    }

    /// Byzantine quorums of `nodes` nodes tolerating `faults` liars; refused unless
    /// `nodes >= 3 * faults + 1`.
    pub fn byzantine(nodes: usize, faults: usize) -> Result<QuorumSystem, QuorumError> {
        if nodes < Self::min_nodes(FaultModel::Byzantine, faults) {
            return Err(QuorumError::TooFewForByzantine { nodes, faults });
        }
        Ok(QuorumSystem {
            nodes,
            faults,
            model: FaultModel::Byzantine,
        })
    }

    /// Byzantine quorums of `nodes` nodes tolerating as many liars as they can:
    /// `f = (nodes - 1) / 3`.
    pub const fn byzantine_max(nodes: usize) -> QuorumSystem {
        QuorumSystem {
            nodes,
            faults: Self::max_byzantine_faults(nodes),
            model: FaultModel::Byzantine,
        }
    }

    /// The most byzantine faults `nodes` nodes can tolerate: `(nodes - 1) / 3`.
    pub const fn max_byzantine_faults(nodes: usize) -> usize {
        nodes.saturating_sub(1) / 3
    }

    /// The most crash faults `nodes` nodes can tolerate: `(nodes - 1) / 2`.
    pub const fn max_crash_faults(nodes: usize) -> usize {
        nodes.saturating_sub(1) / 2
    }

    /// The fewest nodes that tolerate `faults` faults of `model`: `2f + 1` (crash) or `3f + 1`
    /// (byzantine), saturating. The inverse of [`QuorumSystem::max_crash_faults`] and
    /// [`QuorumSystem::max_byzantine_faults`]: `max_*_faults(min_nodes(f)) == f`.
    pub const fn min_nodes(model: FaultModel, faults: usize) -> usize {
        let per_fault = match model {
            FaultModel::Crash => 2,
            FaultModel::Byzantine => 3,
        };
        faults.saturating_mul(per_fault).saturating_add(1)
    }

    /// The fewest nodes any two sets of `quorum` nodes out of `nodes` share: `2q - n` (0 when
    /// they need not meet). For a system's own quorum size see [`QuorumSystem::min_overlap`].
    pub const fn overlap(nodes: usize, quorum: usize) -> usize {
        quorum.saturating_mul(2).saturating_sub(nodes)
    }

    /// Nodes in the group.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Faults tolerated: crashes for [`FaultModel::Crash`], liars for [`FaultModel::Byzantine`].
    pub fn faults(&self) -> usize {
        self.faults
    }

    /// The fault model.
    pub fn model(&self) -> FaultModel {
        self.model
    }

    /// The size of a quorum: `floor(n/2) + 1` (crash) or `floor((n+f)/2) + 1` (byzantine).
    pub fn quorum(&self) -> usize {
        match self.model {
            FaultModel::Crash => self.nodes / 2 + 1,
            FaultModel::Byzantine => (self.nodes + self.faults) / 2 + 1,
        }
    }

    /// Whether `count` distinct nodes form a quorum.
    pub fn is_quorum(&self, count: usize) -> bool {
        count >= self.quorum()
    }

    /// The fewest distinct nodes whose common statement must come from at least one node that
    /// tells the truth: `f + 1` for byzantine faults, 1 for crash faults.
    pub fn vouch(&self) -> usize {
        match self.model {
            FaultModel::Crash => 1,
            FaultModel::Byzantine => self.faults + 1,
        }
    }

    /// Whether `count` distinct nodes vouch for a statement (see [`QuorumSystem::vouch`]).
    pub fn is_vouched(&self, count: usize) -> bool {
        count >= self.vouch()
    }

    /// The fewest nodes any two quorums share: `2q - n`.
    pub fn min_overlap(&self) -> usize {
        Self::overlap(self.nodes, self.quorum())
    }

    /// Whether a quorum is left when `down` nodes are unreachable.
    pub fn survives(&self, down: usize) -> bool {
        self.nodes.saturating_sub(down) >= self.quorum()
    }

    /// The largest `v` such that at least a quorum of `values` (one per node) is `>= v`; 0 when
    /// fewer values than a quorum are given. Reorders `values`.
    pub fn reached(&self, values: &mut [u64]) -> u64 {
        debug_assert!(values.len() <= self.nodes, "more values than nodes");
        let q = self.quorum();
        if values.len() < q {
            return 0;
        }
        *values.select_nth_unstable_by(q - 1, |a, b| b.cmp(a)).1
    }
}

/// The quorums of a voter set that may be in the middle of a membership change: a majority of
/// `incoming` and, while `outgoing` is not empty, a majority of `outgoing` as well.
///
/// Guarantees (property-tested): any two joint quorums share a node of `incoming` and a node of
/// `outgoing` (when it is not empty), so a decision made by one is seen by the other in both
/// configurations. An empty voter set constrains nothing.
#[derive(Debug, Clone, Copy)]
pub struct JointQuorum<'a> {
    incoming: &'a BTreeSet<NodeId>,
    outgoing: &'a BTreeSet<NodeId>,
}

impl<'a> JointQuorum<'a> {
    /// The joint quorums of `incoming` and `outgoing` (empty: not in a change).
    pub fn new(incoming: &'a BTreeSet<NodeId>, outgoing: &'a BTreeSet<NodeId>) -> Self {
        JointQuorum { incoming, outgoing }
    }

    /// Whether the nodes for which `member` holds form a quorum.
    pub fn is_quorum(&self, member: impl Fn(NodeId) -> bool) -> bool {
        self.reached(|id| u64::from(member(id))) >= 1
    }

    /// The largest `v` that a quorum has reached, given each voter's value: per voter set the
    /// largest `v` a majority of it reports at least, and the smaller of the two while joint.
    /// An empty set constrains nothing (`u64::MAX`).
    pub fn reached(&self, value: impl Fn(NodeId) -> u64) -> u64 {
        self.reached_by_set(|set| set.iter().map(|id| value(*id)).collect())
    }

    /// [`JointQuorum::reached`] with the values of a whole voter set at a time: `values_of`
    /// gives one value per voter of the set it is called with (in any order), and is called
    /// once per voter set. For callers that can list a set's values faster than per node.
    pub fn reached_by_set(&self, values_of: impl Fn(&BTreeSet<NodeId>) -> Vec<u64>) -> u64 {
        let incoming = Self::set_reached(values_of(self.incoming));
        if self.outgoing.is_empty() {
            return incoming;
        }
        incoming.min(Self::set_reached(values_of(self.outgoing)))
    }

    /// The largest `v` a majority of one voter set's `values` reaches (`u64::MAX` for an empty
    /// set: it constrains nothing).
    pub fn set_reached(mut values: Vec<u64>) -> u64 {
        if values.is_empty() {
            return u64::MAX;
        }
        QuorumSystem::crash(values.len()).reached(&mut values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Two quorums, as membership bitmaps, chosen adversarially small: exactly `q` nodes each.
    fn two_quorums(n: usize, q: usize, seed_a: u64, seed_b: u64) -> (Vec<bool>, Vec<bool>) {
        let pick = |mut seed: u64| {
            let mut order: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                order.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let mut member = vec![false; n];
            for &i in order.iter().take(q) {
                member[i] = true;
            }
            member
        };
        (pick(seed_a), pick(seed_b))
    }

    #[test]
    fn seed_sizes() {
        assert_eq!(QuorumSystem::crash(1).quorum(), 1);
        assert_eq!(QuorumSystem::crash(3).quorum(), 2);
        assert_eq!(QuorumSystem::crash(4).quorum(), 3);
        assert_eq!(QuorumSystem::crash(5).quorum(), 3);
        assert_eq!(QuorumSystem::byzantine_max(4).quorum(), 3);
        // n = 5, f = 1: 2f+1 = 3 would let two quorums meet in one (possibly lying) node.
        assert_eq!(QuorumSystem::byzantine_max(5).quorum(), 4);
        assert_eq!(QuorumSystem::byzantine_max(6).quorum(), 4);
        assert_eq!(QuorumSystem::byzantine_max(7).quorum(), 5);
        assert_eq!(QuorumSystem::byzantine_max(9).quorum(), 6);
        assert!(QuorumSystem::byzantine(6, 2).is_err());
    }

    #[test]
    fn byzantine_is_2f_plus_1_at_3f_plus_1() {
        for f in 0..60 {
            let q = QuorumSystem::byzantine(3 * f + 1, f).unwrap();
            assert_eq!(q.quorum(), 2 * f + 1);
            assert_eq!(q.vouch(), f + 1);
        }
    }

    #[test]
    fn every_size_intersects_and_survives_its_faults() {
        for n in 1..=200 {
            let crash = QuorumSystem::crash(n);
            assert!(crash.min_overlap() >= 1, "crash n={n}");
            assert!(crash.survives(crash.faults()), "crash n={n}");
            assert!(
                !crash.survives(crash.faults() + 1),
                "crash n={n}: f is the most"
            );
            for f in 0..=QuorumSystem::max_byzantine_faults(n) {
                let byz = QuorumSystem::byzantine(n, f).unwrap();
                assert!(byz.min_overlap() > f, "byzantine n={n} f={f}");
                assert!(
                    byz.survives(f),
                    "byzantine n={n} f={f}: honest nodes form a quorum"
                );
                assert!(byz.quorum() <= n);
            }
            let too_many = QuorumSystem::max_byzantine_faults(n) + 1;
            assert!(QuorumSystem::byzantine(n, too_many).is_err(), "n={n}");
        }
    }

    #[test]
    fn min_nodes_inverts_max_faults() {
        for f in 0..200 {
            let crash = QuorumSystem::min_nodes(FaultModel::Crash, f);
            let byzantine = QuorumSystem::min_nodes(FaultModel::Byzantine, f);
            assert_eq!(crash, 2 * f + 1);
            assert_eq!(byzantine, 3 * f + 1);
            assert_eq!(QuorumSystem::max_crash_faults(crash), f);
            assert_eq!(QuorumSystem::max_byzantine_faults(byzantine), f);
            // One node fewer no longer tolerates f.
            assert!(QuorumSystem::max_crash_faults(crash - 1) < f || f == 0);
            assert!(QuorumSystem::max_byzantine_faults(byzantine - 1) < f || f == 0);
        }
        assert_eq!(
            QuorumSystem::min_nodes(FaultModel::Byzantine, usize::MAX),
            usize::MAX
        );
    }

    #[test]
    fn reached_is_the_quorum_th_largest() {
        let q = QuorumSystem::crash(5);
        assert_eq!(q.reached(&mut [5, 1, 4, 2, 3]), 3);
        let b = QuorumSystem::byzantine_max(5);
        assert_eq!(b.reached(&mut [5, 1, 4, 2, 3]), 2);
        assert_eq!(b.reached(&mut [5, 1, 4]), 0);
    }

    proptest! {
        #[test]
        fn two_crash_quorums_share_a_node(n in 1usize..40, a: u64, b: u64) {
            let system = QuorumSystem::crash(n);
            let (x, y) = two_quorums(n, system.quorum(), a, b);
            let shared = (0..n).filter(|&i| x[i] && y[i]).count();
            prop_assert!(shared >= 1);
            prop_assert!(shared >= system.min_overlap());
        }

        #[test]
        fn two_byzantine_quorums_share_an_honest_node(
            n in 1usize..40, f_pick: usize, a: u64, b: u64, liars: u64
        ) {
            let f = f_pick % (QuorumSystem::max_byzantine_faults(n) + 1);
            let system = QuorumSystem::byzantine(n, f).unwrap();
            let (x, y) = two_quorums(n, system.quorum(), a, b);
            // Any f nodes lie: the adversary picks them among the shared ones first.
            let (lying, _) = two_quorums(n, f, liars, 0);
            let shared: Vec<usize> = (0..n).filter(|&i| x[i] && y[i]).collect();
            prop_assert!(shared.len() > f);
            let honest_shared = shared.iter().filter(|&&i| !lying[i]).count();
            prop_assert!(honest_shared >= 1);
        }

        #[test]
        fn two_joint_quorums_share_a_node_of_each_set(
            old in proptest::collection::btree_set(0u64..12, 1..8),
            new in proptest::collection::btree_set(0u64..12, 1..8),
            a in proptest::collection::btree_set(0u64..12, 0..12),
            b in proptest::collection::btree_set(0u64..12, 0..12),
        ) {
            let joint = JointQuorum::new(&new, &old);
            if joint.is_quorum(|id| a.contains(&id)) && joint.is_quorum(|id| b.contains(&id)) {
                prop_assert!(a.intersection(&b).any(|id| old.contains(id)));
                prop_assert!(a.intersection(&b).any(|id| new.contains(id)));
            }
            // Holding a majority of both sets is exactly what makes a joint quorum.
            let majority = |set: &BTreeSet<NodeId>, of: &BTreeSet<NodeId>| {
                2 * set.iter().filter(|id| of.contains(id)).count() > set.len()
            };
            prop_assert_eq!(
                joint.is_quorum(|id| a.contains(&id)),
                majority(&old, &a) && majority(&new, &a)
            );
        }
    }
}
