//! The values the transaction layer's parts exchange: timestamps, operations, the commands a
//! group's Raft log carries and the replies its state machine gives.

use serde::{Deserialize, Serialize};

/// A transaction attempt's identity (unique per run; a retry after an abort is a new attempt).
pub type TxnId = u64;
/// A Raft group (a shard of the key space).
pub type GroupId = usize;
/// A key.
pub type Key = u32;
/// A value written (unique per run, so every read names its writer).
pub type Value = u64;

/// An MVCC timestamp: the coordinator's hybrid logical clock reading, with the transaction id
/// breaking ties so no two transactions share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ts {
    /// HLC physical part, in ms.
    pub wall_ms: u64,
    /// HLC logical part.
    pub logical: u32,
    /// The transaction.
    pub txn: TxnId,
}

/// One operation of a (one-shot) transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Read the key.
    Read(Key),
    /// Append a value to the key's list (list-append).
    Append(Key, Value),
    /// Set the key's register (rw-register).
    Write(Key, Value),
}

impl Op {
    /// The key touched.
    pub fn key(self) -> Key {
        match self {
            Op::Read(k) | Op::Append(k, _) | Op::Write(k, _) => k,
        }
    }

    /// Whether it writes.
    pub fn writes(self) -> bool {
        !matches!(self, Op::Read(_))
    }
}

/// What a read returned: the list (list-append) or the last value, if any (rw-register).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadResult {
    /// The list's elements in order.
    List(Vec<Value>),
    /// The register's value (`None`: never written).
    Register(Option<Value>),
}

/// Which atomic-commit protocol a transaction uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommitProtocol {
    /// Prepare every participant, then write the decision to the record (two rounds).
    TwoPhase,
    /// Write a STAGING record in parallel with the prepares; committed once all are durable
    /// (one round), the COMMITTED record written afterwards.
    Parallel,
}

impl CommitProtocol {
    /// The name the CLI spells.
    pub fn name(self) -> &'static str {
        match self {
            CommitProtocol::TwoPhase => "2pc",
            CommitProtocol::Parallel => "parallel",
        }
    }
}

impl std::str::FromStr for CommitProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "2pc" | "two-phase" => Ok(CommitProtocol::TwoPhase),
            "parallel" | "parallel-commits" => Ok(CommitProtocol::Parallel),
            _ => Err(format!("unknown commit protocol {s:?} (2pc, parallel)")),
        }
    }
}

/// What a prepared transaction's intents say about it, so anyone can find its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnMeta {
    /// The group holding the transaction record.
    pub anchor: GroupId,
    /// Every group the transaction writes or reads.
    pub participants: Vec<GroupId>,
    /// The commit protocol (decides how a recoverer reads a missing record).
    pub protocol: CommitProtocol,
}

/// A transaction record's state in its anchor group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordState {
    /// Parallel commits: the coordinator staged it; committed iff every participant prepared.
    Staging,
    /// Decided: committed.
    Committed,
    /// Decided: aborted.
    Aborted,
}

/// A command in a group's Raft log. Every command is idempotent: a retry or a duplicate
/// has the effect of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Check conflicts for the transaction's operations on this group; on success leave
    /// write intents and answer the reads at `ts`.
    Prepare {
        /// The transaction.
        txn: TxnId,
        /// Its timestamp.
        ts: Ts,
        /// Its operations on this group, in order.
        ops: Vec<Op>,
        /// Where its record lives.
        meta: TxnMeta,
    },
    /// Record group: create the STAGING record (refused if a recoverer aborted it first).
    Stage {
        /// The transaction.
        txn: TxnId,
    },
    /// Record group: decide, unless already decided (the first decision wins).
    Decide {
        /// The transaction.
        txn: TxnId,
        /// Commit or abort.
        commit: bool,
    },
    /// Record group: the record's state for a recoverer; a missing record becomes ABORTED
    /// (so a coordinator that has not staged or decided yet cannot any more).
    Recover {
        /// The transaction.
        txn: TxnId,
    },
    /// Participant: whether the transaction prepared here; if it never arrived, refuse it for
    /// good (so a late prepare cannot complete a transaction a recoverer aborts).
    Probe {
        /// The transaction.
        txn: TxnId,
    },
    /// Participant: resolve the transaction's intents (install or drop them).
    Resolve {
        /// The transaction.
        txn: TxnId,
        /// Commit or abort.
        commit: bool,
        /// Its writes on this group (used only by the non-idempotent mutant, which applies
        /// them whether or not an intent is still there).
        writes: Vec<Op>,
    },
}

impl Command {
    /// The transaction the command is about.
    pub fn txn(&self) -> TxnId {
        match self {
            Command::Prepare { txn, .. }
            | Command::Stage { txn }
            | Command::Decide { txn, .. }
            | Command::Recover { txn }
            | Command::Probe { txn }
            | Command::Resolve { txn, .. } => *txn,
        }
    }
}

/// A group state machine's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// To a prepare: refused (a conflict), or prepared with the reads' results in order.
    Vote(Option<Vec<ReadResult>>),
    /// To a record command: the record's state after it.
    Record(RecordState),
    /// To a probe: whether the transaction is prepared here.
    Prepared(bool),
    /// To a resolve.
    Resolved,
}
