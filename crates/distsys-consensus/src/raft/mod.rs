//! Raft as a pure state machine (no clock, no sockets, no RNG of its own: all injected).
//!
//! Inputs: [`Raft::tick`] with the driver's time (call it before any other input whenever time
//! may have moved, e.g. after a pause), [`Raft::step`] with a message from a peer,
//! [`Raft::propose`], [`Raft::read_index`], [`Raft::compact`]. Outputs accumulate in a
//! [`Ready`] that the driver drains with [`Raft::ready`]: persist first, then send, then apply.
//!
//! Implemented: randomized election timeouts, pre-vote, check-quorum (a leader that has not heard
//! from a majority within an election timeout steps down; a follower that has heard from a leader
//! within the minimum election timeout ignores disruptive votes, and forgets the leader after
//! that so pre-votes can succeed again, known-bugs #8), log replication with the log-matching
//! check and fast conflict backtracking by term, pipelined AppendEntries bounded by in-flight
//! message count and entries per message (known-bugs #14), commit only of entries of the
//! leader's own term, a no-op at the start of every term, ReadIndex reads tagged with the term
//! and a heartbeat round number (known-bugs #3), snapshots with InstallSnapshot, leadership
//! transfer (TimeoutNow) to a caught-up voter only (known-bugs #9), and membership change by
//! joint consensus ([`Raft::propose_membership`]): a membership takes effect when its entry is
//! appended (known-bugs #6), a change starts only after the leader has committed an entry of its
//! term (the single-server-change bug, Ongaro 2015), the leader leaves the joint membership on
//! its own once it commits, and a leader that is no longer a voter steps down as soon as the
//! membership without it commits (known-bugs #7).

mod durability;
mod fingerprint;
mod log;

pub use fingerprint::{fingerprint_message, fingerprint_persisted, message_round};
pub use log::RaftLog;

use crate::membership::Membership;
use crate::mutants::Mutant;
use crate::types::{
    Entry, HardState, Index, Message, NodeId, PersistOp, Persisted, ReadId, Ready, Role, Snapshot,
    Term, TimeUs,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Raft's configuration. Times are in microseconds of the driver's clock.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node.
    pub id: NodeId,
    /// The bootstrap voters: the membership before any membership entry or snapshot. Every
    /// founding node must be given the same list; a node joining a running cluster is given an
    /// empty list and learns the membership from the leader's log.
    pub voters: Vec<NodeId>,
    /// Lower bound of the randomised election timeout.
    pub election_timeout_min_us: TimeUs,
    /// Upper bound (exclusive) of the randomised election timeout.
    pub election_timeout_max_us: TimeUs,
    /// Interval between leader heartbeats.
    pub heartbeat_us: TimeUs,
    /// Run a pre-vote round before a real election.
    pub pre_vote: bool,
    /// Leaders step down without a majority; followers with a live leader ignore votes.
    pub check_quorum: bool,
    /// AppendEntries messages with entries in flight per follower.
    pub max_inflight_msgs: usize,
    /// Bytes of entries in flight per follower (known-bugs #14: counting messages alone let
    /// a slow follower be sent gigabytes). At least one message is always allowed.
    pub max_inflight_bytes: u64,
    /// Entries per AppendEntries message.
    pub max_entries_per_msg: usize,
    /// Bytes of entries per AppendEntries message (at least one entry is always sent).
    pub max_msg_bytes: u64,
    /// Serve reads from a leader lease instead of a ReadIndex round while the lease holds.
    /// Off by default. Assumes every node's clock runs at most `lease_drift_bound` (a ratio)
    /// faster or slower than real time: the lease lasts
    /// `election_timeout_min × (1 − 2 × lease_drift_bound)` from the *sending* of the heartbeat
    /// round a majority acknowledged, on the leader's own monotonic clock (a paused leader's
    /// lease has expired when it wakes, known-bugs #5). Refused unless `check_quorum` is on,
    /// since followers only promise not to elect anyone else within an election timeout of
    /// hearing from the leader when check-quorum is on (known-bugs #4).
    pub lease_read: bool,
    /// Bound on clock drift assumed by the leader lease (0.1 = 10%).
    pub lease_drift_bound: f64,
    /// Entries a compaction keeps of those its snapshot covers, so that a follower at most
    /// this far behind is sent entries, not the whole snapshot (etcd: 5,000). In memory only.
    pub catch_up_entries: usize,
    /// How long a leader waits for a follower to answer a snapshot before it may send it
    /// again. Meanwhile a rejected append (one sent before the snapshot, or a heartbeat that
    /// overtook it) does not make it resend, which would restart a large transfer on every
    /// heartbeat; after it, the next rejection does (the snapshot was lost). Set it above the
    /// time a snapshot takes to arrive.
    pub snapshot_retry_us: TimeUs,
    /// Pipelined persistence (etcd-raft's asynchronous storage writes): the leader's appends
    /// and heartbeats leave in [`Ready::early`] while its own write is in flight, and it counts
    /// itself toward a commit only up to what the driver has reported durable
    /// ([`Raft::persisted`] with [`Ready::write`]). Everything else (votes, acknowledgements,
    /// anything in a new term before its term and vote are durable) still waits for the
    /// write. Off: the driver persists each Ready before sending anything, and need not report.
    pub async_persist: bool,
    /// A seeded bug to enable (tests and simulation only).
    pub mutant: Option<Mutant>,
}

impl Config {
    /// A configuration with the seed's defaults: 150-300 ms election timeout, 50 ms heartbeat,
    /// pre-vote and check-quorum on.
    pub fn new(id: NodeId, voters: Vec<NodeId>) -> Config {
        Config {
            id,
            voters,
            election_timeout_min_us: 150_000,
            election_timeout_max_us: 300_000,
            heartbeat_us: 50_000,
            pre_vote: true,
            check_quorum: true,
            max_inflight_msgs: 64,
            max_inflight_bytes: 4 << 20,
            max_entries_per_msg: 64,
            max_msg_bytes: 256 << 10,
            lease_read: false,
            lease_drift_bound: 0.1,
            catch_up_entries: 256,
            snapshot_retry_us: 1_200_000,
            async_persist: false,
            mutant: None,
        }
    }

    /// How long a lease lasts after its heartbeat round was sent, in microseconds.
    pub fn lease_us(&self) -> TimeUs {
        let factor = (1.0 - 2.0 * self.lease_drift_bound).clamp(0.0, 1.0);
        (self.election_timeout_min_us as f64 * factor) as TimeUs
    }
}

/// Why a membership change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipError {
    /// Only the leader changes the membership.
    NotLeader(NotLeader),
    /// A change is still in progress (uncommitted, or joint): one at a time.
    ChangeInProgress,
    /// The leader has not committed an entry of its own term yet; changing the membership before
    /// that can lose a committed change (the single-server-change bug, Ongaro 2015).
    LeaderNotSettled,
    /// A membership needs at least one voter.
    NoVoters,
}

impl std::fmt::Display for MembershipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MembershipError::NotLeader(NotLeader { leader: Some(l) }) => {
                write!(f, "not the leader; node {l} is")
            }
            MembershipError::NotLeader(NotLeader { leader: None }) => {
                write!(f, "not the leader; no leader known")
            }
            MembershipError::ChangeInProgress => {
                write!(f, "a membership change is still in progress")
            }
            MembershipError::LeaderNotSettled => {
                write!(f, "the leader has not committed an entry of its term yet")
            }
            MembershipError::NoVoters => write!(f, "a membership needs at least one voter"),
        }
    }
}

impl std::error::Error for MembershipError {}

/// Why a proposal or read was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotLeader {
    /// The leader this node knows of, if any.
    pub leader: Option<NodeId>,
}

/// What the leader knows of one follower.
#[derive(Debug, Clone)]
struct Progress {
    next: Index,
    matched: Index,
    /// Unacknowledged AppendEntries with entries: (last index sent, bytes), oldest first.
    inflight: std::collections::VecDeque<(Index, u64)>,
    inflight_bytes: u64,
    /// A snapshot is on its way: send nothing else until the follower answers.
    snapshot_pending: bool,
    /// When the pending snapshot was sent (meaningless when none is pending).
    snapshot_sent_at: TimeUs,
    last_heard: TimeUs,
    probe_acked: u64,
}

impl Progress {
    fn new(next: Index, now: TimeUs) -> Progress {
        Progress {
            next,
            matched: 0,
            inflight: std::collections::VecDeque::new(),
            inflight_bytes: 0,
            snapshot_pending: false,
            snapshot_sent_at: 0,
            last_heard: now,
            probe_acked: 0,
        }
    }

    /// Forgets every message in flight (after a rejection, they are all void).
    fn clear_inflight(&mut self) {
        self.inflight.clear();
        self.inflight_bytes = 0;
        self.snapshot_pending = false;
    }

    /// Frees the messages the follower has acknowledged up to `matched`; a pending snapshot
    /// is answered once `matched` reaches it (an older append's success is not its answer).
    fn free_inflight(&mut self, matched: Index) {
        while let Some((last, bytes)) = self.inflight.front().copied() {
            if last > matched {
                break;
            }
            self.inflight.pop_front();
            self.inflight_bytes -= bytes;
        }
        if matched + 1 >= self.next {
            self.snapshot_pending = false;
        }
    }

    /// Whether a rejection now is one to ignore: a snapshot is pending and was sent less than
    /// `retry_us` ago, so the rejected append is older than it or overtook it.
    fn awaits_snapshot(&self, now: TimeUs, retry_us: TimeUs) -> bool {
        self.snapshot_pending && now.saturating_sub(self.snapshot_sent_at) < retry_us
    }

    fn can_send(&self, config: &Config) -> bool {
        !self.snapshot_pending
            && self.inflight.len() < config.max_inflight_msgs
            && (self.inflight.is_empty() || self.inflight_bytes < config.max_inflight_bytes)
    }
}

#[derive(Debug, Clone, Copy)]
struct PendingRead {
    id: ReadId,
    probe: u64,
}

/// One Raft node.
#[derive(Debug, Clone)]
pub struct Raft {
    config: Config,
    rng: ChaCha8Rng,
    hard_state: HardState,
    role: Role,
    leader: Option<NodeId>,
    log: RaftLog,
    /// The membership in effect: the last one in the log (appended, not necessarily committed).
    membership: Membership,
    /// Index of the entry that carries `membership` (0 for the bootstrap membership).
    membership_index: Index,
    commit: Index,
    emitted: Index,
    now: TimeUs,
    election_deadline: TimeUs,
    heartbeat_deadline: TimeUs,
    leader_heard_at: TimeUs,
    votes: BTreeMap<NodeId, bool>,
    progress: BTreeMap<NodeId, Progress>,
    probe: u64,
    /// When this node started: with leases on it refuses votes for an election timeout after a
    /// restart, because it no longer knows when it last heard from the leader.
    started_at: TimeUs,
    /// When recent heartbeat rounds were sent (bounded), for the leader lease.
    probe_sent_at: std::collections::VecDeque<(u64, TimeUs)>,
    reads: Vec<PendingRead>,
    transferring: bool,
    deferred_hard_state: Option<HardState>,
    /// Writes in flight and the durable log prefix (with [`Config::async_persist`]).
    durability: durability::Durability,
    ready: Ready,
}

impl Raft {
    /// A node starting from its persisted state (empty for a new node). `seed` feeds the
    /// election-timeout randomness; `now` is the driver's current time.
    pub fn new(config: Config, persisted: &Persisted, seed: u64, now: TimeUs) -> Raft {
        debug_assert!(config.election_timeout_min_us < config.election_timeout_max_us);
        debug_assert!(config.heartbeat_us < config.election_timeout_min_us);
        let log = RaftLog::new(persisted.snapshot.clone(), persisted.entries.clone());
        let commit = log.offset();
        let mut raft = Raft {
            rng: ChaCha8Rng::seed_from_u64(seed),
            hard_state: persisted.hard_state,
            role: Role::Follower,
            leader: None,
            log,
            membership: Membership::default(),
            membership_index: 0,
            commit,
            emitted: commit,
            now,
            election_deadline: 0,
            heartbeat_deadline: 0,
            leader_heard_at: 0,
            votes: BTreeMap::new(),
            progress: BTreeMap::new(),
            probe: 0,
            probe_sent_at: std::collections::VecDeque::new(),
            started_at: now,
            reads: Vec::new(),
            transferring: false,
            deferred_hard_state: None,
            durability: durability::Durability::starting_at(persisted_last(persisted)),
            ready: Ready::default(),
            config,
        };
        if let Some(snapshot) = raft.log.snapshot().cloned() {
            raft.ready.install = Some(snapshot);
        }
        raft.refresh_membership();
        raft.reset_election_deadline();
        raft
    }

    // ----- accessors (read-only views for drivers and safety predicates) -----

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }
    /// Current role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Current term.
    pub fn term(&self) -> Term {
        self.hard_state.term
    }
    /// Term and vote.
    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }
    /// The leader this node follows, if known.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// Commit index.
    pub fn commit_index(&self) -> Index {
        self.commit
    }
    /// The log.
    pub fn log(&self) -> &RaftLog {
        &self.log
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The membership in effect (the last one in the log, committed or not).
    pub fn membership(&self) -> &Membership {
        &self.membership
    }
    /// Index of the entry that installed the membership in effect (0: the bootstrap one).
    pub fn membership_index(&self) -> Index {
        self.membership_index
    }
    /// Replication progress of each follower (leader only): `(follower, matched index)`.
    pub fn follower_matches(&self) -> Vec<(NodeId, Index)> {
        self.progress
            .iter()
            .map(|(id, p)| (*id, p.matched))
            .collect()
    }

    // ----- inputs -----

    /// Moves the clock to `now` without firing any timer (see [`crate::Core::advance_clock`]).
    pub fn advance_clock(&mut self, now: TimeUs) {
        self.now = self.now.max(now);
    }

    /// Advances the node's clock; fires election, heartbeat and check-quorum timers.
    pub fn tick(&mut self, now: TimeUs) {
        self.advance_clock(now);
        match self.role {
            Role::Leader => {
                if self.now >= self.heartbeat_deadline {
                    self.heartbeat_deadline = self.now + self.config.heartbeat_us;
                    self.new_probe_round();
                    self.broadcast_append(true);
                }
                let check_quorum = self.config.check_quorum
                    && self.config.mutant != Some(Mutant::LeaderReadWithoutQuorum);
                if check_quorum && self.now >= self.election_deadline {
                    let window = self.config.election_timeout_min_us;
                    let heard = self.membership.quorum_value(|id| {
                        let recent = id == self.config.id
                            || self
                                .progress
                                .get(&id)
                                .is_some_and(|p| self.now.saturating_sub(p.last_heard) < window);
                        u64::from(recent)
                    });
                    if heard == 0 {
                        let term = self.hard_state.term;
                        self.become_follower(term, None);
                    } else {
                        self.election_deadline = self.now + window;
                    }
                }
            }
            _ => {
                // Forget a leader not heard from for an election timeout (known-bugs #8).
                if self.leader.is_some()
                    && self.now.saturating_sub(self.leader_heard_at)
                        >= self.config.election_timeout_min_us
                {
                    self.leader = None;
                }
                if self.now >= self.election_deadline {
                    if !self.membership.is_voter(self.config.id) {
                        // Learners and removed nodes never campaign.
                        self.reset_election_deadline();
                    } else if self.config.pre_vote {
                        self.start_pre_vote();
                    } else {
                        self.start_election();
                    }
                }
            }
        }
    }

    /// Handles one message from a peer.
    pub fn step(&mut self, from: NodeId, message: Message) {
        if from == self.config.id {
            return;
        }
        if matches!(message, Message::RequestVote { .. }) && !self.membership.is_voter(from) {
            // A removed node (or one this node does not know yet) cannot be elected here: ignore
            // it before its term disturbs anything (known-bugs #7).
            return;
        }
        let term = message.term();
        let my_term = self.hard_state.term;
        if term > my_term {
            match &message {
                // A pre-vote request never changes our term.
                Message::RequestVote { pre_vote: true, .. } => {}
                // A granted pre-vote carries the candidate's future term: not a newer term.
                Message::RequestVoteResponse {
                    pre_vote: true,
                    granted: true,
                    ..
                } => {}
                Message::RequestVote {
                    pre_vote: false, ..
                } if self.in_lease() && !self.transferring => {
                    // A live leader exists: ignore a disruptive candidate (check-quorum lease).
                    return;
                }
                Message::AppendEntries { .. } | Message::InstallSnapshot { .. } => {
                    self.become_follower(term, Some(from))
                }
                _ => self.become_follower(term, None),
            }
        } else if term < my_term {
            self.answer_stale(from, &message);
            return;
        }
        match message {
            Message::RequestVote {
                term,
                last_index,
                last_term,
                pre_vote,
            } => self.handle_vote_request(from, term, last_index, last_term, pre_vote),
            Message::RequestVoteResponse {
                term,
                granted,
                pre_vote,
            } => self.handle_vote_response(from, term, granted, pre_vote),
            Message::AppendEntries {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
                probe,
            } => self.handle_append(from, term, prev_index, prev_term, entries, commit, probe),
            Message::AppendEntriesResponse {
                success,
                match_index,
                hint_index,
                probe,
                ..
            } => self.handle_append_response(from, success, match_index, hint_index, probe),
            Message::InstallSnapshot {
                term,
                snapshot,
                probe,
            } => self.handle_snapshot(from, term, snapshot, probe),
            Message::TimeoutNow { .. } => {
                if self.role != Role::Leader && self.membership.is_voter(self.config.id) {
                    self.transferring = true;
                    self.start_election();
                }
            }
        }
    }

    /// A message from an older term: a stale leader hears the newer term (so it steps down),
    /// a pre-vote from the past is refused; anything else is dropped.
    fn answer_stale(&mut self, from: NodeId, message: &Message) {
        let my_term = self.hard_state.term;
        match *message {
            Message::AppendEntries { probe, .. } | Message::InstallSnapshot { probe, .. } => {
                // Tell a stale leader about the newer term so it steps down.
                self.send(
                    from,
                    Message::AppendEntriesResponse {
                        term: my_term,
                        success: false,
                        match_index: 0,
                        hint_index: 0,
                        probe,
                    },
                );
            }
            Message::RequestVote { pre_vote: true, .. } => {
                self.send(
                    from,
                    Message::RequestVoteResponse {
                        term: my_term,
                        granted: false,
                        pre_vote: true,
                    },
                );
            }
            _ => {}
        }
    }

    /// Appends a command to the log (leader only); returns its index.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<Index, NotLeader> {
        if self.role != Role::Leader || self.transferring {
            return Err(NotLeader {
                leader: self.leader.filter(|l| *l != self.config.id),
            });
        }
        let entry = self.log.append_new(self.hard_state.term, data, None);
        let index = entry.index;
        self.ready.persist.push(PersistOp::Append(vec![entry]));
        self.broadcast_append(false);
        self.maybe_commit();
        Ok(index)
    }

    /// Starts a linearizable read: the read is confirmed (in [`Ready::reads`]) once a majority
    /// has acknowledged a heartbeat round sent after this call, in this term, and the leader has
    /// committed an entry of its term; the driver serves it once it has applied that index.
    pub fn read_index(&mut self, id: ReadId) -> Result<(), NotLeader> {
        let local_read = match self.config.mutant {
            Some(Mutant::FollowerStaleRead) => true,
            Some(Mutant::LeaderReadWithoutQuorum) => self.role == Role::Leader,
            _ => false,
        };
        if local_read {
            self.ready.reads.push((id, self.commit));
            return Ok(());
        }
        if self.role != Role::Leader {
            return Err(NotLeader {
                leader: self.leader,
            });
        }
        if self.lease_holds() {
            self.ready.reads.push((id, self.commit));
            return Ok(());
        }
        self.new_probe_round();
        self.reads.push(PendingRead {
            id,
            probe: self.probe,
        });
        self.broadcast_heartbeat();
        // A leader that is a quorum on its own confirms at once.
        self.confirm_reads();
        Ok(())
    }

    /// Compacts the log up to `index` (already applied by the driver) into a snapshot whose
    /// state machine bytes are `data`.
    pub fn compact(&mut self, index: Index, data: Vec<u8>) {
        if index <= self.log.offset() || index > self.commit {
            return;
        }
        let (Some(last_term), Some(last_chain)) = (self.log.term(index), self.log.chain(index))
        else {
            return;
        };
        let snapshot = Snapshot {
            last_index: index,
            last_term,
            last_chain,
            data: data.into(),
            membership: self.membership_at(index),
        };
        self.log
            .compact(snapshot.clone(), self.config.catch_up_entries);
        self.ready.persist.push(PersistOp::Snapshot(snapshot));
    }

    /// Changes the membership to `voters` and `learners` (leader only). A change of voters
    /// goes through a joint membership (old and new voters must both agree) that the leader
    /// leaves on its own once it commits; a change of learners only is direct. Returns the index
    /// of the entry that starts the change.
    pub fn propose_membership(
        &mut self,
        voters: BTreeSet<NodeId>,
        learners: BTreeSet<NodeId>,
    ) -> Result<Index, MembershipError> {
        if self.role != Role::Leader || self.transferring {
            return Err(MembershipError::NotLeader(NotLeader {
                leader: self.leader.filter(|l| *l != self.config.id),
            }));
        }
        if voters.is_empty() {
            return Err(MembershipError::NoVoters);
        }
        if self.membership.is_joint() || self.membership_index > self.commit {
            return Err(MembershipError::ChangeInProgress);
        }
        if self.log.term(self.commit) != Some(self.hard_state.term) {
            return Err(MembershipError::LeaderNotSettled);
        }
        let next = self.membership.change_to(voters, learners);
        Ok(self.append_membership(next))
    }

    /// Hands leadership to `target` once its log has caught up (leader only; voters only,
    /// known-bugs #9). Returns whether the transfer was started.
    pub fn transfer_leadership(&mut self, target: NodeId) -> bool {
        if self.role != Role::Leader
            || target == self.config.id
            || !self.membership.voters.contains(&target)
        {
            return false;
        }
        let caught_up = self
            .progress
            .get(&target)
            .is_some_and(|p| p.matched == self.log.last_index());
        if caught_up {
            self.send(
                target,
                Message::TimeoutNow {
                    term: self.hard_state.term,
                },
            );
        }
        caught_up
    }

    /// Drains the outputs accumulated since the last call.
    pub fn ready(&mut self) -> Ready {
        let mut out = std::mem::take(&mut self.ready);
        // Mutant: a vote persisted only with the *next* Ready, after its reply has left.
        if let Some(hs) = self.deferred_hard_state.take() {
            self.ready.persist.push(PersistOp::HardState(hs));
        }
        debug_assert!(out
            .committed
            .windows(2)
            .all(|w| w[0].index + 1 == w[1].index));
        out.committed
            .retain(|e| e.index > out.install.as_ref().map_or(0, |s| s.last_index));
        if self.config.async_persist && !out.persist.is_empty() {
            let hard_state = out
                .persist
                .iter()
                .any(|op| matches!(op, PersistOp::HardState(_)));
            out.write = self.durability.issue(self.log.last_index(), hard_state);
        }
        if self.config.async_persist
            && self.role == Role::Leader
            && !self.durability.hard_state_pending()
        {
            let (early, later) = std::mem::take(&mut out.messages)
                .into_iter()
                .partition(|(_, m)| matches!(m, Message::AppendEntries { .. }));
            out.early = early;
            out.messages = later;
        }
        out
    }

    /// The driver's report that the write of the Ready whose [`Ready::write`] was `write`
    /// (and every earlier one) is durable: the leader may now count its own copy of those
    /// entries toward a commit. Only meaningful with [`Config::async_persist`].
    pub fn persisted(&mut self, write: u64) {
        if !self.config.async_persist || write == 0 {
            return;
        }
        self.durability.persisted(write);
        self.maybe_commit();
    }

    // ----- elections -----

    fn in_lease(&self) -> bool {
        let fresh = self.config.lease_read
            && self.now < self.started_at + self.config.election_timeout_min_us;
        let heard_recently = self.config.check_quorum
            && self.leader.is_some()
            && self.now.saturating_sub(self.leader_heard_at) < self.config.election_timeout_min_us;
        fresh || heard_recently
    }

    fn reset_election_deadline(&mut self) {
        let (min, max) = (
            self.config.election_timeout_min_us,
            self.config.election_timeout_max_us,
        );
        self.election_deadline = self.now + self.rng.random_range(min..max);
    }

    fn persist_hard_state(&mut self) {
        self.ready
            .persist
            .push(PersistOp::HardState(self.hard_state));
    }

    fn set_role(&mut self, role: Role) {
        if self.role != role {
            self.role = role;
            self.ready.roles.push((role, self.hard_state.term));
        }
    }

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if term > self.hard_state.term {
            self.hard_state = HardState { term, vote: None };
            self.persist_hard_state();
        }
        let was_leader = self.role == Role::Leader;
        self.set_role(Role::Follower);
        self.leader = leader;
        if leader.is_some() {
            self.leader_heard_at = self.now;
        }
        self.transferring = false;
        self.votes.clear();
        if was_leader {
            self.progress.clear();
            for read in std::mem::take(&mut self.reads) {
                self.ready.reads_failed.push(read.id);
            }
        }
        self.reset_election_deadline();
    }

    fn broadcast_vote_request(&mut self, term: Term, pre_vote: bool) {
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        let me = self.config.id;
        let voters = self.membership.all_voters();
        for peer in voters.into_iter().filter(|v| *v != me) {
            self.send(
                peer,
                Message::RequestVote {
                    term,
                    last_index,
                    last_term,
                    pre_vote,
                },
            );
        }
    }

    fn start_pre_vote(&mut self) {
        self.set_role(Role::PreCandidate);
        self.leader = None;
        self.votes = BTreeMap::from([(self.config.id, true)]);
        self.reset_election_deadline();
        self.broadcast_vote_request(self.hard_state.term + 1, true);
        self.tally(true);
    }

    fn start_election(&mut self) {
        self.hard_state = HardState {
            term: self.hard_state.term + 1,
            vote: Some(self.config.id),
        };
        self.persist_hard_state();
        self.set_role(Role::Candidate);
        self.leader = None;
        self.votes = BTreeMap::from([(self.config.id, true)]);
        self.reset_election_deadline();
        self.broadcast_vote_request(self.hard_state.term, false);
        self.tally(false);
    }

    /// Acts on the votes received so far: win, lose, or keep waiting.
    fn tally(&mut self, pre_vote: bool) {
        match self.membership.vote_result(&self.votes) {
            Some(true) if pre_vote => self.start_election(),
            Some(true) => self.become_leader(),
            Some(false) => {
                let term = self.hard_state.term;
                self.become_follower(term, None);
            }
            None => {}
        }
    }

    fn log_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        (last_term, last_index) >= (self.log.last_term(), self.log.last_index())
    }

    fn handle_vote_request(
        &mut self,
        from: NodeId,
        term: Term,
        last_index: Index,
        last_term: Term,
        pre_vote: bool,
    ) {
        let up_to_date = self.log_up_to_date(last_index, last_term);
        if pre_vote {
            let granted = up_to_date && term > self.hard_state.term && !self.in_lease();
            let reply_term = if granted { term } else { self.hard_state.term };
            self.send(
                from,
                Message::RequestVoteResponse {
                    term: reply_term,
                    granted,
                    pre_vote: true,
                },
            );
            return;
        }
        debug_assert_eq!(term, self.hard_state.term);
        let free = match self.hard_state.vote {
            None => true,
            Some(v) => v == from || self.config.mutant == Some(Mutant::VoteTwice),
        };
        let granted = free && up_to_date && self.role != Role::Leader;
        if granted {
            self.hard_state.vote = Some(from);
            if self.config.mutant == Some(Mutant::ReplyBeforePersistVote) {
                self.deferred_hard_state = Some(self.hard_state);
            } else {
                self.persist_hard_state();
            }
            self.reset_election_deadline();
        }
        self.send(
            from,
            Message::RequestVoteResponse {
                term: self.hard_state.term,
                granted,
                pre_vote: false,
            },
        );
    }

    fn handle_vote_response(&mut self, from: NodeId, term: Term, granted: bool, pre_vote: bool) {
        let expected = if pre_vote {
            // Granted pre-votes carry our next term; refusals carry the voter's own term.
            self.role == Role::PreCandidate && (term == self.hard_state.term + 1 || !granted)
        } else {
            self.role == Role::Candidate && term == self.hard_state.term
        };
        if !expected {
            return;
        }
        self.votes.insert(from, granted);
        self.tally(pre_vote);
    }

    fn become_leader(&mut self) {
        // A candidate voted for itself, unless a seeded bug let it vote again in its term (the
        // safety monitor, not this assertion, must be what catches that).
        debug_assert!(
            self.hard_state.vote == Some(self.config.id)
                || self.config.mutant == Some(Mutant::VoteTwice)
        );
        self.set_role(Role::Leader);
        self.leader = Some(self.config.id);
        self.transferring = false;
        self.progress.clear();
        self.sync_progress();
        self.election_deadline = self.now + self.config.election_timeout_min_us;
        self.heartbeat_deadline = self.now + self.config.heartbeat_us;
        let skip_noop = matches!(
            self.config.mutant,
            Some(Mutant::NoNoopOnElection | Mutant::CommitOldTerm)
        );
        if !skip_noop {
            let entry = self.log.append_new(self.hard_state.term, Vec::new(), None);
            self.ready.persist.push(PersistOp::Append(vec![entry]));
        }
        self.broadcast_append(true);
        self.maybe_commit();
    }

    // ----- replication -----

    /// Every other node that receives the log (voters of both sets and learners).
    fn peers(&self) -> Vec<NodeId> {
        self.progress.keys().copied().collect()
    }

    /// Makes the leader's progress table match the membership: new members start probing
    /// from the end of the log, departed ones are forgotten.
    fn sync_progress(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let members = self.membership.members();
        let me = self.config.id;
        self.progress.retain(|id, _| members.contains(id));
        let next = self.log.last_index() + 1;
        for id in members.into_iter().filter(|id| *id != me) {
            let now = self.now;
            self.progress
                .entry(id)
                .or_insert_with(|| Progress::new(next, now));
        }
    }

    /// Re-reads the membership in effect from the log (after an append, truncation or
    /// snapshot that may have changed it).
    fn refresh_membership(&mut self) {
        let (index, membership) = match self.log.membership() {
            Some((index, m)) => (index, m.clone()),
            None => (0, Membership::new(self.config.voters.iter().copied())),
        };
        if (index, &membership) != (self.membership_index, &self.membership) {
            self.membership = membership;
            self.membership_index = index;
            self.sync_progress();
        }
    }

    /// The membership in effect at `index` (at or after the snapshot point).
    fn membership_at(&self, index: Index) -> Membership {
        self.log
            .membership_at(index)
            .cloned()
            .unwrap_or_else(|| Membership::new(self.config.voters.iter().copied()))
    }

    /// Appends a membership entry (leader only) and starts replicating it; it is in effect here
    /// from now on. Returns its index.
    fn append_membership(&mut self, membership: Membership) -> Index {
        debug_assert_eq!(self.role, Role::Leader);
        let entry = self
            .log
            .append_new(self.hard_state.term, Vec::new(), Some(membership));
        let index = entry.index;
        self.ready.persist.push(PersistOp::Append(vec![entry]));
        self.refresh_membership();
        self.broadcast_append(false);
        self.maybe_commit();
        index
    }

    /// Once the membership entry commits: leave a joint membership, or step down if this leader
    /// is no longer a voter (known-bugs #7).
    fn advance_membership(&mut self) {
        if self.role != Role::Leader || self.membership_index > self.commit {
            return;
        }
        if self.membership.is_joint() {
            let next = self.membership.leave_joint();
            self.append_membership(next);
        } else if !self.membership.is_voter(self.config.id) {
            let term = self.hard_state.term;
            self.become_follower(term, None);
        }
    }

    fn send(&mut self, to: NodeId, message: Message) {
        self.ready.messages.push((to, message));
    }

    fn broadcast_heartbeat(&mut self) {
        for peer in self.peers() {
            self.send_append(peer, true);
        }
    }

    fn broadcast_append(&mut self, heartbeat: bool) {
        for peer in self.peers() {
            self.send_append(peer, heartbeat);
        }
    }

    /// Sends `peer` what it is missing (or a heartbeat). Entries go out optimistically
    /// (pipelining) while fewer than `max_inflight_msgs` messages and `max_inflight_bytes`
    /// bytes are unacknowledged.
    fn send_append(&mut self, peer: NodeId, heartbeat: bool) {
        let Some(progress) = self.progress.get(&peer) else {
            return;
        };
        let (next, can_send) = (progress.next, progress.can_send(&self.config));
        let term = self.hard_state.term;
        let probe = self.probe;
        // Entries go out while the log holds the one before `next` (after the snapshot, or in
        // the tail a compaction kept); past that, only the snapshot can catch the peer up.
        let held = next > self.log.offset()
            || (self.log.entry(next).is_some() && self.log.term(next - 1).is_some());
        if !held {
            if let Some(snapshot) = self.log.snapshot().cloned() {
                let now = self.now;
                if let Some(p) = self.progress.get_mut(&peer) {
                    p.next = snapshot.last_index + 1;
                    p.snapshot_pending = true;
                    p.snapshot_sent_at = now;
                }
                self.send(
                    peer,
                    Message::InstallSnapshot {
                        term,
                        snapshot,
                        probe,
                    },
                );
            }
            return;
        }
        let can_send_entries = can_send && next <= self.log.last_index();
        if !can_send_entries && !heartbeat {
            return;
        }
        let prev_index = next - 1;
        let prev_term = self.log.term(prev_index).unwrap_or(0);
        let (entries, bytes) = if can_send_entries {
            self.log.slice_bounded(
                next,
                self.config.max_entries_per_msg,
                self.config.max_msg_bytes,
            )
        } else {
            (Vec::new(), 0)
        };
        if let (Some(last), Some(p)) = (entries.last(), self.progress.get_mut(&peer)) {
            p.next = last.index + 1;
            p.inflight.push_back((last.index, bytes));
            p.inflight_bytes += bytes;
        }
        let commit = self.commit;
        self.send(
            peer,
            Message::AppendEntries {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
                probe,
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_append(
        &mut self,
        from: NodeId,
        term: Term,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
        probe: u64,
    ) {
        self.follow(from, term);
        let reject = |raft: &mut Raft, hint_index: Index| {
            raft.send(
                from,
                Message::AppendEntriesResponse {
                    term,
                    success: false,
                    match_index: 0,
                    hint_index,
                    probe,
                },
            );
        };
        // Entries at or below our snapshot are committed and identical: skip them.
        let offset = self.log.offset();
        let (prev_index, prev_term, entries) = if prev_index < offset {
            let skip = entries.iter().take_while(|e| e.index <= offset).count();
            (
                offset,
                self.log.term(offset).unwrap_or(0),
                entries[skip..].to_vec(),
            )
        } else {
            (prev_index, prev_term, entries)
        };
        let skip_check = self.config.mutant == Some(Mutant::SkipPrevLogCheck);
        if prev_index > self.log.last_index() {
            return reject(self, self.log.last_index() + 1);
        }
        if !skip_check && self.log.term(prev_index) != Some(prev_term) {
            let hint = self
                .log
                .first_index_of_term_at(prev_index)
                .max(self.commit + 1);
            return reject(self, hint);
        }
        // Every entry of the message is now either verified identical or appended.
        let matched = prev_index + entries.len() as Index;
        let mut membership_moved = false;
        let mut appended = Vec::new();
        for entry in entries {
            match self.log.term(entry.index) {
                Some(t) if t == entry.term && !skip_check => continue,
                Some(_) => {
                    if entry.index <= self.commit {
                        // Only a broken leader can ask for this; refuse rather than lose data.
                        debug_assert!(skip_check, "never truncate committed entries");
                        return reject(self, self.commit + 1);
                    }
                    self.log.truncate(entry.index);
                    self.durability.cut(entry.index);
                    self.ready.persist.push(PersistOp::Truncate(entry.index));
                    membership_moved |= entry.index <= self.membership_index;
                }
                None => {}
            }
            if entry.index == self.log.last_index() + 1 {
                membership_moved |= entry.membership.is_some();
                appended.push(self.log.append(entry));
            }
        }
        if membership_moved {
            self.refresh_membership();
        }
        if !appended.is_empty() {
            self.ready.persist.push(PersistOp::Append(appended));
        }
        let new_commit = commit.min(matched);
        if new_commit > self.commit {
            self.commit = new_commit;
        }
        self.emit_committed();
        self.send(
            from,
            Message::AppendEntriesResponse {
                term,
                success: true,
                match_index: matched,
                hint_index: 0,
                probe,
            },
        );
    }

    fn handle_append_response(
        &mut self,
        from: NodeId,
        success: bool,
        match_index: Index,
        hint_index: Index,
        probe: u64,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let now = self.now;
        let last = self.log.last_index();
        let mut advanced = false;
        let Some(p) = self.progress.get_mut(&from) else {
            return;
        };
        p.last_heard = now;
        p.probe_acked = p.probe_acked.max(probe);
        // A rejection while the follower has not installed a pending snapshot says nothing
        // new (the rejected append is older than the snapshot, or overtook it): it still
        // acknowledges the leader's round, but moves nothing and resends nothing.
        let stale = !success && p.awaits_snapshot(now, self.config.snapshot_retry_us);
        if success {
            p.matched = p.matched.max(match_index.min(last));
            p.next = p.next.max(p.matched + 1);
            let matched = p.matched;
            p.free_inflight(matched);
            // Only an acknowledgement past the commit index can move it.
            advanced = matched > self.commit;
        } else if !stale {
            // Fast backtracking: jump to the follower's hint, never below what it matched.
            p.next = hint_index
                .min(p.next.saturating_sub(1))
                .max(p.matched + 1)
                .max(1);
            p.clear_inflight();
        }
        if advanced {
            self.maybe_commit();
        }
        // Only an answer to a round some pending read waits for can release reads.
        if self.reads.first().is_some_and(|r| r.probe <= probe) {
            self.confirm_reads();
        }
        if !stale {
            self.send_append(from, !success);
        }
    }

    /// Accepts `leader` as the leader of `term` (the current term): a candidate or stale
    /// leader steps down, and the election timer restarts.
    fn follow(&mut self, leader: NodeId, term: Term) {
        if self.role != Role::Follower || self.leader != Some(leader) {
            self.become_follower(term, Some(leader));
        }
        self.leader_heard_at = self.now;
        self.reset_election_deadline();
    }

    fn handle_snapshot(&mut self, from: NodeId, term: Term, snapshot: Snapshot, probe: u64) {
        self.follow(from, term);
        let last = snapshot.last_index;
        if last > self.commit {
            self.log.install(snapshot.clone());
            self.durability.cut(1);
            self.refresh_membership();
            self.ready
                .persist
                .push(PersistOp::Snapshot(snapshot.clone()));
            self.commit = last;
            self.emitted = last;
            self.ready.committed.clear();
            self.ready.install = Some(snapshot);
        }
        let match_index = self.commit.max(last);
        self.send(
            from,
            Message::AppendEntriesResponse {
                term,
                success: true,
                match_index,
                hint_index: 0,
                probe,
            },
        );
    }

    /// Advances the commit index to the highest index stored on a majority, if that entry is of
    /// the current term (Raft section 5.4.2).
    fn maybe_commit(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let (me, last) = (self.config.id, self.log.last_index());
        // With pipelined persistence the leader's own copy counts once it is on its disk.
        let own = if self.config.async_persist
            && self.config.mutant != Some(Mutant::CountSelfBeforeDurable)
        {
            self.durability.durable().min(last)
        } else {
            last
        };
        let progress = &self.progress;
        let candidate = self
            .membership
            .quorum_value_sorted(0, || with_self(progress, me, own, |p| p.matched));
        let candidate = candidate.min(last);
        let own_term = self.log.term(candidate) == Some(self.hard_state.term)
            || self.config.mutant == Some(Mutant::CommitOldTerm);
        if candidate > self.commit && own_term {
            self.commit = candidate;
            self.emit_committed();
            self.broadcast_append(false);
            self.advance_membership();
        }
        self.confirm_reads();
    }

    fn emit_committed(&mut self) {
        let upto = if self.config.mutant == Some(Mutant::ApplyBeforeCommit) {
            self.log.last_index()
        } else {
            self.commit
        };
        if upto > self.emitted {
            let entries = self.log.range(self.emitted, upto);
            if let Some(last) = entries.last() {
                self.emitted = last.index;
            }
            self.ready.committed.extend(entries);
        }
    }

    /// Starts a new heartbeat round (numbered, its send time remembered for the lease).
    fn new_probe_round(&mut self) {
        /// Rounds remembered; older ones cannot start a lease that is still valid.
        const ROUNDS_KEPT: usize = 64;
        self.probe += 1;
        if self.probe_sent_at.len() == ROUNDS_KEPT {
            self.probe_sent_at.pop_front();
        }
        self.probe_sent_at.push_back((self.probe, self.now));
    }

    /// The newest heartbeat round a majority (this leader included) has acknowledged.
    fn quorum_acked_probe(&self) -> u64 {
        let me = self.config.id;
        let progress = &self.progress;
        self.membership
            .quorum_value_sorted(0, || with_self(progress, me, u64::MAX, |p| p.probe_acked))
    }

    /// Whether a leader lease covers a read now: enabled, check-quorum on, an entry of this
    /// term committed, and a majority acknowledged a round sent less than the lease ago.
    fn lease_holds(&self) -> bool {
        if !self.config.lease_read || !self.config.check_quorum || self.role != Role::Leader {
            return false;
        }
        if self.log.term(self.commit) != Some(self.hard_state.term) {
            return false;
        }
        let acked = self.quorum_acked_probe();
        let sent = self
            .probe_sent_at
            .iter()
            .rev()
            .find(|(probe, _)| *probe <= acked)
            .map(|(_, at)| *at);
        sent.is_some_and(|at| self.now < at + self.config.lease_us())
    }

    /// Releases the reads whose heartbeat round a majority acknowledged, once the leader has
    /// committed an entry of its own term (before that its commit index may be stale).
    fn confirm_reads(&mut self) {
        if self.role != Role::Leader || self.reads.is_empty() {
            return;
        }
        let committed_in_term = self.log.term(self.commit) == Some(self.hard_state.term)
            || self.config.mutant == Some(Mutant::NoNoopOnElection);
        if !committed_in_term {
            return;
        }
        let confirmed = self.quorum_acked_probe();
        let commit = self.commit;
        let (done, waiting): (Vec<PendingRead>, Vec<PendingRead>) =
            self.reads.iter().partition(|r| r.probe <= confirmed);
        self.reads = waiting;
        self.ready
            .reads
            .extend(done.into_iter().map(|r| (r.id, commit)));
    }
}

/// `(node, value)` for every follower and this node, sorted by node (for
/// [`Membership::quorum_value_sorted`]).
fn with_self<'a>(
    progress: &'a BTreeMap<NodeId, Progress>,
    me: NodeId,
    own: u64,
    value: impl Fn(&Progress) -> u64 + 'a + Copy,
) -> impl Iterator<Item = (NodeId, u64)> + 'a {
    let below = progress.range(..me).map(move |(id, p)| (*id, value(p)));
    let above = progress
        .range(me.saturating_add(1)..)
        .map(move |(id, p)| (*id, value(p)));
    below.chain(std::iter::once((me, own))).chain(above)
}

/// The last log index a node's disk holds (its snapshot's, if the log is empty).
fn persisted_last(persisted: &Persisted) -> Index {
    persisted.entries.last().map_or_else(
        || persisted.snapshot.as_ref().map_or(0, |s| s.last_index),
        |e| e.index,
    )
}
