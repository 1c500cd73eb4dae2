//! Multi-Paxos values: ballots, messages, persisted state.

use crate::types::{Index, NodeId, Ready};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A ballot: higher round wins, then higher node id. `(0, 0)` is below every real ballot.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    /// Round number.
    pub round: u64,
    /// The proposer.
    pub node: NodeId,
}

/// Messages between replicas (ordered only so drivers can queue them deterministically).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PaxosMessage {
    /// Phase 1a: promise not to accept below `ballot`, and report what you accepted from `from`.
    Prepare { ballot: Ballot, from: Index },
    /// Phase 1b: a promise (or a refusal naming the higher promise), with accepted values.
    Promise {
        ballot: Ballot,
        ok: bool,
        promised: Ballot,
        accepted: Vec<(Index, Ballot, Vec<u8>)>,
        /// Slots up to here are chosen and compacted into this acceptor's snapshot: it no
        /// longer reports them, so the new leader must learn that snapshot before leading.
        compacted: Index,
    },
    /// Phase 2a: accept `value` in `slot` under `ballot`; `chosen` is the leader's chosen prefix.
    Accept {
        ballot: Ballot,
        slot: Index,
        value: Vec<u8>,
        chosen: Index,
    },
    /// Phase 2b: accepted (or refused, naming the higher promise).
    Accepted {
        ballot: Ballot,
        slot: Index,
        ok: bool,
        promised: Ballot,
    },
    /// Leader heartbeat: the ballot holds, and every slot up to `chosen` is chosen.
    Heartbeat { ballot: Ballot, chosen: Index },
    /// A learner asks for the chosen values from `from`.
    Learn { from: Index },
    /// Chosen values, in slot order.
    Chosen { values: Vec<(Index, Vec<u8>)> },
    /// The state after every slot up to `snapshot.index` (for a learner behind the sender's
    /// compacted log).
    Snapshot { snapshot: PaxosSnapshot },
}

/// The state machine after applying every chosen slot up to `index`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PaxosSnapshot {
    /// Last slot covered.
    pub index: Index,
    /// Chain hash of the applied sequence up to `index`.
    pub chain: u64,
    /// The state machine's snapshot.
    pub data: Vec<u8>,
}

/// What an acceptor keeps on disk: its promise and what it accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaxosPersisted {
    /// Highest ballot promised.
    pub promised: Ballot,
    /// Accepted value per slot, with the ballot it was accepted under (above the snapshot).
    pub accepted: BTreeMap<Index, (Ballot, Vec<u8>)>,
    /// The chosen prefix compacted into a snapshot.
    pub snapshot: Option<PaxosSnapshot>,
}

/// A durable change, applied before the messages of the same Ready leave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaxosPersistOp {
    /// A new promise.
    Promise(Ballot),
    /// A value accepted in a slot.
    Accept(Index, Ballot, Vec<u8>),
    /// The chosen prefix up to the snapshot's index is replaced by the snapshot.
    Compact(PaxosSnapshot),
}

impl PaxosPersisted {
    /// Applies one persist operation.
    pub fn apply(&mut self, op: &PaxosPersistOp) {
        match op {
            PaxosPersistOp::Promise(b) => self.promised = self.promised.max(*b),
            PaxosPersistOp::Accept(slot, b, v) => {
                self.promised = self.promised.max(*b);
                self.accepted.insert(*slot, (*b, v.clone()));
            }
            PaxosPersistOp::Compact(snapshot) => {
                if self
                    .snapshot
                    .as_ref()
                    .is_none_or(|s| s.index < snapshot.index)
                {
                    self.accepted.retain(|slot, _| *slot > snapshot.index);
                    self.snapshot = Some(snapshot.clone());
                }
            }
        }
    }
}

/// Multi-Paxos outputs: the shared [`Ready`] shape with Paxos messages and persist operations.
pub type PaxosReady = Ready<PaxosMessage, PaxosPersistOp>;
