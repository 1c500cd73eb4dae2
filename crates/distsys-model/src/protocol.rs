//! What [`crate::cluster::ClusterModel`] needs from a protocol beyond the shared
//! [`Core`] interface: how to build a replica, when its timer fires, its canonical fingerprint,
//! its bounds, and the safety predicates the simulator checks for it. One implementation per
//! protocol ([`crate::raft::RaftProtocol`], [`crate::paxos::PaxosProtocol`]); everything else
//! (actions, network, crashes, symmetry, the search) is the same code for every protocol.

use crate::cluster::{Bounds, ClusterState};
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::{Core, NodeId, TimeUs};
use std::fmt::Debug;
use std::hash::Hasher;

/// A node-id relabelling (symmetry reduction), or the map of every id to 0 (a label-free
/// signature).
pub type Relabel<'a> = &'a dyn Fn(NodeId) -> NodeId;

/// The hasher fingerprints are fed into: it collects the bytes and hashes them once with
/// 64-bit XXH3 when finished, which is cheaper than XXH3's streaming interface for the many
/// small writes a fingerprint makes.
#[derive(Debug, Clone)]
pub struct Fp {
    bytes: Vec<u8>,
}

impl Fp {
    /// An empty hasher.
    pub fn new() -> Fp {
        Fp {
            bytes: Vec::with_capacity(512),
        }
    }
}

impl Default for Fp {
    fn default() -> Fp {
        Fp::new()
    }
}

impl Hasher for Fp {
    fn write(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }
    fn finish(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.bytes)
    }
}

/// The mutant of `all` named `name`; the error lists every name.
pub fn find_mutant<M: Copy>(
    all: &[M],
    name_of: fn(M) -> &'static str,
    name: &str,
) -> Result<M, String> {
    all.iter()
        .copied()
        .find(|m| name_of(*m) == name)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|m| name_of(*m)).collect();
            format!("unknown mutant {name:?} (one of {})", names.join(", "))
        })
}

/// A protocol the cluster model can check.
pub trait Protocol: Sized + Send + Sync + 'static {
    /// The shipped core.
    type Core: Core<Message = Self::Message, Persisted = Self::Disk> + Clone + Debug + Send + Sync;
    /// Its messages.
    type Message: Clone + PartialEq + Debug + Send + Sync;
    /// Its disk image (kept across crashes: the persist contract).
    type Disk: Clone + Default + Debug + Send + Sync;
    /// Its seeded bugs.
    type Mutant: Copy + PartialEq + Debug + Send + Sync;

    /// The name on the command line and in replay files.
    const NAME: &'static str;
    /// Whether node ids are interchangeable (symmetry reduction is sound).
    const SYMMETRIC: bool;
    /// The first term (ballot round, view) that has a leader: the least useful `--max-term`.
    const FIRST_LEADER_TERM: u64 = 1;
    /// Whether the protocol has a pre-vote phase (`--pre-vote` applies).
    const PRE_VOTE: bool = false;
    /// Whether the protocol tolerates byzantine replicas (`--byzantine` applies).
    const BYZANTINE: bool = false;

    /// The seeded bug named `name`.
    fn mutant_by_name(name: &str) -> Result<Self::Mutant, String>;
    /// The command-line name of a seeded bug.
    fn mutant_name(mutant: Self::Mutant) -> &'static str;
    /// Whether the model can show `mutant` within `bounds` (the error says why not).
    fn applicable(_mutant: Self::Mutant, _bounds: &Bounds) -> Result<(), String> {
        Ok(())
    }
    /// Checks the protocol-specific part of the bounds.
    fn validate(_bounds: &Bounds) -> Result<(), String> {
        Ok(())
    }
    /// What byzantine replica `from` sends instead of `messages` (see [`Bounds::byzantine`]);
    /// only protocols that accept byzantine replicas ([`Protocol::validate`]) are asked.
    fn corrupt(
        _bounds: &Bounds,
        _from: NodeId,
        messages: Vec<(NodeId, Self::Message)>,
    ) -> Vec<(NodeId, Self::Message)> {
        messages
    }
    /// Replica `id` of the cluster, started from `disk`.
    fn build(
        bounds: &Bounds,
        mutant: Option<Self::Mutant>,
        id: NodeId,
        disk: &Self::Disk,
        seed: u64,
    ) -> Self::Core;
    /// When the replica's next timer fires on its own clock (ticking it there fires it).
    fn next_timer_us(core: &Self::Core) -> TimeUs;
    /// The term (ballot round, view) the replica is in or asking for, for `--max-term`.
    fn term(core: &Self::Core) -> u64 {
        distsys_consensus::Core::term(core)
    }
    /// The highest log index (slot) the replica holds, for `--max-log`.
    fn log_len(core: &Self::Core) -> u64;
    /// Feeds the replica's protocol state, ids relabelled, into `h`.
    fn fingerprint_core(core: &Self::Core, relabel: Relabel<'_>, h: &mut Fp);
    /// Feeds a disk image, ids relabelled, into `h`.
    fn fingerprint_disk(disk: &Self::Disk, relabel: Relabel<'_>, h: &mut Fp);
    /// Feeds a message, ids relabelled, into `h`.
    fn fingerprint_message(message: &Self::Message, relabel: Relabel<'_>, h: &mut Fp);
    /// Whether the model can issue client reads (`--max-reads`): the core's read state is
    /// fingerprinted ([`Protocol::fingerprint_reads`]).
    const READS: bool = false;
    /// The rounds the replica's pending reads wait for.
    fn read_rounds(_core: &Self::Core) -> Vec<u64> {
        Vec::new()
    }
    /// Feeds the replica's read state into `h`, every round as `rank` maps it.
    fn fingerprint_reads(
        _core: &Self::Core,
        _rank: &dyn Fn(u64) -> usize,
        _relabel: Relabel<'_>,
        _h: &mut Fp,
    ) {
    }
    /// The round a message carries, if any (ranked like the replicas' rounds).
    fn message_round(_message: &Self::Message) -> Option<u64> {
        None
    }
    /// The protocol's own safety predicates over a state (its running replicas and every
    /// node's disk; byzantine nodes per `bounds`), on top of the state machine safety checked
    /// for every protocol on the applied entries.
    fn observe(
        _monitor: &mut SafetyMonitor,
        _bounds: &Bounds,
        _state: &ClusterState<Self>,
    ) -> Result<(), SafetyViolation> {
        Ok(())
    }
    /// A leader change is visible in this state (the "sometimes" property the tests use to
    /// show the bounds reach one).
    fn leader_change(live: &[&Self::Core], disks: &[&Self::Disk]) -> bool;
    /// A short description of a message.
    fn describe_message(message: &Self::Message) -> String;
    /// A short description of a running replica.
    fn describe_core(core: &Self::Core) -> String;
    /// A short description of a crashed replica's disk.
    fn describe_disk(disk: &Self::Disk) -> String;
    /// A rough size of a replica in memory.
    fn approx_bytes(core: &Self::Core) -> usize;
}
