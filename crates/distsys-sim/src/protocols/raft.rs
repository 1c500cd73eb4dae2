//! Raft in the simulator: the five Raft safety properties over every node, pre-vote, lease
//! reads, batching, membership changes, torn appends.

use crate::protocol::{BuildParams, NoAdversary, Simulated};
use crate::registry::{Descriptor, FaultModel, SeededBug};
use crate::sim::Simulation;
use distsys_consensus::raft::{Config, Raft};
use distsys_consensus::replica::Replica;
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::{Index, Membership, Message, Mutant, NodeId, PersistOp};
use std::collections::BTreeSet;
use std::ops::RangeInclusive;

/// Raft's entry in the registry.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "raft",
    title: "Raft",
    aliases: &[],
    advice_markers: &[],
    bugs,
    lease_read: true,
    pipelined_writes: true,
    max_entries_per_msg: true,
    fault_model: FaultModel::Crash,
    min_nodes: 1,
    bench_sizes: &[3, 5, 7, 10],
    safety: &[
        "election_safety",
        "log_matching",
        "leader_completeness",
        "leader_append_only",
        "state_machine_safety",
        "linearizability",
    ],
    start: Simulation::of::<Raft>,
};

/// The seeded bugs a campaign catches (not the scenario-only ones).
fn bugs() -> Vec<SeededBug> {
    let mut bugs = SeededBug::all(&Mutant::ALL, Mutant::name, Mutant::description);
    for (bug, mutant) in bugs.iter_mut().zip(Mutant::ALL) {
        bug.needs_pipelined_writes = mutant.needs_pipelined_persistence();
    }
    bugs
}

impl Simulated for Raft {
    type Adversary = NoAdversary;

    fn build(
        id: NodeId,
        nodes: Vec<NodeId>,
        params: &BuildParams,
        persisted: &Self::Persisted,
        seed: u64,
        now: u64,
    ) -> Raft {
        let mut config = Config::new(id, nodes);
        (
            config.election_timeout_min_us,
            config.election_timeout_max_us,
        ) = params.election_timeout_us;
        config.heartbeat_us = params.heartbeat_us;
        config.mutant = params
            .mutant
            .and_then(|name| Mutant::ALL.into_iter().find(|m| m.name() == name));
        debug_assert_eq!(config.mutant.map(Mutant::name), params.mutant);
        config.max_entries_per_msg = params.max_entries_per_msg;
        config.lease_read = params.lease_read;
        config.async_persist = params.pipelined_writes;
        Raft::new(config, persisted, seed, now)
    }
    fn is_vote_grant(message: &Message) -> bool {
        matches!(
            message,
            Message::RequestVoteResponse {
                granted: true,
                pre_vote: false,
                ..
            }
        )
    }
    fn appended(op: &PersistOp) -> RangeInclusive<Index> {
        // Appends are contiguous: first to last entry.
        match op {
            PersistOp::Append(entries) => match (entries.first(), entries.last()) {
                (Some(first), Some(last)) => first.index..=last.index,
                _ => RangeInclusive::new(1, 0),
            },
            _ => RangeInclusive::new(1, 0),
        }
    }
    fn torn(op: &PersistOp, kept: usize) -> Option<PersistOp> {
        match op {
            PersistOp::Append(entries) => Some(PersistOp::Append(entries[..kept].to_vec())),
            _ => None,
        }
    }
    fn follower_progress(&self) -> Vec<(NodeId, Index)> {
        self.follower_matches()
    }
    fn last_index(&self) -> Index {
        self.log().last_index()
    }
    fn observe_safety(&self, monitor: &mut SafetyMonitor) -> Result<(), SafetyViolation> {
        monitor.observe(std::iter::once(self))
    }
    fn membership(&self) -> Option<&Membership> {
        Some(Raft::membership(self))
    }
    fn propose_membership(
        replica: &mut Replica<Raft>,
        voters: BTreeSet<NodeId>,
        learners: BTreeSet<NodeId>,
    ) -> Option<Result<Index, String>> {
        Some(
            replica
                .propose_membership(voters, learners)
                .map_err(|e| e.to_string()),
        )
    }
}
