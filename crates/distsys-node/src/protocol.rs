//! The consensus cores a node can drive: Raft, Multi-Paxos and PBFT, behind [`Protocol`]
//! (what the node needs beyond [`Core`]: how to build a replica from its configuration, where
//! its state lives on disk, and the Raft-only admin operations), and [`ProtocolName`], parsed
//! from `--protocol` / the configuration's `protocol` field.
//!
//! The names are parsed here for now; when the simulator's protocol registry lands they should
//! come from it.
//!
//! How a client is answered: under Raft and Multi-Paxos the leader answers once the command is
//! committed and applied (a follower redirects with `MOVED`). Under PBFT every replica takes
//! commands and answers each from its own execution, which happens only once the request is
//! committed there (2f+1 matching commit messages, so every correct replica executes the same
//! request at the same sequence number and computes the same result). A client that trusts
//! the node it talks to can take that answer; a node does not wait for f+1 other replicas'
//! replies, so a client that must tolerate a byzantine node it talks to asks f+1 nodes (every
//! node answers every command, reads included) and takes the answer they agree on.

use crate::storage::{OpLogStore, RaftStore, Storage, StorageError};
use distsys_consensus::paxos::{MultiPaxos, PaxosConfig, PaxosMutant, PaxosPersisted};
use distsys_consensus::pbft::byzantine::{Adversary, Behaviour};
use distsys_consensus::pbft::{Envelope, Keys, Pbft, PbftConfig, PbftMutant, PbftPersisted};
use distsys_consensus::raft::{Config, Raft};
use distsys_consensus::replica::Replica;
use distsys_consensus::{Core, Index, Mutant, NodeId, PersistOp, Persisted};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A protocol the node runs, by the name the command line and the configuration use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolName {
    /// Raft (the default).
    Raft,
    /// Multi-Paxos.
    MultiPaxos,
    /// PBFT, with authenticated messages (keys derived from the cluster key).
    Pbft,
}

impl ProtocolName {
    /// Every protocol, in the order `--protocol` lists them.
    pub const ALL: [ProtocolName; 3] = [
        ProtocolName::Raft,
        ProtocolName::MultiPaxos,
        ProtocolName::Pbft,
    ];

    /// The name on the command line and in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolName::Raft => "raft",
            ProtocolName::MultiPaxos => "multipaxos",
            ProtocolName::Pbft => "pbft",
        }
    }

    /// The protocol named `text` (`raft`, `multipaxos`, `pbft`; `paxos` for Multi-Paxos).
    pub fn parse(text: &str) -> Option<ProtocolName> {
        match text.trim().to_ascii_lowercase().as_str() {
            "raft" => Some(ProtocolName::Raft),
            "multipaxos" | "multi-paxos" | "paxos" => Some(ProtocolName::MultiPaxos),
            "pbft" => Some(ProtocolName::Pbft),
            _ => None,
        }
    }

    /// The names of the seeded bugs `mutant` takes for this protocol.
    pub fn mutants(self) -> Vec<&'static str> {
        match self {
            ProtocolName::Raft => node_raft_mutants().iter().map(|m| m.name()).collect(),
            ProtocolName::MultiPaxos => PaxosMutant::ALL.iter().map(|m| m.name()).collect(),
            ProtocolName::Pbft => PbftMutant::ALL.iter().map(|m| m.name()).collect(),
        }
    }
}

/// What a replica is built from: the node's configuration as the protocol sees it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This replica.
    pub id: NodeId,
    /// Every member, this one included.
    pub members: Vec<NodeId>,
    /// Heartbeat (PBFT: retransmission) interval, ms.
    pub heartbeat_ms: u64,
    /// Election timeout range (PBFT: its maximum is the request timer), ms.
    pub election_timeout_ms: (u64, u64),
    /// The seeded bug to run, by name (validated by [`Protocol::build`]).
    pub mutant: Option<String>,
    /// The cluster key's bytes (PBFT derives its pair keys from it).
    pub cluster_key: Vec<u8>,
    /// The byzantine behaviours this replica runs (the configuration's `byzantine`), if any.
    pub byzantine: Option<String>,
    /// Whether the storage thread writes while the protocol thread goes on
    /// ([`crate::node::Node::pipeline_writes`]): a Raft leader then sends its appends before
    /// its own write is durable and counts itself once it is (`Config::async_persist`).
    pub pipelined_writes: bool,
}

/// What a deliberately byzantine replica sends instead of one message to a peer: each
/// `(receiver, message, hold-back in microseconds)`, none to send nothing.
pub type Corrupter<M> = Box<dyn FnMut(NodeId, M) -> Vec<(NodeId, M, u64)> + Send>;

/// A consensus core the node drives: its messages cross the network (postcard frames), its
/// persist operations and disk image are written by its [`Storage`].
pub trait Protocol:
    Core<
        Message: Serialize + DeserializeOwned + Send + Sync + 'static,
        PersistOp: Serialize + DeserializeOwned + Send + 'static,
    > + Send
    + Sized
    + 'static
{
    /// The protocol's name.
    const NAME: ProtocolName;

    /// Whether the node runs this protocol's writes on the storage thread when the
    /// configuration asks for pipelined writes (Raft: its core sends the leader's appends
    /// while its own write is in flight, a contract the simulator checks under every fault).
    /// The others write on the protocol thread: their safety observers in the simulator read
    /// each step as it happens, so delayed writes were never checked for them.
    const PIPELINES_WRITES: bool = false;

    /// Opens (or creates) the protocol's storage in `dir`.
    fn open_storage(dir: &Path) -> Result<Box<dyn Storage<Self>>, StorageError>;

    /// A replica recovering from `persisted`, or why the settings do not fit (an unknown
    /// mutant).
    fn build(settings: &Settings, persisted: &Self::Persisted, seed: u64) -> Result<Self, String>;

    /// What `persisted` holds, for the `node_started` log line: the term (view, ballot round),
    /// the log entries (accepted slots, records) and the snapshot's index.
    fn recovered(persisted: &Self::Persisted) -> (u64, u64, Option<Index>);

    /// The log indexes a persist operation appends (for the replication-lag gauge; none where
    /// the protocol has no appends to time).
    fn appended(op: &Self::PersistOp) -> Vec<Index> {
        let _ = op;
        Vec::new()
    }

    /// The last index in the log (the highest index known here).
    fn last_index(&self) -> Index {
        self.commit_index()
    }

    /// On the leader: each follower's matched index (empty where the protocol does not track it).
    fn follower_matches(&self) -> Vec<(NodeId, Index)> {
        Vec::new()
    }

    /// Hands leadership to `target`: whether it started, or why not.
    fn transfer_leadership(
        replica: &mut Replica<Self>,
        target: NodeId,
    ) -> Result<(), TransferRefused> {
        let _ = (replica, target);
        Err(TransferRefused::Refused(format!(
            "{} has no leadership transfer",
            Self::NAME.name()
        )))
    }

    /// The adversary a deliberately byzantine replica runs over its outgoing messages
    /// (`settings.byzantine`), drawing from `seed`: `None` when the replica is honest; an
    /// error for a protocol without one (crash-fault protocols) or an unknown behaviour.
    fn adversary(
        settings: &Settings,
        seed: u64,
    ) -> Result<Option<Corrupter<Self::Message>>, String> {
        let _ = seed;
        match &settings.byzantine {
            None => Ok(None),
            Some(_) => Err(format!(
                "{} tolerates crash faults only: it has no byzantine adversary (pbft does)",
                Self::NAME.name()
            )),
        }
    }

    /// Changes the voters and learners: the log index of the change, or why not.
    fn propose_membership(
        replica: &mut Replica<Self>,
        voters: BTreeSet<NodeId>,
        learners: BTreeSet<NodeId>,
    ) -> Result<Index, String> {
        let _ = (replica, voters, learners);
        Err(format!("{} has no membership change", Self::NAME.name()))
    }
}

/// The seeded bug `name` among `all`, or an error listing them.
/// The Raft seeded bugs a node can show: not those of pipelined persistence (the node persists
/// each Ready before it sends anything).
fn node_raft_mutants() -> Vec<Mutant> {
    Mutant::ALL
        .into_iter()
        .filter(|m| !m.needs_pipelined_persistence())
        .collect()
}

fn mutant<M: Copy>(
    name: Option<&str>,
    all: &[M],
    named: fn(M) -> &'static str,
) -> Result<Option<M>, String> {
    let Some(name) = name else {
        return Ok(None);
    };
    all.iter()
        .copied()
        .find(|m| named(*m) == name)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|m| named(*m)).collect();
            format!("unknown mutant {name:?} (one of: {})", names.join(", "))
        })
}

impl Protocol for Raft {
    const NAME: ProtocolName = ProtocolName::Raft;
    const PIPELINES_WRITES: bool = true;

    fn open_storage(dir: &Path) -> Result<Box<dyn Storage<Raft>>, StorageError> {
        Ok(Box::new(RaftStore::open(dir)?))
    }

    fn build(settings: &Settings, persisted: &Self::Persisted, seed: u64) -> Result<Raft, String> {
        let mut config = Config::new(settings.id, settings.members.clone());
        config.heartbeat_us = settings.heartbeat_ms * 1000;
        config.election_timeout_min_us = settings.election_timeout_ms.0 * 1000;
        config.election_timeout_max_us = settings.election_timeout_ms.1 * 1000;
        // etcd's SnapshotCatchUpEntries: a follower a few thousand entries behind (a burst of
        // writes, a short pause) is sent entries, not the whole state machine.
        config.catch_up_entries = 5000;
        // A snapshot of a large state takes seconds to stream: the leader waits this long for
        // the follower's answer before sending it again (heartbeats it rejects meanwhile do
        // not restart the transfer).
        config.snapshot_retry_us = (10_000_000u64).max(4 * config.election_timeout_max_us);
        config.async_persist = settings.pipelined_writes;
        config.mutant = mutant(
            settings.mutant.as_deref(),
            &node_raft_mutants(),
            Mutant::name,
        )?;
        Ok(Raft::new(config, persisted, seed, 0))
    }

    fn recovered(persisted: &Persisted) -> (u64, u64, Option<Index>) {
        (
            persisted.hard_state.term,
            persisted.entries.len() as u64,
            persisted.snapshot.as_ref().map(|s| s.last_index),
        )
    }

    fn appended(op: &PersistOp) -> Vec<Index> {
        match op {
            PersistOp::Append(entries) => entries.iter().map(|e| e.index).collect(),
            _ => Vec::new(),
        }
    }

    fn last_index(&self) -> Index {
        self.log().last_index()
    }

    fn follower_matches(&self) -> Vec<(NodeId, Index)> {
        Raft::follower_matches(self)
    }

    fn transfer_leadership(
        replica: &mut Replica<Raft>,
        target: NodeId,
    ) -> Result<(), TransferRefused> {
        if replica.raft().role() != distsys_consensus::Role::Leader {
            return Err(TransferRefused::Refused(format!(
                "not the leader (the leader is {:?})",
                replica.raft().leader()
            )));
        }
        if !replica.raft().membership().voters.contains(&target) {
            return Err(TransferRefused::Refused(format!("{target} is not a voter")));
        }
        if replica.transfer_leadership(target) {
            Ok(())
        } else {
            Err(TransferRefused::Behind(target))
        }
    }

    fn propose_membership(
        replica: &mut Replica<Raft>,
        voters: BTreeSet<NodeId>,
        learners: BTreeSet<NodeId>,
    ) -> Result<Index, String> {
        replica
            .propose_membership(voters, learners)
            .map_err(|e| e.to_string())
    }
}

impl Protocol for MultiPaxos {
    const NAME: ProtocolName = ProtocolName::MultiPaxos;

    fn open_storage(dir: &Path) -> Result<Box<dyn Storage<MultiPaxos>>, StorageError> {
        Ok(Box::new(OpLogStore::<MultiPaxos>::open(
            dir,
            "multipaxos.redb",
        )?))
    }

    fn build(
        settings: &Settings,
        persisted: &Self::Persisted,
        seed: u64,
    ) -> Result<MultiPaxos, String> {
        let mut config = PaxosConfig::new(settings.id, settings.members.clone());
        config.heartbeat_us = settings.heartbeat_ms * 1000;
        config.election_timeout_us = (
            settings.election_timeout_ms.0 * 1000,
            settings.election_timeout_ms.1 * 1000,
        );
        config.mutant = mutant(
            settings.mutant.as_deref(),
            &PaxosMutant::ALL,
            PaxosMutant::name,
        )?;
        Ok(MultiPaxos::new(config, persisted, seed, 0))
    }

    fn recovered(persisted: &PaxosPersisted) -> (u64, u64, Option<Index>) {
        (
            persisted.promised.round,
            persisted.accepted.len() as u64,
            persisted.snapshot.as_ref().map(|s| s.index),
        )
    }
}

/// Why a leadership transfer did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferRefused {
    /// The target is a voter whose log is not yet the leader's: it catches up within a
    /// heartbeat or two, so asking again soon may succeed (the admin endpoint does).
    Behind(NodeId),
    /// Any other reason, said.
    Refused(String),
}

impl std::fmt::Display for TransferRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferRefused::Behind(target) => {
                write!(f, "{target} has not caught up with the leader's log yet")
            }
            TransferRefused::Refused(why) => f.write_str(why),
        }
    }
}

/// PBFT's pair-key secret for a cluster: SHA-256 of a label and the cluster key, so every
/// member derives the same keys and no one without the cluster key can.
fn pbft_secret(cluster_key: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update(b"distsys pbft pair keys\0");
    hash.update(cluster_key);
    hash.finalize().into()
}

impl Protocol for Pbft {
    const NAME: ProtocolName = ProtocolName::Pbft;

    fn open_storage(dir: &Path) -> Result<Box<dyn Storage<Pbft>>, StorageError> {
        Ok(Box::new(OpLogStore::<Pbft>::open(dir, "pbft.redb")?))
    }

    /// Pair keys from the cluster key; answers as the module documentation says.
    fn build(settings: &Settings, persisted: &Self::Persisted, _seed: u64) -> Result<Pbft, String> {
        let keys = Keys::derive(
            &pbft_secret(&settings.cluster_key),
            settings.id,
            &settings.members,
        );
        let mut config = PbftConfig::new(settings.id, settings.members.clone(), keys);
        config.request_timeout_us = settings.election_timeout_ms.1 * 1000;
        config.retransmit_us = settings.heartbeat_ms * 1000;
        config.mutant = mutant(
            settings.mutant.as_deref(),
            &PbftMutant::ALL,
            PbftMutant::name,
        )?;
        Ok(Pbft::new(config, persisted, 0))
    }

    /// The simulator's PBFT adversary, controlling this replica only, with the pair keys
    /// every member derives (a byzantine replica holds the cluster key like any member).
    fn adversary(settings: &Settings, seed: u64) -> Result<Option<Corrupter<Envelope>>, String> {
        let Some(list) = &settings.byzantine else {
            return Ok(None);
        };
        let behaviours: BTreeSet<Behaviour> = Behaviour::parse_list(list)?.into_iter().collect();
        let mut adversary = Adversary::new(
            &pbft_secret(&settings.cluster_key),
            &settings.members,
            BTreeMap::from([(settings.id, behaviours)]),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Ok(Some(Box::new(move |_to, envelope| {
            adversary
                .outgoing(&mut rng, envelope)
                .into_iter()
                .map(|(envelope, hold)| (envelope.to, envelope, hold))
                .collect()
        })))
    }

    fn recovered(persisted: &PbftPersisted) -> (u64, u64, Option<Index>) {
        (
            persisted.view,
            persisted.slots.len() as u64,
            persisted.stable.as_ref().map(|s| s.seq),
        )
    }
}
