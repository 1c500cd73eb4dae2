//! What the simulator needs from a protocol beyond the [`Core`] interface: how to build a
//! node from the run's parameters, and the few protocol-specific observations it makes
//! (safety predicates, replication progress, membership, a byzantine adversary). Everything
//! else in the simulator is the same code for every protocol. A protocol implements
//! [`Simulated`] (in a module of [`crate::protocols`], or in the user's own crate) and describes
//! itself with a [`crate::registry::Descriptor`].

use distsys_consensus::pbft::byzantine::Behaviour;
use distsys_consensus::replica::Replica;
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::{Core, Index, Membership, NodeId};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

/// A node's timers and knobs, as the run chose them. Each protocol reads the ones that apply
/// to it (its [`crate::registry::Descriptor`] says which) and ignores the others.
#[derive(Debug, Clone)]
pub struct BuildParams {
    /// Randomised election (leader-failure) timeout range, in microseconds.
    pub election_timeout_us: (u64, u64),
    /// Heartbeat interval, in microseconds.
    pub heartbeat_us: u64,
    /// Entries per replication message (protocols that batch entries).
    pub max_entries_per_msg: usize,
    /// Leader lease reads (protocols whose descriptor has `lease_read`).
    pub lease_read: bool,
    /// The seeded bug to plant, by the name the protocol's descriptor lists it under.
    pub mutant: Option<&'static str>,
    /// The cluster's shared secret (protocols with authenticated messages derive keys from it).
    pub secret: [u8; 32],
    /// Whether the disk writes are pipelined (`SimConfig::write_delay_us` above zero): a core
    /// that can send before its write is durable may (Raft's `Config::async_persist`).
    pub pipelined_writes: bool,
}

/// The byzantine adversary a protocol's simulation runs for the replicas it controls: it
/// rewrites what they send. Crash-fault protocols use [`NoAdversary`].
pub trait ByzantineAdversary<M>: Sized {
    /// Whether the protocol has an adversary at all. When false the simulator never picks
    /// byzantine replicas (and makes no random draw for them), whatever `SimConfig::byzantine`.
    const EXISTS: bool;
    /// The adversary of a cluster of `nodes` sharing `secret`, controlling the replicas in
    /// `behaviours` (each with what it may do). `None` exactly when [`Self::EXISTS`] is false.
    fn new(
        secret: &[u8; 32],
        nodes: &[NodeId],
        behaviours: BTreeMap<NodeId, BTreeSet<Behaviour>>,
    ) -> Option<Self>;
    /// Whether the adversary controls `node`.
    fn controls(&self, node: NodeId) -> bool;
    /// Whether `node` sends nothing (to replicas or clients).
    fn silent(&self, node: NodeId) -> bool;
    /// Whether `node` answers clients with made-up results.
    fn lies(&self, node: NodeId) -> bool;
    /// What controlled replica sends instead of `message` to `to`: `(receiver, message, extra
    /// delay in microseconds)`, drawing from `rng` only.
    fn outgoing(&mut self, rng: &mut ChaCha8Rng, to: NodeId, message: M) -> Vec<(NodeId, M, u64)>;
}

/// The adversary of a protocol without one (crash faults only). It cannot be built: every
/// method is unreachable by construction (the type has no value).
#[derive(Debug)]
pub enum NoAdversary {}

impl<M> ByzantineAdversary<M> for NoAdversary {
    const EXISTS: bool = false;
    fn new(
        _secret: &[u8; 32],
        _nodes: &[NodeId],
        _behaviours: BTreeMap<NodeId, BTreeSet<Behaviour>>,
    ) -> Option<NoAdversary> {
        None
    }
    fn controls(&self, _node: NodeId) -> bool {
        match *self {}
    }
    fn silent(&self, _node: NodeId) -> bool {
        match *self {}
    }
    fn lies(&self, _node: NodeId) -> bool {
        match *self {}
    }
    fn outgoing(
        &mut self,
        _rng: &mut ChaCha8Rng,
        _to: NodeId,
        _message: M,
    ) -> Vec<(NodeId, M, u64)> {
        match *self {}
    }
}

/// A protocol the simulator can run: a [`Core`] plus how to build it and what the simulator
/// observes of it. Only [`Simulated::build`] and the adversary type are required; every other
/// method has a default that fits a leader-based crash-fault protocol without membership
/// changes.
pub trait Simulated: Core + Sized {
    /// The byzantine adversary ([`NoAdversary`] for crash-fault protocols).
    type Adversary: ByzantineAdversary<Self::Message>;
    /// Builds node `id` of `nodes` from its disk, seeded with `seed`, at local time `now`.
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
    /// Events each client operation started adds to that budget: the rate covers the
    /// protocol's own traffic and a few clients, and more clients mean more operations, each
    /// with its request, reply, client timer and the messages that replicate it. Leader-based
    /// protocols: 4 (2n + 4), about four times that (healthy runs with 50 clients and no
    /// faults measure about 10 events per operation at 3 nodes). A storm, which starts no
    /// operation, earns nothing from it.
    fn events_per_operation_bound(nodes: usize) -> u64 {
        4 * (2 * nodes.max(1) as u64 + 4)
    }
    /// For protocols whose every replica answers ([`Core::replies_from_every_replica`]): how
    /// many replicas of `nodes` must give the same answer before a client accepts it. 1 (the
    /// first answer) by default.
    fn matching_replies(_nodes: usize) -> usize {
        1
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
    /// The protocol's own safety predicates over this node (on top of the state machine
    /// safety the simulator checks for every protocol), remembered by the monitor: an error
    /// names the property broken (the descriptor's `safety` list names them all).
    fn observe_safety(&self, _monitor: &mut SafetyMonitor) -> Result<(), SafetyViolation> {
        Ok(())
    }
    /// The membership in effect, for protocols that can change it.
    fn membership(&self) -> Option<&Membership> {
        None
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
