//! What the simulator needs from a protocol beyond the [`Core`] interface: how to build a
//! node from the run's parameters, and the few protocol-specific observations it makes
//! (Raft's safety predicates, replication progress, membership). Everything else in the
//! simulator is the same code for every protocol.

use distsys_consensus::paxos::{MultiPaxos, PaxosConfig, PaxosMutant};
use distsys_consensus::pbft::byzantine::Adversary;
use distsys_consensus::pbft::{Envelope, Keys, Pbft, PbftConfig, PbftMutant};
use distsys_consensus::raft::{Config, Raft};
use distsys_consensus::replica::Replica;
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::{Core, Index, Membership, Message, Mutant, NodeId, PersistOp};
use std::collections::BTreeSet;
use std::ops::RangeInclusive;

/// The protocols the simulator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Raft (the default).
    #[default]
    Raft,
    /// Multi-Paxos.
    MultiPaxos,
    /// PBFT (byzantine fault tolerant, n = 3f+1).
    Pbft,
}

impl Protocol {
    /// The name `--protocol` takes.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Raft => "raft",
            Protocol::MultiPaxos => "multipaxos",
            Protocol::Pbft => "pbft",
        }
    }

    /// The protocol `--protocol` names: its name, or `multi-paxos` / `paxos` for Multi-Paxos.
    pub fn parse(name: &str) -> Option<Protocol> {
        match name.trim() {
            "raft" => Some(Protocol::Raft),
            "multipaxos" | "multi-paxos" | "paxos" => Some(Protocol::MultiPaxos),
            "pbft" => Some(Protocol::Pbft),
            _ => None,
        }
    }

    /// Whether the protocol tolerates byzantine replicas.
    pub fn byzantine_tolerant(self) -> bool {
        self == Protocol::Pbft
    }
}

/// A node's timers and knobs, as the run chose them.
#[derive(Debug, Clone)]
pub struct BuildParams {
    /// Randomised election (leader-failure) timeout range, in microseconds.
    pub election_timeout_us: (u64, u64),
    /// Heartbeat interval, in microseconds.
    pub heartbeat_us: u64,
    /// Entries per replication message (Raft).
    pub max_entries_per_msg: usize,
    /// Leader lease reads (Raft).
    pub lease_read: bool,
    /// A Raft seeded bug.
    pub mutant: Option<Mutant>,
    /// A Multi-Paxos seeded bug.
    pub paxos_mutant: Option<PaxosMutant>,
    /// A PBFT seeded bug.
    pub pbft_mutant: Option<PbftMutant>,
    /// The cluster's shared secret (PBFT derives its pair keys from it).
    pub secret: [u8; 32],
}

/// A protocol the simulator can run.
pub trait SimCore: Core + Sized {
    /// Builds node `id` of `nodes` from its disk.
    fn build(
        id: NodeId,
        nodes: Vec<NodeId>,
        params: &BuildParams,
        persisted: &Self::Persisted,
        seed: u64,
        now: u64,
    ) -> Self;
    /// How long after every fault healed the protocol must serve clients again (a leader
    /// elected; for protocols whose every replica answers, a client operation completed): the
    /// simulator's liveness check. The default is 20 election timeouts.
    fn recovery_bound_us(_nodes: usize, params: &BuildParams) -> u64 {
        20 * params.election_timeout_us.1
    }
    /// Events per virtual millisecond a run of `nodes` nodes may process before it counts as
    /// a message storm: about ten times what healthy runs under every fault use. Leader-based
    /// protocols send O(n) messages per operation: 8 per node (healthy runs measure 0.7-0.8).
    fn events_per_ms_bound(nodes: usize) -> u64 {
        8 * nodes.max(1) as u64
    }
    /// Whether a message grants a vote (the simulator sometimes kills the voter right after).
    fn is_vote_grant(_message: &Self::Message) -> bool {
        false
    }
    /// Log indexes a persist operation appends, as a range (empty: none), for the
    /// replication-lag metric and torn writes.
    fn appended(_op: &Self::PersistOp) -> RangeInclusive<Index> {
        RangeInclusive::new(1, 0)
    }
    /// A persist operation cut to its first `kept` appended entries (a torn write).
    fn torn(_op: &Self::PersistOp, _kept: usize) -> Option<Self::PersistOp> {
        None
    }
    /// `(follower, matched index)` on a leader (for traces and the lag metric).
    fn follower_progress(&self) -> Vec<(NodeId, Index)> {
        Vec::new()
    }
    /// The last index in the local log.
    fn last_index(&self) -> Index {
        self.commit_index()
    }
    /// Protocol-specific safety predicates over this node, remembered by the monitor.
    fn observe_safety(&self, _monitor: &mut SafetyMonitor) -> Result<(), SafetyViolation> {
        Ok(())
    }
    /// The membership in effect, for protocols that can change it.
    fn membership(&self) -> Option<&Membership> {
        None
    }
    /// What a byzantine replica sends instead of `message` to `to`: `(receiver, message, extra
    /// delay in microseconds)`. Only byzantine-tolerant protocols have an adversary; the others
    /// send the message unchanged.
    fn corrupt(
        _adversary: &mut Adversary,
        _rng: &mut rand_chacha::ChaCha8Rng,
        to: NodeId,
        message: Self::Message,
    ) -> Vec<(NodeId, Self::Message, u64)> {
        vec![(to, message, 0)]
    }
    /// Messages this replica refused (forged, replayed...), by reason.
    fn rejections(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
    /// Asks the replica to change the membership; `None` when the protocol cannot.
    fn propose_membership(
        _replica: &mut Replica<Self>,
        _voters: BTreeSet<NodeId>,
        _learners: BTreeSet<NodeId>,
    ) -> Option<Result<Index, String>> {
        None
    }
}

impl SimCore for Raft {
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
        config.mutant = params.mutant;
        config.max_entries_per_msg = params.max_entries_per_msg;
        config.lease_read = params.lease_read;
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

impl SimCore for MultiPaxos {
    fn build(
        id: NodeId,
        nodes: Vec<NodeId>,
        params: &BuildParams,
        persisted: &Self::Persisted,
        seed: u64,
        now: u64,
    ) -> MultiPaxos {
        let mut config = PaxosConfig::new(id, nodes);
        config.election_timeout_us = params.election_timeout_us;
        config.heartbeat_us = params.heartbeat_us;
        config.mutant = params.paxos_mutant;
        MultiPaxos::new(config, persisted, seed, now)
    }
}

impl SimCore for Pbft {
    fn build(
        id: NodeId,
        nodes: Vec<NodeId>,
        params: &BuildParams,
        persisted: &Self::Persisted,
        _seed: u64,
        now: u64,
    ) -> Pbft {
        Pbft::new(pbft_config(id, nodes, params), persisted, now)
    }
    /// Every replica talks to every other: O(n^2) messages per request, 6 n^2 per virtual ms
    /// (healthy runs under every fault measure 0.3-0.6 n^2).
    fn events_per_ms_bound(nodes: usize) -> u64 {
        6 * (nodes.max(1) as u64).pow(2)
    }
    fn recovery_bound_us(nodes: usize, params: &BuildParams) -> u64 {
        let ids: Vec<NodeId> = (1..=nodes as NodeId).collect();
        pbft_config(1, ids, params).recovery_bound_us()
    }
    fn observe_safety(&self, monitor: &mut SafetyMonitor) -> Result<(), SafetyViolation> {
        for (seq, digest) in self.recently_decided() {
            let mut value = [0u8; 8];
            value.copy_from_slice(&digest[..8]);
            monitor.on_decided(self.id(), *seq, u64::from_le_bytes(value))?;
        }
        Ok(())
    }
    fn corrupt(
        adversary: &mut Adversary,
        rng: &mut rand_chacha::ChaCha8Rng,
        _to: NodeId,
        message: Envelope,
    ) -> Vec<(NodeId, Envelope, u64)> {
        adversary
            .outgoing(rng, message)
            .into_iter()
            .map(|(envelope, delay)| (envelope.to, envelope, delay))
            .collect()
    }
    fn rejections(&self) -> Vec<(&'static str, u64)> {
        let r = Pbft::rejections(self);
        vec![
            ("forged", r.forged),
            ("replayed", r.replayed),
            ("bad_digest", r.bad_digest),
            ("equivocation", r.equivocation),
            ("bad_new_view", r.bad_new_view),
        ]
    }
}

/// A PBFT replica's configuration from the run's parameters: the request timer plays the
/// election timeout's part, retransmission the heartbeat's.
fn pbft_config(id: NodeId, nodes: Vec<NodeId>, params: &BuildParams) -> PbftConfig {
    let keys = Keys::derive(&params.secret, id, &nodes);
    let mut config = PbftConfig::new(id, nodes, keys);
    config.request_timeout_us = params.election_timeout_us.1;
    config.retransmit_us = params.heartbeat_us;
    config.mutant = params.pbft_mutant;
    config
}
