//! Raft's five safety properties as predicates over the whole cluster, checked after every step
//! of a simulation (and usable by any test that builds a cluster):
//!
//! - `election_safety`: at most one leader per term.
//! - `leader_append_only`: a leader never overwrites or deletes entries in its log.
//! - `log_matching`: two logs with an entry of the same index and term agree on every entry up
//!   to it (checked through the entries' chain hashes, which cover the whole prefix).
//! - `leader_completeness`: every leader holds every committed entry.
//! - `state_machine_safety`: no two nodes apply different entries at the same index.
//!
//! And, for protocols that choose values by majority vote (Multi-Paxos):
//!
//! - `chosen_by_majority`: a value a replica takes as chosen at an index is held there by a
//!   majority of the acceptors (as their accepted value, or compacted into their snapshot of
//!   the chosen prefix). This is what "chosen" means in Paxos; it breaks as soon as a replica
//!   miscounts a quorum, long before two replicas apply different values.
//!
//! And for PBFT (Castro and Liskov's invariant behind agreement within a view):
//!
//! - `prepared_agreement`: no two honest replicas are prepared for different requests at the
//!   same sequence number in the same view. It breaks when quorums fail to intersect in an
//!   honest replica, one phase before two replicas commit different requests.

use crate::raft::Raft;
use crate::types::{Entry, Index, NodeId, Role, Snapshot, Term};
use std::collections::btree_map::Entry as MapEntry;
use std::collections::BTreeMap;
use std::fmt;

/// A broken safety property, with what shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyViolation {
    /// Which property.
    pub property: &'static str,
    /// The evidence.
    pub detail: String,
}

impl fmt::Display for SafetyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.detail)
    }
}

fn violation(property: &'static str, detail: String) -> Result<(), SafetyViolation> {
    Err(SafetyViolation { property, detail })
}

/// One value per key, the first one seen: records `value` for `key` as seen at `node`, or,
/// when `key` already holds another value, breaks `property` with `detail(other, by)` (the
/// value seen first and the node that showed it).
fn first_value_stands<K: Ord>(
    seen: &mut BTreeMap<K, (u64, NodeId)>,
    key: K,
    value: u64,
    node: NodeId,
    property: &'static str,
    detail: impl FnOnce(u64, NodeId) -> String,
) -> Result<(), SafetyViolation> {
    match seen.entry(key) {
        MapEntry::Occupied(e) if e.get().0 != value => {
            let (other, by) = *e.get();
            violation(property, detail(other, by))
        }
        MapEntry::Occupied(_) => Ok(()),
        MapEntry::Vacant(e) => {
            e.insert((value, node));
            Ok(())
        }
    }
}

/// Remembers what the cluster has shown so far and checks each new observation against it.
#[derive(Debug, Default, Clone)]
pub struct SafetyMonitor {
    leader_of_term: BTreeMap<Term, NodeId>,
    leader_log: BTreeMap<NodeId, (Term, Index, u64)>,
    entry_chain: BTreeMap<(Index, Term), (u64, NodeId)>,
    /// Committed index -> (chain, node that showed it, that node's term when it did). The term
    /// is at least the term in which the entry was committed.
    committed_chain: BTreeMap<Index, (u64, NodeId, Term)>,
    applied_chain: BTreeMap<Index, (u64, NodeId)>,
    /// Sequence number -> (value decided, first node that decided it), for protocols that
    /// report decisions (PBFT's committed requests).
    decided: BTreeMap<Index, (u64, NodeId)>,
    /// Index -> (acceptor -> value it holds as accepted there, hashed), for protocols that
    /// report votes ([`SafetyMonitor::on_vote`]).
    votes: BTreeMap<Index, BTreeMap<NodeId, u64>>,
    /// Acceptor -> the index up to which it compacted its votes into a snapshot.
    compacted: BTreeMap<NodeId, Index>,
    /// (view, sequence number) -> (request prepared there, hashed; first replica to prepare
    /// it), for protocols that report preparation ([`SafetyMonitor::on_prepared`]).
    prepared: BTreeMap<(Term, Index), (u64, NodeId)>,
}

impl SafetyMonitor {
    /// A monitor that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// `node` committed the value hashed `value` at `index`: no node (itself included) may
    /// commit a different one there (agreement).
    pub fn on_decided(
        &mut self,
        node: NodeId,
        index: Index,
        value: u64,
    ) -> Result<(), SafetyViolation> {
        first_value_stands(
            &mut self.decided,
            index,
            value,
            node,
            "agreement",
            |other, by| {
                format!(
                "node {node} committed {value:016x} at sequence {index}, node {by} committed {other:016x}"
            )
            },
        )
    }

    /// Honest replica `node` is prepared for `request` (hashed) at sequence number `index` in
    /// `view`: no honest replica may be prepared for another there (`prepared_agreement`).
    pub fn on_prepared(
        &mut self,
        node: NodeId,
        view: Term,
        index: Index,
        request: u64,
    ) -> Result<(), SafetyViolation> {
        first_value_stands(
            &mut self.prepared,
            (view, index),
            request,
            node,
            "prepared_agreement",
            |other, by| {
                format!(
                    "node {node} prepared {request:016x} at sequence {index} in view {view}, node {by} prepared {other:016x}"
                )
            },
        )
    }

    /// Acceptor `node` holds `value` (hashed) as accepted at `index`, replacing what it held
    /// there. Report only what is on its disk: a vote counts toward a quorum.
    pub fn on_vote(&mut self, node: NodeId, index: Index, value: u64) {
        if index > self.compacted.get(&node).copied().unwrap_or(0) {
            self.votes.entry(index).or_default().insert(node, value);
        }
    }

    /// Acceptor `node` replaced its votes up to `index` by a snapshot of the chosen prefix: it
    /// backs whatever was chosen there (what it applied there is state machine safety's
    /// business). Votes at indexes every voter has compacted are forgotten (bounded memory).
    pub fn on_compacted(&mut self, node: NodeId, index: Index) {
        let known = self.compacted.entry(node).or_insert(0);
        if index <= *known {
            return;
        }
        *known = index;
        let voters_all_compacted = self
            .votes
            .values()
            .flat_map(|by| by.keys())
            .all(|voter| self.compacted.contains_key(voter));
        let low = self.compacted.values().copied().min().unwrap_or(0);
        if voters_all_compacted && low > 0 {
            self.votes = self.votes.split_off(&(low + 1));
        }
    }

    /// `node` takes `value` (hashed) as chosen at `index`, where a choice needs the votes of
    /// `majority` acceptors: at least that many must hold it, as a vote or in a snapshot
    /// (`chosen_by_majority`).
    pub fn on_chosen(
        &self,
        node: NodeId,
        index: Index,
        value: u64,
        majority: usize,
    ) -> Result<(), SafetyViolation> {
        let votes = self.votes.get(&index);
        let voting: Vec<NodeId> = votes
            .into_iter()
            .flatten()
            .filter(|(_, v)| **v == value)
            .map(|(voter, _)| *voter)
            .collect();
        let compacted = self
            .compacted
            .iter()
            .filter(|(voter, upto)| **upto >= index && !voting.contains(voter))
            .count();
        if voting.len() + compacted >= majority {
            return Ok(());
        }
        violation(
            "chosen_by_majority",
            format!(
                "node {node} took {value:016x} as chosen at index {index}, which only {} of the {majority} acceptors a choice needs hold (accepted by {voting:?}, {compacted} compacted past it)",
                voting.len() + compacted
            ),
        )
    }

    /// Checks the cluster's current state. `nodes` are the live nodes.
    pub fn observe<'a>(
        &mut self,
        nodes: impl IntoIterator<Item = &'a Raft>,
    ) -> Result<(), SafetyViolation> {
        let nodes: Vec<&Raft> = nodes.into_iter().collect();
        for raft in &nodes {
            self.check_log_matching(raft)?;
            self.record_commit(raft)?;
        }
        for raft in &nodes {
            if raft.role() == Role::Leader {
                self.check_election_safety(raft)?;
                self.check_leader_append_only(raft)?;
                self.check_leader_completeness(raft)?;
            } else {
                self.leader_log.remove(&raft.id());
            }
        }
        Ok(())
    }

    /// Checks an entry a node applied to its state machine.
    pub fn on_apply(&mut self, node: NodeId, entry: &Entry) -> Result<(), SafetyViolation> {
        self.check_applied(node, entry.index, entry.chain)
    }

    /// Checks a snapshot a node installed into its state machine.
    pub fn on_install(&mut self, node: NodeId, snapshot: &Snapshot) -> Result<(), SafetyViolation> {
        self.check_applied(node, snapshot.last_index, snapshot.last_chain)
    }

    fn check_applied(
        &mut self,
        node: NodeId,
        index: Index,
        chain: u64,
    ) -> Result<(), SafetyViolation> {
        first_value_stands(
            &mut self.applied_chain,
            index,
            chain,
            node,
            "state_machine_safety",
            |_, by| {
                format!("node {node} applied a different entry (or history) at index {index} than node {by}")
            },
        )
    }

    fn check_election_safety(&mut self, raft: &Raft) -> Result<(), SafetyViolation> {
        let term = raft.term();
        match self.leader_of_term.get(&term) {
            Some(other) if *other != raft.id() => violation(
                "election_safety",
                format!(
                    "nodes {other} and {} were both leader in term {term}",
                    raft.id()
                ),
            ),
            _ => {
                self.leader_of_term.insert(term, raft.id());
                Ok(())
            }
        }
    }

    fn check_leader_append_only(&mut self, raft: &Raft) -> Result<(), SafetyViolation> {
        let log = raft.log();
        let (term, last) = (raft.term(), log.last_index());
        if let Some(&(seen_term, seen_last, seen_chain)) = self.leader_log.get(&raft.id()) {
            let changed = last < seen_last || log.chain(seen_last) != Some(seen_chain);
            if seen_term == term && seen_last > log.offset() && changed {
                return violation(
                    "leader_append_only",
                    format!(
                        "leader {} of term {term} changed or dropped its entry {seen_last}",
                        raft.id()
                    ),
                );
            }
        }
        if let Some(chain) = log.chain(last) {
            self.leader_log.insert(raft.id(), (term, last, chain));
        }
        Ok(())
    }

    fn check_log_matching(&mut self, raft: &Raft) -> Result<(), SafetyViolation> {
        let log = raft.log();
        for index in [log.last_index(), raft.commit_index()] {
            let (Some(term), Some(chain)) = (log.term(index), log.chain(index)) else {
                continue;
            };
            if index == 0 {
                continue;
            }
            let id = raft.id();
            first_value_stands(
                &mut self.entry_chain,
                (index, term),
                chain,
                id,
                "log_matching",
                |_, by| {
                    format!(
                        "nodes {by} and {id} both hold an entry at index {index} of term {term} but their logs differ before it"
                    )
                },
            )?;
        }
        Ok(())
    }

    fn record_commit(&mut self, raft: &Raft) -> Result<(), SafetyViolation> {
        let commit = raft.commit_index();
        let Some(chain) = raft.log().chain(commit) else {
            return Ok(());
        };
        if commit == 0 {
            return Ok(());
        }
        match self.committed_chain.get(&commit) {
            Some((seen, by, _)) if *seen != chain => violation(
                "state_machine_safety",
                format!(
                    "nodes {by} and {} committed different entries at index {commit}",
                    raft.id()
                ),
            ),
            Some(_) => Ok(()),
            None => {
                self.committed_chain
                    .insert(commit, (chain, raft.id(), raft.term()));
                Ok(())
            }
        }
    }

    /// A leader of term L must hold every entry committed in a term below L. The check uses the
    /// highest committed index observed at a term below L (its chain covers the whole prefix);
    /// a stale leader of an older term is not bound by later commits.
    fn check_leader_completeness(&self, raft: &Raft) -> Result<(), SafetyViolation> {
        /// How far back to look for a qualifying commit (bounded work per step).
        const SCAN: usize = 256;
        let log = raft.log();
        let term = raft.term();
        let Some((&index, &(chain, by, _))) = self
            .committed_chain
            .iter()
            .rev()
            .take(SCAN)
            .find(|(_, (_, _, observed))| *observed < term)
        else {
            return Ok(());
        };
        if index <= log.offset() {
            return Ok(());
        }
        if log.last_index() < index || log.chain(index) != Some(chain) {
            return violation(
                "leader_completeness",
                format!("leader {} of term {term} lacks the entry committed at index {index} (committed by node {by})", raft.id()),
            );
        }
        Ok(())
    }
}
