//! Cluster membership and the one quorum rule every decision uses.
//!
//! A membership is a set of voters, and while a change is in progress (joint consensus, Raft
//! dissertation section 4.3) also the *outgoing* voters: every decision (commit, election,
//! check-quorum, read confirmation) then needs a majority of both sets. Learners receive the log
//! but never count. A membership takes effect on a node as soon as the entry carrying it is in
//! that node's log, not when it commits (known-bugs #6).

use distsys_types::JointQuorum;
use distsys_types::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Who votes and who only listens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Membership {
    /// The voters (in a joint membership: the incoming voters).
    pub voters: BTreeSet<NodeId>,
    /// The outgoing voters while a change is in progress; empty otherwise.
    pub outgoing: BTreeSet<NodeId>,
    /// Nodes that receive the log but do not vote.
    pub learners: BTreeSet<NodeId>,
}

impl Membership {
    /// A membership of `voters` only.
    pub fn new(voters: impl IntoIterator<Item = NodeId>) -> Membership {
        Membership {
            voters: voters.into_iter().collect(),
            ..Membership::default()
        }
    }

    /// Whether a change is in progress (two voter sets must agree).
    pub fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Whether `id` votes (in either voter set).
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.outgoing.contains(&id)
    }

    /// Every voter, in either set, once.
    pub fn all_voters(&self) -> BTreeSet<NodeId> {
        self.voters.union(&self.outgoing).copied().collect()
    }

    /// Every node that should receive the log: voters of both sets and learners.
    pub fn members(&self) -> BTreeSet<NodeId> {
        let mut all = self.all_voters();
        all.extend(self.learners.iter().copied());
        all
    }

    /// The largest value a quorum has reached: for each voter set, the highest `v` such that a
    /// majority of the set reports at least `v`; the smaller of the two while joint. An empty
    /// set constrains nothing (`u64::MAX`).
    ///
    /// Commit index: `value` = matched index. Election: 1 for a granted vote. Check-quorum: 1
    /// for a voter heard from recently. One rule for every decision keeps joint consensus
    /// correct everywhere at once.
    pub fn quorum_value(&self, value: impl Fn(NodeId) -> u64) -> u64 {
        JointQuorum::new(&self.voters, &self.outgoing).reached(value)
    }

    /// [`Membership::quorum_value`] for values given as `(node, value)` pairs sorted by node
    /// (nodes absent count `absent`): a merge in linear time, for the per-message decisions
    /// of large clusters. `values` is called once per voter set.
    pub fn quorum_value_sorted<I>(&self, absent: u64, values: impl Fn() -> I) -> u64
    where
        I: Iterator<Item = (NodeId, u64)>,
    {
        let of = |set: &BTreeSet<NodeId>| {
            let mut out = Vec::with_capacity(set.len());
            let mut pairs = values().peekable();
            for id in set {
                while pairs.next_if(|(node, _)| node < id).is_some() {}
                out.push(match pairs.peek() {
                    Some((node, value)) if node == id => *value,
                    _ => absent,
                });
            }
            out
        };
        JointQuorum::new(&self.voters, &self.outgoing).reached_by_set(of)
    }

    /// The outcome of a vote: `Some(true)` when a quorum granted, `Some(false)` when a quorum
    /// can no longer be reached, `None` while undecided. `votes` holds the answers received.
    pub fn vote_result(&self, votes: &BTreeMap<NodeId, bool>) -> Option<bool> {
        // Answers received count 1 if granted; a voter yet to answer counts 0 towards winning
        // and 1 towards "could still win".
        let answers = || votes.iter().map(|(id, granted)| (*id, u64::from(*granted)));
        if self.quorum_value_sorted(0, answers) >= 1 {
            Some(true)
        } else if self.quorum_value_sorted(1, answers) == 0 {
            Some(false)
        } else {
            None
        }
    }

    /// The membership that results from moving to `voters` and `learners`: joint (with the
    /// current voters outgoing) when the voter set changes, direct otherwise (learners never
    /// affect a quorum).
    pub fn change_to(&self, voters: BTreeSet<NodeId>, learners: BTreeSet<NodeId>) -> Membership {
        let outgoing = if voters == self.voters {
            BTreeSet::new()
        } else {
            self.voters.clone()
        };
        Membership {
            learners: learners.difference(&voters).copied().collect(),
            voters,
            outgoing,
        }
    }

    /// The membership that ends a joint change: the incoming voters alone.
    pub fn leave_joint(&self) -> Membership {
        Membership {
            voters: self.voters.clone(),
            outgoing: BTreeSet::new(),
            learners: self.learners.clone(),
        }
    }

    /// A stable encoding for the log's chain hash.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, set) in [
            (1u8, &self.voters),
            (2, &self.outgoing),
            (3, &self.learners),
        ] {
            out.push(tag);
            out.extend((set.len() as u64).to_le_bytes());
            for id in set {
                out.extend(id.to_le_bytes());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn majority_of_one_set() {
        let m = Membership::new([1, 2, 3]);
        let matched = |id| [0, 5, 3, 1][id as usize];
        assert_eq!(m.quorum_value(matched), 3);
        let m = Membership::new([1, 2, 3, 4, 5]);
        let matched = |id| [0, 9, 9, 1, 1, 1][id as usize];
        assert_eq!(m.quorum_value(matched), 1);
        let pairs = || [(2, 9), (3, 9), (5, 1)].into_iter();
        assert_eq!(
            m.quorum_value_sorted(0, pairs),
            1,
            "absent node 1 and 4 count 0"
        );
        let pairs = || [(1, 9), (2, 9), (3, 9), (4, 1), (9, 9)].into_iter();
        assert_eq!(
            m.quorum_value_sorted(0, pairs),
            9,
            "non-members are ignored"
        );
        let joint = m.change_to([7, 8, 9].into_iter().collect(), BTreeSet::new());
        assert_eq!(
            joint.quorum_value_sorted(0, pairs),
            0,
            "only one of the incoming 7, 8, 9 reports anything"
        );
    }

    #[test]
    fn joint_needs_both_majorities() {
        let m = Membership::new([1, 2, 3]).change_to(set(&[3, 4, 5]), BTreeSet::new());
        assert!(m.is_joint());
        assert_eq!(m.outgoing, set(&[1, 2, 3]));
        // 1, 2 and 3 granted: a majority of the old set but only one of the new.
        let votes = |granted: &[NodeId], refused: &[NodeId]| -> BTreeMap<NodeId, bool> {
            let yes = granted.iter().map(|id| (*id, true));
            yes.chain(refused.iter().map(|id| (*id, false))).collect()
        };
        assert_eq!(m.vote_result(&votes(&[1, 2, 3], &[])), None);
        assert_eq!(m.vote_result(&votes(&[1, 2, 3, 4], &[])), Some(true));
        assert_eq!(m.vote_result(&votes(&[1, 2, 3], &[4, 5])), Some(false));
        assert_eq!(
            m.vote_result(&votes(&[], &[1, 2])),
            Some(false),
            "old set lost"
        );
        assert_eq!(m.vote_result(&votes(&[], &[1, 4])), None);
        assert_eq!(m.leave_joint(), Membership::new([3, 4, 5]));
    }

    #[test]
    fn learner_changes_are_not_joint_and_learners_do_not_count() {
        let m = Membership::new([1, 2, 3]).change_to(set(&[1, 2, 3]), set(&[4]));
        assert!(!m.is_joint());
        assert!(!m.is_voter(4));
        assert_eq!(m.members(), set(&[1, 2, 3, 4]));
        assert_eq!(m.quorum_value(|id| u64::from(id == 4)), 0);
    }

    #[test]
    fn encoding_distinguishes_the_sets() {
        let a = Membership::new([1, 2]);
        let b = Membership::new([1]).change_to(set(&[1]), set(&[2]));
        assert_ne!(a.encode(), b.encode());
    }
}
