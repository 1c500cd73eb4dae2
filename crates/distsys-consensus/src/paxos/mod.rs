//! Multi-Paxos as a pure state machine (no clock, no sockets, no RNG of its own), with the same
//! driver contract as Raft: give it the time with [`MultiPaxos::tick`], feed it messages with
//! [`MultiPaxos::step`], proposals with [`MultiPaxos::propose`], reads with
//! [`MultiPaxos::read_index`], and carry out [`MultiPaxos::ready`]: persist, then send, then
//! apply.
//!
//! Ballots are `(round, node)`. A node that has not heard from a leader for its randomised
//! timeout runs phase 1 (prepare/promise) once for every slot above what it knows chosen;
//! with promises from a majority it re-proposes, under its ballot, the value accepted with the
//! highest ballot in each of those slots, fills holes with no-ops, and from then on skips phase
//! 1 while its ballot holds (a stable distinguished leader running phase 2 only:
//! accept/accepted). A slot is chosen when a majority accepted it under the leader's ballot;
//! the leader announces the chosen prefix in its heartbeats and accepts, and a replica that
//! lacks a chosen value asks the leader for it. Reads are linearizable through the log: a
//! barrier no-op is proposed and the read is served once the barrier is applied.

mod acceptor;
mod fingerprint;
mod observe;
mod types;

pub use fingerprint::{fingerprint_paxos_message, fingerprint_paxos_persisted};
pub use observe::{observe_cluster, value_hash};
pub use types::{Ballot, PaxosMessage, PaxosPersistOp, PaxosPersisted, PaxosReady, PaxosSnapshot};

use crate::raft::NotLeader;
use crate::types::{Entry, Index, NodeId, ReadId, Role, TimeUs};
use acceptor::Acceptor;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Configuration. Times are in microseconds of the driver's clock.
#[derive(Debug, Clone)]
pub struct PaxosConfig {
    /// This node.
    pub id: NodeId,
    /// Every replica, this one included.
    pub nodes: Vec<NodeId>,
    /// Randomised leader-failure timeout range.
    pub election_timeout_us: (TimeUs, TimeUs),
    /// Leader heartbeat interval.
    pub heartbeat_us: TimeUs,
    /// A seeded bug to enable (tests and simulation only).
    pub mutant: Option<PaxosMutant>,
}

/// Deliberately broken Multi-Paxos variants; the fault tests must catch every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaxosMutant {
    /// An acceptor accepts a ballot lower than the one it promised.
    AcceptLowerBallot,
    /// A new leader ignores the values phase 1 found and fills every open slot with no-ops.
    IgnoreFoundValues,
    /// The leader counts accept messages, not distinct acceptors (duplicates make a majority).
    CountDuplicateAccepts,
    /// A learner takes whatever it accepted as chosen, whatever the ballot.
    LearnAnyBallot,
}

impl PaxosMutant {
    /// Every mutant.
    pub const ALL: [PaxosMutant; 4] = [
        PaxosMutant::AcceptLowerBallot,
        PaxosMutant::IgnoreFoundValues,
        PaxosMutant::CountDuplicateAccepts,
        PaxosMutant::LearnAnyBallot,
    ];

    /// What the bug is.
    pub fn description(self) -> &'static str {
        match self {
            PaxosMutant::AcceptLowerBallot => "an acceptor accepts below the ballot it promised",
            PaxosMutant::IgnoreFoundValues => {
                "a new leader drops the values phase 1 found (fills open slots with no-ops)"
            }
            PaxosMutant::CountDuplicateAccepts => {
                "the leader counts accept messages, not acceptors (duplicates make a majority)"
            }
            PaxosMutant::LearnAnyBallot => "a learner takes any accepted value as chosen",
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PaxosMutant::AcceptLowerBallot => "accept-lower-ballot",
            PaxosMutant::IgnoreFoundValues => "ignore-found-values",
            PaxosMutant::CountDuplicateAccepts => "count-duplicate-accepts",
            PaxosMutant::LearnAnyBallot => "learn-any-ballot",
        }
    }
}

impl PaxosConfig {
    /// The same defaults as Raft's: 150-300 ms timeout, 50 ms heartbeat.
    pub fn new(id: NodeId, nodes: Vec<NodeId>) -> PaxosConfig {
        PaxosConfig {
            id,
            nodes,
            election_timeout_us: (150_000, 300_000),
            heartbeat_us: 50_000,
            mutant: None,
        }
    }

    /// Promises (phase 1) and accepts (phase 2) needed: a crash majority of the acceptors.
    fn majority(&self) -> usize {
        distsys_types::QuorumSystem::crash(self.nodes.len()).quorum()
    }
}

/// A leader's phase-1 round in progress.
#[derive(Debug, Clone, Default)]
struct Preparing {
    promises: BTreeSet<NodeId>,
    /// The acceptor with the furthest compacted prefix, and that prefix.
    compacted: (Index, NodeId),
    /// Highest-ballot accepted value seen per slot.
    found: BTreeMap<Index, (Ballot, Vec<u8>)>,
}

/// One Multi-Paxos replica: proposer (when leading), acceptor and learner.
#[derive(Debug, Clone)]
pub struct MultiPaxos {
    config: PaxosConfig,
    rng: ChaCha8Rng,
    acceptor: Acceptor,
    now: TimeUs,
    role: Role,
    /// The ballot this node leads with (or tries to).
    ballot: Ballot,
    leader: Option<NodeId>,
    leader_heard_at: TimeUs,
    deadline: TimeUs,
    heartbeat_at: TimeUs,
    preparing: Option<Preparing>,
    /// Leader: slot -> (value, acceptors that accepted it under `ballot`).
    proposals: BTreeMap<Index, (Vec<u8>, BTreeSet<NodeId>)>,
    /// Mutant CountDuplicateAccepts: accept messages counted per slot.
    accept_messages: BTreeMap<Index, usize>,
    next_slot: Index,
    /// Learner: chosen values by slot (above `applied`), and the chosen prefix.
    chosen: BTreeMap<Index, Vec<u8>>,
    chosen_upto: Index,
    applied: Index,
    applied_chain: u64,
    /// The last snapshot (the chosen prefix it covers is no longer kept slot by slot).
    snapshot: Option<PaxosSnapshot>,
    /// Reads waiting for their barrier slot.
    reads: Vec<(ReadId, Index)>,
    ready: PaxosReady,
    /// Values learned chosen since the last `ready` (slot, value hash), for observers.
    learned: Vec<(Index, u64)>,
    /// What the last `ready` covered, for observers ([`MultiPaxos::observe_last_step`]).
    last_step: observe::StepNotes,
}

/// Chosen values sent per `Chosen` message at most.
const LEARN_BATCH: usize = 64;

impl MultiPaxos {
    /// A replica starting from its acceptor's persisted state (empty for a new one). What it
    /// had learned is volatile: it learns the chosen values again from the leader.
    pub fn new(
        config: PaxosConfig,
        persisted: &PaxosPersisted,
        seed: u64,
        now: TimeUs,
    ) -> MultiPaxos {
        debug_assert!(config.nodes.contains(&config.id));
        let mut paxos = MultiPaxos {
            rng: ChaCha8Rng::seed_from_u64(seed),
            acceptor: Acceptor {
                state: persisted.clone(),
                accept_lower: config.mutant == Some(PaxosMutant::AcceptLowerBallot),
            },
            now,
            role: Role::Follower,
            ballot: Ballot {
                round: persisted.promised.round,
                node: config.id,
            },
            leader: None,
            leader_heard_at: now,
            deadline: 0,
            heartbeat_at: 0,
            preparing: None,
            proposals: BTreeMap::new(),
            accept_messages: BTreeMap::new(),
            next_slot: 1,
            chosen: BTreeMap::new(),
            chosen_upto: 0,
            applied: 0,
            applied_chain: 0,
            snapshot: persisted.snapshot.clone(),
            reads: Vec::new(),
            ready: PaxosReady::default(),
            learned: Vec::new(),
            last_step: observe::StepNotes::default(),
            config,
        };
        if let Some(s) = &persisted.snapshot {
            // The state machine restarts from the snapshot (the driver restores it).
            paxos.chosen_upto = s.index;
            paxos.applied = s.index;
            paxos.applied_chain = s.chain;
            paxos.next_slot = s.index + 1;
        }
        paxos.reset_deadline();
        paxos
    }

    // ----- accessors -----

    /// This node.
    pub fn id(&self) -> NodeId {
        self.config.id
    }
    /// Current role (Candidate while running phase 1).
    pub fn role(&self) -> Role {
        self.role
    }
    /// The ballot this node leads or last tried to lead with.
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }
    /// The leader this node follows, if known.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// Every slot up to this one is chosen and known here.
    pub fn chosen_upto(&self) -> Index {
        self.chosen_upto
    }
    /// The slot the last snapshot covers (0 without one).
    pub fn compacted(&self) -> Index {
        self.snapshot.as_ref().map_or(0, |s| s.index)
    }

    /// Replaces the applied prefix up to `index` (which must be the last applied slot) by the
    /// state machine's snapshot `data`: chosen values and accepted entries up to it are dropped,
    /// and learners behind it get the snapshot instead.
    pub fn compact(&mut self, index: Index, data: Vec<u8>) {
        if index != self.applied || index <= self.compacted() {
            return;
        }
        let snapshot = PaxosSnapshot {
            index,
            chain: self.applied_chain,
            data,
        };
        self.chosen.retain(|slot, _| *slot > index);
        let op = PaxosPersistOp::Compact(snapshot.clone());
        self.acceptor.state.apply(&op);
        self.persist(Some(op));
        self.snapshot = Some(snapshot);
    }

    /// The acceptor's state (what is on disk).
    pub fn acceptor_state(&self) -> &PaxosPersisted {
        &self.acceptor.state
    }

    // ----- inputs -----

    /// Moves the clock to `now` without firing any timer (see [`crate::Core::advance_clock`]).
    pub fn advance_clock(&mut self, now: TimeUs) {
        self.now = self.now.max(now);
    }

    /// Advances the clock: heartbeats and retransmissions (leader), leader-failure detection.
    pub fn tick(&mut self, now: TimeUs) {
        self.advance_clock(now);
        match self.role {
            Role::Leader => {
                if self.now >= self.heartbeat_at {
                    self.heartbeat_at = self.now + self.config.heartbeat_us;
                    self.broadcast_heartbeat();
                    self.retransmit();
                }
            }
            _ => {
                if self.now >= self.deadline {
                    self.start_prepare();
                }
            }
        }
    }

    /// Handles a message from another replica.
    pub fn step(&mut self, from: NodeId, message: PaxosMessage) {
        if from == self.config.id || !self.config.nodes.contains(&from) {
            return;
        }
        match message {
            PaxosMessage::Prepare { ballot, from: slot } => self.on_prepare(from, ballot, slot),
            PaxosMessage::Promise {
                ballot,
                ok,
                promised,
                accepted,
                compacted,
            } => self.on_promise(from, ballot, ok, promised, accepted, compacted),
            PaxosMessage::Accept {
                ballot,
                slot,
                value,
                chosen,
            } => self.on_accept(from, ballot, slot, value, chosen),
            PaxosMessage::Accepted {
                ballot,
                slot,
                ok,
                promised,
            } => self.on_accepted(from, ballot, slot, ok, promised),
            PaxosMessage::Heartbeat { ballot, chosen } => {
                if ballot >= self.acceptor.state.promised {
                    self.follow(ballot);
                    self.learn_upto(from, ballot, chosen);
                }
            }
            PaxosMessage::Learn { from: slot } => self.on_learn(from, slot),
            PaxosMessage::Chosen { values } => {
                for (slot, value) in values {
                    if slot > self.chosen_upto {
                        self.learn(slot, value);
                    }
                }
                self.advance();
            }
            PaxosMessage::Snapshot { snapshot } => self.install(snapshot),
        }
    }

    /// Proposes a command (leader only); returns its slot.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<Index, NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader {
                leader: self.leader.filter(|l| *l != self.config.id),
            });
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        self.propose_in(slot, data);
        Ok(slot)
    }

    /// Starts a linearizable read: a barrier no-op goes through the log, and the read is
    /// confirmed (in [`PaxosReady::reads`]) once the barrier is chosen.
    pub fn read_index(&mut self, id: ReadId) -> Result<(), NotLeader> {
        let slot = self.propose(Vec::new())?;
        self.reads.push((id, slot));
        self.advance();
        Ok(())
    }

    /// Drains the outputs accumulated since the last call.
    pub fn ready(&mut self) -> PaxosReady {
        let ready = std::mem::take(&mut self.ready);
        self.last_step = observe::StepNotes::of(&ready, std::mem::take(&mut self.learned));
        ready
    }

    // ----- phase 1 -----

    fn reset_deadline(&mut self) {
        let (min, max) = self.config.election_timeout_us;
        self.deadline = self.now + self.rng.random_range(min..max);
    }

    fn set_role(&mut self, role: Role) {
        if self.role != role {
            if self.role == Role::Leader {
                for (id, _) in std::mem::take(&mut self.reads) {
                    self.ready.reads_failed.push(id);
                }
                self.proposals.clear();
            }
            self.role = role;
            self.ready.roles.push((role, self.ballot.round));
        }
    }

    fn persist(&mut self, op: Option<PaxosPersistOp>) {
        if let Some(op) = op {
            self.ready.persist.push(op);
        }
    }

    fn send(&mut self, to: NodeId, message: PaxosMessage) {
        self.ready.messages.push((to, message));
    }

    fn others(&self) -> Vec<NodeId> {
        let me = self.config.id;
        self.config
            .nodes
            .iter()
            .copied()
            .filter(|n| *n != me)
            .collect()
    }

    fn start_prepare(&mut self) {
        let round = self.acceptor.state.promised.round.max(self.ballot.round) + 1;
        self.ballot = Ballot {
            round,
            node: self.config.id,
        };
        self.leader = None;
        self.set_role(Role::Candidate);
        self.reset_deadline();
        let (promised_here, op) = self.acceptor.prepare(self.ballot);
        debug_assert!(
            promised_here,
            "a fresh ballot above every promise seen is promised by the local acceptor"
        );
        self.persist(op);
        let from = self.chosen_upto + 1;
        let mut preparing = Preparing::default();
        preparing.promises.insert(self.config.id);
        for (slot, b, v) in self.acceptor.accepted_from(from) {
            preparing.found.insert(slot, (b, v));
        }
        self.preparing = Some(preparing);
        let ballot = self.ballot;
        for peer in self.others() {
            self.send(peer, PaxosMessage::Prepare { ballot, from });
        }
        self.maybe_lead();
    }

    fn on_prepare(&mut self, from: NodeId, ballot: Ballot, slot: Index) {
        let (ok, op) = self.acceptor.prepare(ballot);
        self.persist(op);
        if ok && ballot > self.ballot && self.role != Role::Follower {
            self.set_role(Role::Follower);
        }
        if ok {
            // Give the candidate time to finish before competing with it.
            self.reset_deadline();
        }
        let promised = self.acceptor.state.promised;
        let accepted = if ok {
            self.acceptor.accepted_from(slot)
        } else {
            Vec::new()
        };
        let compacted = self.compacted();
        self.send(
            from,
            PaxosMessage::Promise {
                ballot,
                ok,
                promised,
                accepted,
                compacted,
            },
        );
    }

    fn on_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        ok: bool,
        promised: Ballot,
        accepted: Vec<(Index, Ballot, Vec<u8>)>,
        compacted: Index,
    ) {
        if self.role != Role::Candidate || ballot != self.ballot {
            return;
        }
        if !ok {
            if promised > self.ballot {
                // Someone is ahead: next attempt starts above it.
                self.ballot.round = self.ballot.round.max(promised.round);
            }
            return;
        }
        if let Some(p) = self.preparing.as_mut() {
            p.promises.insert(from);
            if compacted > p.compacted.0 {
                p.compacted = (compacted, from);
            }
            for (slot, b, v) in accepted {
                let better = p.found.get(&slot).is_none_or(|(seen, _)| b > *seen);
                if better {
                    p.found.insert(slot, (b, v));
                }
            }
        }
        self.maybe_lead();
    }

    /// With promises from a majority: re-propose every open slot under this ballot (the value
    /// accepted with the highest ballot, or a no-op in a hole) and lead.
    fn maybe_lead(&mut self) {
        if self.role != Role::Candidate {
            // Stepped down since phase 1 began (a higher ballot was promised here): that round
            // is over, even if its promises reach a majority later.
            self.preparing = None;
            return;
        }
        let enough = self
            .preparing
            .as_ref()
            .is_some_and(|p| p.promises.len() >= self.config.majority());
        if !enough {
            return;
        }
        if let Some((compacted, holder)) = self.preparing.as_ref().map(|p| p.compacted) {
            if compacted > self.chosen_upto {
                // An acceptor compacted chosen slots this node does not know: their values are
                // only in its snapshot. Learn it first, then lead.
                let from = self.chosen_upto + 1;
                self.send(holder, PaxosMessage::Learn { from });
                return;
            }
        }
        let Some(p) = self.preparing.take() else {
            return;
        };
        debug_assert!(
            p.promises.contains(&self.config.id) && self.acceptor.state.promised <= self.ballot,
            "a leader counts its own promise and has promised nothing higher"
        );
        self.set_role(Role::Leader);
        self.leader = Some(self.config.id);
        let last = p
            .found
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(self.chosen_upto)
            .max(self.chosen.keys().next_back().copied().unwrap_or(0));
        for slot in self.chosen_upto + 1..=last {
            let ignore = self.config.mutant == Some(PaxosMutant::IgnoreFoundValues);
            let value = match (self.chosen.get(&slot), p.found.get(&slot)) {
                (Some(v), _) => v.clone(),
                (None, Some((_, v))) if !ignore => v.clone(),
                _ => Vec::new(),
            };
            self.propose_in(slot, value);
        }
        self.next_slot = last + 1;
        self.heartbeat_at = self.now + self.config.heartbeat_us;
        self.broadcast_heartbeat();
    }

    // ----- phase 2 -----

    /// Accepts `value` in `slot` locally and asks every acceptor to accept it.
    fn propose_in(&mut self, slot: Index, value: Vec<u8>) {
        let ballot = self.ballot;
        let Some(op) = self.acceptor.accept(ballot, slot, &value) else {
            // A higher ballot was promised here meanwhile: this leader is done.
            self.set_role(Role::Follower);
            return;
        };
        self.persist(Some(op));
        let accepted = BTreeSet::from([self.config.id]);
        self.proposals.insert(slot, (value.clone(), accepted));
        for peer in self.others() {
            self.send_accept(peer, slot, &value);
        }
        self.check_chosen(slot);
    }

    fn on_accept(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Index,
        value: Vec<u8>,
        chosen: Index,
    ) {
        let op = self.acceptor.accept(ballot, slot, &value);
        let ok = op.is_some();
        self.persist(op);
        let promised = self.acceptor.state.promised;
        self.send(
            from,
            PaxosMessage::Accepted {
                ballot,
                slot,
                ok,
                promised,
            },
        );
        if ok {
            self.follow(ballot);
            self.learn_upto(from, ballot, chosen);
        }
    }

    fn on_accepted(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Index,
        ok: bool,
        promised: Ballot,
    ) {
        if self.role != Role::Leader || ballot != self.ballot {
            return;
        }
        if !ok {
            if promised > self.ballot {
                self.set_role(Role::Follower);
                self.reset_deadline();
            }
            return;
        }
        if let Some((_, acks)) = self.proposals.get_mut(&slot) {
            acks.insert(from);
        }
        *self.accept_messages.entry(slot).or_insert(1) += 1;
        self.check_chosen(slot);
    }

    fn check_chosen(&mut self, slot: Index) {
        let majority = self.config.majority();
        let counted = if self.config.mutant == Some(PaxosMutant::CountDuplicateAccepts) {
            self.accept_messages.get(&slot).copied().unwrap_or(1)
        } else {
            self.proposals.get(&slot).map_or(0, |(_, acks)| acks.len())
        };
        let done = self.proposals.contains_key(&slot) && counted >= majority;
        if done {
            if let Some((value, _)) = self.proposals.remove(&slot) {
                debug_assert!(
                    self.config.mutant.is_some() || self.chosen.get(&slot).is_none_or(|c| *c == value),
                    "a slot is chosen with one value (a seeded bug may break this; the checks then report it)"
                );
                self.learn(slot, value);
            }
            self.accept_messages.remove(&slot);
            self.advance();
        }
    }

    /// Recognises `ballot`'s leader (stepping down from a lower ballot of our own).
    fn follow(&mut self, ballot: Ballot) {
        if ballot > self.ballot || (ballot == self.ballot && ballot.node != self.config.id) {
            if self.role != Role::Follower {
                self.set_role(Role::Follower);
            }
            self.ballot = Ballot {
                round: ballot.round,
                node: self.config.id,
            };
        }
        if ballot.node != self.config.id {
            self.leader = Some(ballot.node);
            self.leader_heard_at = self.now;
            self.reset_deadline();
        }
    }

    /// The leader of `ballot` says every slot up to `chosen` is chosen: values accepted here
    /// under that same ballot are the chosen ones; anything else is fetched from the leader.
    fn learn_upto(&mut self, leader: NodeId, ballot: Ballot, chosen: Index) {
        let mut missing = None;
        for slot in self.chosen_upto + 1..=chosen {
            if self.chosen.contains_key(&slot) {
                continue;
            }
            let any = self.config.mutant == Some(PaxosMutant::LearnAnyBallot);
            match self.acceptor.state.accepted.get(&slot) {
                Some((b, v)) if *b == ballot || any => {
                    let v = v.clone();
                    self.learn(slot, v);
                }
                _ => {
                    missing = Some(slot);
                    break;
                }
            }
        }
        self.advance();
        if let Some(slot) = missing {
            if leader != self.config.id {
                self.send(leader, PaxosMessage::Learn { from: slot });
            }
        }
    }

    fn on_learn(&mut self, from: NodeId, slot: Index) {
        if slot <= self.compacted() {
            if let Some(snapshot) = self.snapshot.clone() {
                self.send(from, PaxosMessage::Snapshot { snapshot });
            }
            return;
        }
        let values: Vec<(Index, Vec<u8>)> = (slot..=self.chosen_upto)
            .take(LEARN_BATCH)
            .filter_map(|s| self.log_value(s).map(|v| (s, v)))
            .collect();
        if !values.is_empty() {
            self.send(from, PaxosMessage::Chosen { values });
        }
    }

    /// Installs a snapshot of a chosen prefix beyond what this node applied.
    fn install(&mut self, snapshot: PaxosSnapshot) {
        if snapshot.index <= self.chosen_upto.max(self.applied) {
            return;
        }
        let index = snapshot.index;
        self.chosen.retain(|slot, _| *slot > index);
        self.chosen_upto = index;
        self.applied = index;
        self.applied_chain = snapshot.chain;
        self.next_slot = self.next_slot.max(index + 1);
        self.ready.install = Some(crate::types::Snapshot {
            last_index: index,
            last_term: 0,
            last_chain: snapshot.chain,
            membership: crate::membership::Membership::new(self.config.nodes.iter().copied()),
            data: bytes::Bytes::from(snapshot.data.clone()),
        });
        let op = PaxosPersistOp::Compact(snapshot.clone());
        self.acceptor.state.apply(&op);
        self.persist(Some(op));
        self.snapshot = Some(snapshot);
        self.advance();
        // A candidate that waited for this snapshot can now lead.
        self.maybe_lead();
    }

    /// Takes `value` as chosen in `slot`.
    fn learn(&mut self, slot: Index, value: Vec<u8>) {
        self.learned.push((slot, value_hash(&value)));
        self.chosen.insert(slot, value);
    }

    /// A chosen value this node knows (kept for learners that ask).
    fn log_value(&self, slot: Index) -> Option<Vec<u8>> {
        self.chosen.get(&slot).cloned()
    }

    /// Moves the chosen prefix forward and emits what became applicable.
    fn advance(&mut self) {
        while self.chosen.contains_key(&(self.chosen_upto + 1)) {
            self.chosen_upto += 1;
        }
        while self.applied < self.chosen_upto {
            let slot = self.applied + 1;
            let Some(value) = self.chosen.get(&slot).cloned() else {
                break;
            };
            let entry = Entry::new(self.applied_chain, slot, 0, value, None);
            self.applied_chain = entry.chain;
            self.applied = slot;
            self.ready.committed.push(entry);
        }
        debug_assert!(
            self.applied <= self.chosen_upto,
            "only chosen slots are applied"
        );
        let applied = self.applied;
        let (done, waiting): (Vec<_>, Vec<_>) =
            self.reads.iter().partition(|(_, slot)| *slot <= applied);
        self.reads = waiting;
        self.ready.reads.extend(done);
    }

    fn broadcast_heartbeat(&mut self) {
        let (ballot, chosen) = (self.ballot, self.chosen_upto);
        for peer in self.others() {
            self.send(peer, PaxosMessage::Heartbeat { ballot, chosen });
        }
    }

    /// Asks `peer` to accept `value` in `slot` under this leader's ballot, telling it the
    /// chosen prefix.
    fn send_accept(&mut self, peer: NodeId, slot: Index, value: &[u8]) {
        let message = PaxosMessage::Accept {
            ballot: self.ballot,
            slot,
            value: value.to_vec(),
            chosen: self.chosen_upto,
        };
        self.send(peer, message);
    }

    /// Re-sends the accepts not yet acknowledged (messages may have been lost).
    fn retransmit(&mut self) {
        let pending: Vec<(Index, Vec<u8>, BTreeSet<NodeId>)> = self
            .proposals
            .iter()
            .take(LEARN_BATCH)
            .map(|(s, (v, acks))| (*s, v.clone(), acks.clone()))
            .collect();
        for (slot, value, acks) in pending {
            for peer in self.others().into_iter().filter(|p| !acks.contains(p)) {
                self.send_accept(peer, slot, &value);
            }
        }
    }
}
