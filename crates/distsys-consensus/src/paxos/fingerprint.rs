//! A canonical hash of a Multi-Paxos replica's protocol state, for exhaustive model checkers
//! that store fingerprints of states (as `raft::fingerprint` does for Raft).
//!
//! What it leaves out, and why that is sound for such a checker: the clock (`now`), the
//! leader-failure deadline, the heartbeat deadline, the time the leader was last heard from and
//! the RNG. No decision of the core compares those values with anything but each other: a
//! checker that fires timers as actions (ticking a replica to exactly
//! [`MultiPaxos::next_timer_us`]) covers every timing they could produce. Pending reads are
//! left out too, so the fingerprint is only meaningful for a driver that issues no reads
//! (asserted in debug builds). The configuration is fixed per replica and left out as well.
//!
//! Node ids go through `relabel`. Ballots order node ids (a tie in rounds goes to the higher
//! id), so two states that differ by a relabelling are not equivalent in general: a checker
//! should use the identity unless it knows better.

use super::types::{Ballot, PaxosMessage, PaxosPersistOp, PaxosPersisted, PaxosSnapshot};
use super::MultiPaxos;
use crate::types::{NodeId, Role, TimeUs};
use std::hash::{Hash, Hasher};

type Relabel<'a> = &'a dyn Fn(NodeId) -> NodeId;

impl MultiPaxos {
    /// When this replica's next timer fires on its own clock: the heartbeat of a leader, the
    /// leader-failure timeout of anyone else. Ticking the replica to this time fires it.
    pub fn next_timer_us(&self) -> TimeUs {
        if self.role == Role::Leader {
            self.heartbeat_at.max(self.now)
        } else {
            self.deadline.max(self.now)
        }
    }

    /// The highest slot this replica holds anything for (accepted, chosen or assigned).
    pub fn last_slot(&self) -> u64 {
        let accepted = self.acceptor.state.accepted.keys().next_back().copied();
        let chosen = self.chosen.keys().next_back().copied();
        accepted
            .unwrap_or(0)
            .max(chosen.unwrap_or(0))
            .max(self.chosen_upto)
            .max(self.next_slot.saturating_sub(1))
    }

    /// Feeds the protocol state (see the module doc for what is left out) into `state`, with
    /// every node id mapped through `relabel`.
    pub fn fingerprint<H: Hasher>(&self, relabel: Relabel<'_>, state: &mut H) {
        debug_assert!(self.reads.is_empty(), "fingerprints ignore pending reads");
        relabel(self.config.id).hash(state);
        fingerprint_paxos_persisted(&self.acceptor.state, relabel, state);
        (self.role as u8).hash(state);
        hash_ballot(self.ballot, relabel, state);
        self.leader.map(relabel).hash(state);
        match &self.preparing {
            Some(p) => {
                1u8.hash(state);
                sorted(p.promises.iter().map(|id| relabel(*id))).hash(state);
                (p.compacted.0, relabel_or_zero(p.compacted.1, relabel)).hash(state);
                p.found.len().hash(state);
                for (slot, (ballot, value)) in &p.found {
                    slot.hash(state);
                    hash_ballot(*ballot, relabel, state);
                    value.hash(state);
                }
            }
            None => 0u8.hash(state),
        }
        self.proposals.len().hash(state);
        for (slot, (value, acks)) in &self.proposals {
            (slot, value).hash(state);
            sorted(acks.iter().map(|id| relabel(*id))).hash(state);
        }
        self.accept_messages.hash(state);
        self.next_slot.hash(state);
        self.chosen.hash(state);
        (self.chosen_upto, self.applied, self.applied_chain).hash(state);
        hash_snapshot(self.snapshot.as_ref(), state);
        // Outputs not yet drained (a driver drains after every input).
        self.ready.persist.len().hash(state);
        for op in &self.ready.persist {
            hash_persist_op(op, relabel, state);
        }
        self.ready.messages.len().hash(state);
        for (to, message) in &self.ready.messages {
            relabel(*to).hash(state);
            fingerprint_paxos_message(message, relabel, state);
        }
        self.ready.committed.len().hash(state);
    }
}

/// The node 0 stands for "none" in `Preparing::compacted`; it is not relabelled.
fn relabel_or_zero(id: NodeId, relabel: Relabel<'_>) -> NodeId {
    if id == 0 {
        0
    } else {
        relabel(id)
    }
}

fn sorted(ids: impl Iterator<Item = NodeId>) -> Vec<NodeId> {
    let mut ids: Vec<NodeId> = ids.collect();
    ids.sort_unstable();
    ids
}

fn hash_ballot<H: Hasher>(ballot: Ballot, relabel: Relabel<'_>, state: &mut H) {
    (ballot.round, relabel_or_zero(ballot.node, relabel)).hash(state);
}

fn hash_snapshot<H: Hasher>(snapshot: Option<&PaxosSnapshot>, state: &mut H) {
    match snapshot {
        Some(s) => (1u8, s.index, s.chain, &s.data).hash(state),
        None => 0u8.hash(state),
    }
}

fn hash_accepted<H: Hasher>(
    accepted: &[(u64, Ballot, Vec<u8>)],
    relabel: Relabel<'_>,
    state: &mut H,
) {
    accepted.len().hash(state);
    for (slot, ballot, value) in accepted {
        slot.hash(state);
        hash_ballot(*ballot, relabel, state);
        value.hash(state);
    }
}

fn hash_persist_op<H: Hasher>(op: &PaxosPersistOp, relabel: Relabel<'_>, state: &mut H) {
    match op {
        PaxosPersistOp::Promise(b) => {
            0u8.hash(state);
            hash_ballot(*b, relabel, state);
        }
        PaxosPersistOp::Accept(slot, b, value) => {
            (1u8, slot).hash(state);
            hash_ballot(*b, relabel, state);
            value.hash(state);
        }
        PaxosPersistOp::Compact(snapshot) => {
            2u8.hash(state);
            hash_snapshot(Some(snapshot), state);
        }
    }
}

/// Feeds a Multi-Paxos message into `state` with node ids relabelled.
pub fn fingerprint_paxos_message<H: Hasher>(
    message: &PaxosMessage,
    relabel: Relabel<'_>,
    state: &mut H,
) {
    match message {
        PaxosMessage::Prepare { ballot, from } => {
            (0u8, from).hash(state);
            hash_ballot(*ballot, relabel, state);
        }
        PaxosMessage::Promise {
            ballot,
            ok,
            promised,
            accepted,
            compacted,
        } => {
            (1u8, ok, compacted).hash(state);
            hash_ballot(*ballot, relabel, state);
            hash_ballot(*promised, relabel, state);
            hash_accepted(accepted, relabel, state);
        }
        PaxosMessage::Accept {
            ballot,
            slot,
            value,
            chosen,
        } => {
            (2u8, slot, value, chosen).hash(state);
            hash_ballot(*ballot, relabel, state);
        }
        PaxosMessage::Accepted {
            ballot,
            slot,
            ok,
            promised,
        } => {
            (3u8, slot, ok).hash(state);
            hash_ballot(*ballot, relabel, state);
            hash_ballot(*promised, relabel, state);
        }
        PaxosMessage::Heartbeat { ballot, chosen } => {
            (4u8, chosen).hash(state);
            hash_ballot(*ballot, relabel, state);
        }
        PaxosMessage::Learn { from } => (5u8, from).hash(state),
        PaxosMessage::Chosen { values } => (6u8, values).hash(state),
        PaxosMessage::Snapshot { snapshot } => {
            7u8.hash(state);
            hash_snapshot(Some(snapshot), state);
        }
    }
}

/// Feeds an acceptor's disk image into `state` with node ids relabelled: what a restart
/// recovers.
pub fn fingerprint_paxos_persisted<H: Hasher>(
    disk: &PaxosPersisted,
    relabel: Relabel<'_>,
    state: &mut H,
) {
    hash_ballot(disk.promised, relabel, state);
    disk.accepted.len().hash(state);
    for (slot, (ballot, value)) in &disk.accepted {
        slot.hash(state);
        hash_ballot(*ballot, relabel, state);
        value.hash(state);
    }
    hash_snapshot(disk.snapshot.as_ref(), state);
}
