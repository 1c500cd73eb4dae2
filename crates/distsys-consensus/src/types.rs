//! Values shared by the consensus cores and their drivers.

use crate::membership::Membership;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A node's identity (the one definition, in distsys-types).
pub use distsys_types::NodeId;
/// A Raft term.
pub type Term = u64;
/// A log index (1-based; 0 means "before the first entry").
pub type Index = u64;
/// Time as the driver tells it, in microseconds.
pub type TimeUs = u64;

/// One log entry. `chain` is a hash of this entry and every entry before it, so two logs that
/// agree on one entry's `chain` agree on the whole prefix (used by the safety predicates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log.
    pub index: Index,
    /// Term of the leader that created it.
    pub term: Term,
    /// The command (empty for the no-op a new leader appends and for membership entries).
    /// Shared, so the copies an entry goes through (log, disk, messages) cost no allocation.
    pub data: Bytes,
    /// The membership this entry installs, if it is a membership change. It takes effect on a
    /// node as soon as the entry is in that node's log. Boxed: rare, and entries stay small.
    pub membership: Option<Box<Membership>>,
    /// Hash of (previous chain, index, term, data, membership).
    pub chain: u64,
}

impl Entry {
    /// An entry following a prefix whose last chain hash is `previous`.
    pub fn new(
        previous: u64,
        index: Index,
        term: Term,
        data: impl Into<Bytes>,
        membership: Option<Membership>,
    ) -> Entry {
        let mut entry = Entry {
            index,
            term,
            data: data.into(),
            membership: membership.map(Box::new),
            chain: 0,
        };
        entry.rechain(previous);
        entry
    }

    /// Approximate size on the wire, in bytes (flow control counts it).
    pub fn size(&self) -> u64 {
        const HEADER: u64 = 32;
        let membership = self.membership.as_ref().map_or(0, |m| {
            8 * (m.voters.len() + m.outgoing.len() + m.learners.len()) as u64
        });
        HEADER + self.data.len() as u64 + membership
    }

    /// Recomputes `chain` for this entry placed after a prefix whose last chain is `previous`.
    /// XXH3 (stable across platforms and versions) over the data and the membership, seeded
    /// with the previous chain, the index and the term.
    pub fn rechain(&mut self, previous: u64) {
        use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};
        let seed = previous.rotate_left(17)
            ^ self.index.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ self.term.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        let mut h = xxh3_64_with_seed(&self.data, seed);
        if let Some(membership) = &self.membership {
            h ^= xxh3_64(&membership.encode()).rotate_left(29);
        }
        self.chain = h;
    }
}

/// The part of a node's state that must be durable before the messages that depend on it leave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    /// Latest term seen.
    pub term: Term,
    /// Candidate voted for in `term`.
    pub vote: Option<NodeId>,
}

/// A snapshot of the state machine at `last_index`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Last log index the snapshot covers.
    pub last_index: Index,
    /// Term of that entry.
    pub last_term: Term,
    /// Chain hash of that entry.
    pub last_chain: u64,
    /// The membership in effect at `last_index`.
    pub membership: Membership,
    /// Serialized state machine (shared, not copied, by the log, the disk write and every
    /// InstallSnapshot sent).
    pub data: Bytes,
}

impl Snapshot {
    /// Where the snapshot ends: its last index and that entry's chain hash (what the
    /// snapshot-agreement rule, [`distsys_types::snapshot::install`], compares).
    pub fn point(&self) -> distsys_types::snapshot::ChainPoint {
        distsys_types::snapshot::ChainPoint {
            index: self.last_index,
            chain: self.last_chain,
        }
    }
}

/// Everything a node keeps on disk: what a crash does not erase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Persisted {
    /// Term and vote.
    pub hard_state: HardState,
    /// Latest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Log entries after the snapshot.
    pub entries: Vec<Entry>,
}

/// A change to apply to the persisted state, in order, before sending the Ready's messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersistOp {
    /// Store a new term/vote.
    HardState(HardState),
    /// Drop every entry at or after this index.
    Truncate(Index),
    /// Append entries (contiguous, after the current last).
    Append(Vec<Entry>),
    /// Replace the snapshot and drop log entries it covers.
    Snapshot(Snapshot),
}

impl Persisted {
    /// Applies one persist operation.
    pub fn apply(&mut self, op: &PersistOp) {
        match op {
            PersistOp::HardState(hs) => self.hard_state = *hs,
            PersistOp::Truncate(index) => {
                // Entries are sorted by index: cut at the first one at or after `index`.
                let keep = self.entries.partition_point(|e| e.index < *index);
                self.entries.truncate(keep);
            }
            PersistOp::Append(entries) => {
                if let (Some(last), Some(first)) = (self.entries.last(), entries.first()) {
                    debug_assert_eq!(last.index + 1, first.index, "appends are contiguous");
                }
                self.entries.extend(entries.iter().cloned());
            }
            PersistOp::Snapshot(snapshot) => {
                // The one snapshot-agreement rule (`distsys_types::snapshot`), as in memory.
                let retained = distsys_types::snapshot::install(
                    snapshot.point(),
                    self.snapshot.as_ref().map(Snapshot::point),
                    |i| self.entries.iter().find(|e| e.index == i).map(|e| e.chain),
                );
                self.entries.retain(|e| retained.keeps(e.index));
                self.snapshot = Some(snapshot.clone());
            }
        }
    }
}

/// Roles a node can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asking for pre-votes (does not bump the term).
    PreCandidate,
    /// Asking for votes.
    Candidate,
    /// Leads its term.
    Leader,
}

/// Raft's messages between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Ask for a (pre-)vote. A pre-vote carries the term the candidate would use.
    RequestVote {
        term: Term,
        last_index: Index,
        last_term: Term,
        pre_vote: bool,
    },
    /// Answer to a (pre-)vote.
    RequestVoteResponse {
        term: Term,
        granted: bool,
        pre_vote: bool,
    },
    /// Replicate entries (empty: a heartbeat). `probe` numbers the heartbeat round for ReadIndex.
    AppendEntries {
        term: Term,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
        probe: u64,
    },
    /// Answer to AppendEntries: on success the follower's matching index; on failure a hint of
    /// where the logs may match (fast backtracking).
    AppendEntriesResponse {
        term: Term,
        success: bool,
        match_index: Index,
        hint_index: Index,
        probe: u64,
    },
    /// Replace the follower's state with a snapshot.
    InstallSnapshot {
        term: Term,
        snapshot: Snapshot,
        probe: u64,
    },
    /// Start an election now (leadership transfer).
    TimeoutNow { term: Term },
}

impl Message {
    /// The term the message carries.
    pub fn term(&self) -> Term {
        match self {
            Message::RequestVote { term, .. }
            | Message::RequestVoteResponse { term, .. }
            | Message::AppendEntries { term, .. }
            | Message::AppendEntriesResponse { term, .. }
            | Message::InstallSnapshot { term, .. }
            | Message::TimeoutNow { term } => *term,
        }
    }

    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::RequestVote { pre_vote: true, .. } => "PreVote",
            Message::RequestVote { .. } => "RequestVote",
            Message::RequestVoteResponse { pre_vote: true, .. } => "PreVoteResponse",
            Message::RequestVoteResponse { .. } => "RequestVoteResponse",
            Message::AppendEntries { .. } => "AppendEntries",
            Message::AppendEntriesResponse { .. } => "AppendEntriesResponse",
            Message::InstallSnapshot { .. } => "InstallSnapshot",
            Message::TimeoutNow { .. } => "TimeoutNow",
        }
    }
}

/// A ReadIndex request's identity, chosen by the driver.
pub type ReadId = u64;

/// What a consensus core asks its driver to do, drained by `ready()`: the one output shape
/// every protocol uses (`M` its messages, `P` its persist operations; Raft's by default). The
/// driver must apply `persist` durably before sending `messages`, then apply `committed` in
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready<M = Message, P = PersistOp> {
    /// Durable changes, in order.
    pub persist: Vec<P>,
    /// Messages to send, after `persist` is durable.
    pub messages: Vec<(NodeId, M)>,
    /// Messages that may leave at once, while `persist` is being written (only from a core
    /// configured for pipelined persistence; a driver that persists first may send them with
    /// `messages`).
    pub early: Vec<(NodeId, M)>,
    /// This Ready's write, to report durable through the core's `persisted` once `persist`
    /// is on disk (0: nothing to report).
    pub write: u64,
    /// Newly committed entries, in log order, to apply.
    pub committed: Vec<Entry>,
    /// A snapshot to install into the state machine (replaces its state), before `committed`.
    pub install: Option<Snapshot>,
    /// Reads whose index is confirmed: serve each once the state machine has applied `index`.
    pub reads: Vec<(ReadId, Index)>,
    /// Reads that cannot be served here (not leader, or leadership lost): retry elsewhere.
    pub reads_failed: Vec<ReadId>,
    /// Role changes, oldest first, with the term (or ballot round).
    pub roles: Vec<(Role, Term)>,
}

impl<M, P> Default for Ready<M, P> {
    fn default() -> Self {
        Ready {
            persist: Vec::new(),
            messages: Vec::new(),
            early: Vec::new(),
            write: 0,
            committed: Vec::new(),
            install: None,
            reads: Vec::new(),
            reads_failed: Vec::new(),
            roles: Vec::new(),
        }
    }
}

impl<M, P> Ready<M, P> {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.persist.is_empty()
            && self.messages.is_empty()
            && self.early.is_empty()
            && self.committed.is_empty()
            && self.install.is_none()
            && self.reads.is_empty()
            && self.reads_failed.is_empty()
            && self.roles.is_empty()
    }
}
