//! A canonical hash of a Raft node's protocol state, for exhaustive model checkers that store
//! fingerprints of states instead of the states themselves (as TLC and stateright do).
//!
//! What it leaves out, and why that is sound for such a checker: the clock (`now`), the timer
//! deadlines, the RNG, the times a leader last heard from each follower, the start time and the
//! lease's send times. A model checker fires timers as actions (it ticks a node to exactly
//! [`Raft::next_timer_us`]) rather than letting values of a clock decide, so with
//! `check_quorum` and `lease_read` off no decision of the core depends on those fields. Heartbeat
//! round numbers (`probe`) are left out as well: they only order ReadIndex reads. A driver that
//! issues reads adds [`Raft::fingerprint_reads`], which hashes every round number by its rank
//! among the rounds pending reads wait for (the only comparisons the core makes with them).
//! Node ids go through `relabel`, so a checker can canonicalise a state under a permutation of
//! the nodes (symmetry reduction); sets and maps keyed by node are hashed in relabelled order.

use super::{Progress, Raft};
use crate::membership::Membership;
use crate::types::{Entry, Message, NodeId, PersistOp, Role, Snapshot, TimeUs};
use std::hash::{Hash, Hasher};

impl Raft {
    /// When this node's next timer fires on its own clock: the heartbeat deadline of a leader,
    /// the election deadline of anyone else. Ticking the node to this time fires that timer.
    pub fn next_timer_us(&self) -> TimeUs {
        if self.role == Role::Leader {
            self.heartbeat_deadline.max(self.now)
        } else {
            self.election_deadline.max(self.now)
        }
    }

    /// Feeds the protocol state (see the module doc for what is left out) into `state`, with
    /// every node id mapped through `relabel`. Two nodes with the same fingerprint under the same
    /// relabelling answer every `step`, `propose` and timer firing the same way, up to that
    /// relabelling, when `check_quorum` and `lease_read` are off and no read is pending (with
    /// reads, together with [`Raft::fingerprint_reads`]).
    pub fn fingerprint<H: Hasher>(&self, relabel: &dyn Fn(NodeId) -> NodeId, state: &mut H) {
        relabel(self.config.id).hash(state);
        self.hard_state.term.hash(state);
        self.hard_state.vote.map(relabel).hash(state);
        (self.role as u8).hash(state);
        self.leader.map(relabel).hash(state);
        hash_snapshot(self.log.snapshot(), relabel, state);
        let (first, last) = (self.log.offset() + 1, self.log.last_index());
        last.saturating_sub(first - 1).hash(state);
        for entry in (first..=last).filter_map(|i| self.log.entry(i)) {
            hash_entry(entry, relabel, state);
        }
        // The tail a compaction kept decides whether a lagging peer is sent entries or the
        // snapshot (hashed only when there is one, so logs without it hash as before).
        if self.log.covered() > 0 {
            self.log.covered().hash(state);
        }
        hash_membership(&self.membership, relabel, state);
        self.membership_index.hash(state);
        self.commit.hash(state);
        self.emitted.hash(state);
        let mut votes: Vec<(NodeId, bool)> = self
            .votes
            .iter()
            .map(|(id, v)| (relabel(*id), *v))
            .collect();
        votes.sort_unstable();
        votes.hash(state);
        // Each follower's progress hashed on its own, then sorted: the result does not depend
        // on the original ids' order even when `relabel` maps several ids to one.
        let mut progress: Vec<u64> = self
            .progress
            .iter()
            .map(|(id, p)| progress_hash(relabel(*id), p))
            .collect();
        progress.sort_unstable();
        progress.hash(state);
        self.transferring.hash(state);
        self.deferred_hard_state
            .map(|hs| (hs.term, hs.vote.map(relabel)))
            .hash(state);
        // Outputs not yet drained (a driver drains after every input; a seeded bug may leave a
        // persist for the next Ready).
        self.ready.persist.len().hash(state);
        for op in &self.ready.persist {
            hash_persist_op(op, relabel, state);
        }
        self.ready.messages.len().hash(state);
        for (to, message) in &self.ready.messages {
            relabel(*to).hash(state);
            fingerprint_message(message, relabel, state);
        }
        self.ready.committed.len().hash(state);
    }
}

impl Raft {
    /// The heartbeat rounds this node's pending reads wait for.
    pub fn read_rounds(&self) -> impl Iterator<Item = u64> + '_ {
        self.reads.iter().map(|r| r.probe)
    }

    /// Feeds the read state into `state`: the pending reads (id, round), this node's round
    /// counter and each follower's acknowledged round, every round as `rank` maps it. With
    /// `rank(p)` the number of pending rounds (of every node) at or below `p`, two states
    /// that hash alike make the same decisions on reads: the core only compares rounds with
    /// pending ones (a read is confirmed once a majority acknowledged its round), and rounds
    /// only grow by `max` and by one, which keep ranks' order.
    pub fn fingerprint_reads<H: Hasher>(
        &self,
        rank: &dyn Fn(u64) -> usize,
        relabel: &dyn Fn(NodeId) -> NodeId,
        state: &mut H,
    ) {
        let reads: Vec<(u64, usize)> = self.reads.iter().map(|r| (r.id, rank(r.probe))).collect();
        reads.hash(state);
        rank(self.probe).hash(state);
        let mut acked: Vec<(NodeId, usize)> = self
            .progress
            .iter()
            .map(|(id, p)| (relabel(*id), rank(p.probe_acked)))
            .collect();
        acked.sort_unstable();
        acked.hash(state);
    }
}

/// The heartbeat round a message carries, if any.
pub fn message_round(message: &Message) -> Option<u64> {
    match message {
        Message::AppendEntries { probe, .. }
        | Message::AppendEntriesResponse { probe, .. }
        | Message::InstallSnapshot { probe, .. } => Some(*probe),
        _ => None,
    }
}

/// A follower's progress as the leader tracks it. The time its pending snapshot was sent is
/// left out: a clock value (the model checker keeps none), and no model state holds a pending
/// snapshot (the model never compacts).
fn progress_hash(id: NodeId, p: &Progress) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    id.hash(&mut h);
    (p.next, p.matched, p.inflight_bytes, p.snapshot_pending).hash(&mut h);
    p.inflight.hash(&mut h);
    h.finish()
}

/// Feeds a Raft message into `state` with node ids relabelled, leaving out the heartbeat round
/// number (`probe`), which only orders reads (see the module doc).
pub fn fingerprint_message<H: Hasher>(
    message: &Message,
    relabel: &dyn Fn(NodeId) -> NodeId,
    state: &mut H,
) {
    message.kind().hash(state);
    match message {
        Message::RequestVote {
            term,
            last_index,
            last_term,
            pre_vote,
        } => (term, last_index, last_term, pre_vote).hash(state),
        Message::RequestVoteResponse {
            term,
            granted,
            pre_vote,
        } => (term, granted, pre_vote).hash(state),
        Message::AppendEntries {
            term,
            prev_index,
            prev_term,
            entries,
            commit,
            probe: _,
        } => {
            (term, prev_index, prev_term, commit, entries.len()).hash(state);
            for entry in entries {
                hash_entry(entry, relabel, state);
            }
        }
        Message::AppendEntriesResponse {
            term,
            success,
            match_index,
            hint_index,
            probe: _,
        } => (term, success, match_index, hint_index).hash(state),
        Message::InstallSnapshot {
            term,
            snapshot,
            probe: _,
        } => {
            term.hash(state);
            hash_snapshot(Some(snapshot), relabel, state);
        }
        Message::TimeoutNow { term } => term.hash(state),
    }
}

fn hash_entry<H: Hasher>(entry: &Entry, relabel: &dyn Fn(NodeId) -> NodeId, state: &mut H) {
    // The chain covers the data and the membership; the membership is hashed relabelled too
    // (its chain is not, so states differing by a relabelled membership entry stay apart:
    // less reduction, never a false merge).
    (entry.index, entry.term, entry.chain).hash(state);
    entry.data.hash(state);
    match &entry.membership {
        Some(m) => {
            true.hash(state);
            hash_membership(m, relabel, state);
        }
        None => false.hash(state),
    }
}

fn hash_snapshot<H: Hasher>(
    snapshot: Option<&Snapshot>,
    relabel: &dyn Fn(NodeId) -> NodeId,
    state: &mut H,
) {
    match snapshot {
        Some(s) => {
            (s.last_index, s.last_term, s.last_chain).hash(state);
            s.data.hash(state);
            hash_membership(&s.membership, relabel, state);
        }
        None => 0u8.hash(state),
    }
}

fn hash_membership<H: Hasher>(m: &Membership, relabel: &dyn Fn(NodeId) -> NodeId, state: &mut H) {
    for set in [&m.voters, &m.outgoing, &m.learners] {
        let mut ids: Vec<NodeId> = set.iter().map(|id| relabel(*id)).collect();
        ids.sort_unstable();
        ids.hash(state);
    }
}

fn hash_persist_op<H: Hasher>(op: &PersistOp, relabel: &dyn Fn(NodeId) -> NodeId, state: &mut H) {
    match op {
        PersistOp::HardState(hs) => (0u8, hs.term, hs.vote.map(relabel)).hash(state),
        PersistOp::Truncate(index) => (1u8, index).hash(state),
        PersistOp::Append(entries) => {
            (2u8, entries.len()).hash(state);
            for entry in entries {
                hash_entry(entry, relabel, state);
            }
        }
        PersistOp::Snapshot(snapshot) => {
            3u8.hash(state);
            hash_snapshot(Some(snapshot), relabel, state);
        }
    }
}

/// Feeds a node's disk image into `state` with node ids relabelled: what a restart recovers.
pub fn fingerprint_persisted<H: Hasher>(
    disk: &crate::types::Persisted,
    relabel: &dyn Fn(NodeId) -> NodeId,
    state: &mut H,
) {
    (disk.hard_state.term, disk.hard_state.vote.map(relabel)).hash(state);
    hash_snapshot(disk.snapshot.as_ref(), relabel, state);
    disk.entries.len().hash(state);
    for entry in &disk.entries {
        hash_entry(entry, relabel, state);
    }
}
