//! The protocol thread: the same sans-IO replica the simulator drives, over any
//! [`Protocol`] (Raft, Multi-Paxos, PBFT), fed by the network, the client port and a 5 ms
//! clock. Every round it drains what arrived (many client writes share a round), and the
//! Ready's state is durable **before** its messages leave or its clients are answered: either
//! written here first ([`Disk::Inline`]), or handed to the storage thread ([`crate::writer`])
//! while the protocol thread goes on, the round's outputs held until the thread reports that
//! write, and every earlier one, durable. With Raft's pipelined persistence the leader's
//! appends leave at once (`Ready::early`) and it counts its own copy only once durable.

use crate::logging;
use crate::metrics::Metrics;
use crate::protocol::{Corrupter, Protocol, Settings};
use crate::storage::{Storage, StorageError};
use crate::writer::{Report, Writer};
use crossbeam_channel::Receiver;
use distsys_consensus::kv::ByteString;
use distsys_consensus::replica::{ClientOp, ClientReply, ClientRequest, Replica, ReplicaReady};
use distsys_consensus::{Core, Index, NodeId, Role};
use distsys_types::event::{self, Level};
use distsys_types::metrics::{ElectionResult, PartitionChange};
use distsys_types::Event;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc::error::TrySendError, mpsc::Sender, oneshot};

/// What a request gets back: the replica's reply, or why this node cannot give one.
pub type Answer = Result<ClientReply, Unavailable>;

/// Why the node answers a request with no reply of the replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The node's storage failed (a full disk, an I/O error): the node is stopping. The
    /// operation may or may not take effect (another replica may still commit an entry this one
    /// sent before the failure); it was not acknowledged.
    Storage(String),
}

/// What reaches the protocol thread: a message of protocol message type `M` from a peer, or
/// an [`Input`] from the client and admin ports or a link.
pub enum Inbound<M> {
    /// A message from a peer (authenticated by the link's handshake).
    Peer(NodeId, M),
    /// Anything else.
    Input(Input),
}

/// Why a request could not be queued for the protocol thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The queue is full ([`crate::INPUT_QUEUE`]): nothing was taken, retry later.
    Full,
    /// The protocol thread is gone.
    Closed,
}

/// Where the client and admin ports queue [`Input`]s for the protocol thread, whatever its
/// protocol's message type; never waits.
pub trait Queue: Send + Sync {
    /// Queues `input`, or says why not (it is then dropped).
    fn try_queue(&self, input: Input) -> Result<(), QueueError>;
}

impl<M: Send> Queue for crossbeam_channel::Sender<Inbound<M>> {
    fn try_queue(&self, input: Input) -> Result<(), QueueError> {
        self.try_send(Inbound::Input(input)).map_err(|e| match e {
            crossbeam_channel::TrySendError::Full(_) => QueueError::Full,
            crossbeam_channel::TrySendError::Disconnected(_) => QueueError::Closed,
        })
    }
}

/// Something for the protocol thread from the client or admin port or a link.
pub enum Input {
    /// A client operation; the answer goes to `reply`.
    Request {
        /// Client session id.
        client: u64,
        /// Sequence number in the session.
        seq: u64,
        /// The operation.
        op: ClientOp,
        /// Operation type, for the latency metric.
        kind: &'static str,
        /// Where the answer goes.
        reply: oneshot::Sender<Answer>,
    },
    /// A read of the local state machine, without a ReadIndex round (possibly stale).
    LocalRead {
        /// The key.
        key: ByteString,
        /// Where the value goes.
        reply: oneshot::Sender<Option<ByteString>>,
    },
    /// The node's status, for /status and INFO.
    Status(oneshot::Sender<Status>),
    /// Hand leadership to a member (leader only).
    Transfer {
        /// The member to lead.
        target: NodeId,
        /// Whether the transfer started, or why not.
        reply: oneshot::Sender<Result<(), crate::protocol::TransferRefused>>,
    },
    /// Change the voting members and learners (leader only; joint consensus).
    Membership {
        /// The new voters.
        voters: std::collections::BTreeSet<NodeId>,
        /// The new learners.
        learners: std::collections::BTreeSet<NodeId>,
        /// The log index of the change, or why it was refused.
        reply: oneshot::Sender<Result<Index, String>>,
    },
    /// A peer link went up or down.
    Link {
        /// The peer.
        peer: NodeId,
        /// Up or down.
        up: bool,
    },
}

/// Where the node's writes go.
enum Disk<C: Core> {
    /// Written on the protocol thread, before anything that depends on them leaves.
    Inline(Box<dyn Storage<C>>),
    /// Written by the storage thread; what depends on a write waits in `Node::after_disk`
    /// until the thread reports it durable on `written`.
    Pipelined {
        writer: Writer<C>,
        written: Receiver<Result<u64, StorageError>>,
    },
    /// Only while the storage moves onto its thread.
    Moving,
}

/// Output held until the writes issued before it are durable.
enum Held<C: Core> {
    /// A round's outputs, waiting for its own write (numbered by the storage thread; 0 when
    /// it wrote nothing) and every earlier one.
    Round {
        write: u64,
        ready: Box<ReplicaReady<C>>,
    },
    /// Answers given outside a round (a retried request the session had already answered).
    Answers(Vec<(u64, u64, u64, ClientReply)>),
    /// A local read's value, taken when asked.
    LocalRead {
        reply: oneshot::Sender<Option<ByteString>>,
        value: Option<ByteString>,
    },
}

/// What /status shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// This node.
    pub id: NodeId,
    /// leader, follower, candidate, pre_candidate.
    pub role: &'static str,
    /// Current term.
    pub term: u64,
    /// The leader it knows, if any.
    pub leader: Option<NodeId>,
    /// Highest committed index.
    pub commit_index: Index,
    /// Highest index applied to the state machine.
    pub applied_index: Index,
    /// Last index in the log.
    pub last_index: Index,
    /// Last index the latest snapshot covers (0: none); a follower behind it can only catch up
    /// from that snapshot.
    pub snapshot_index: Index,
    /// Peers: link state, and on the leader, matched index and lag.
    pub peers: BTreeMap<NodeId, PeerStatus>,
}

/// A peer as this node sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerStatus {
    /// Whether the outgoing link is connected.
    pub connected: bool,
    /// On the leader: the follower's matched index.
    pub match_index: Option<Index>,
    /// On the leader: entries the follower lacks.
    pub lag_entries: Option<u64>,
    /// On the leader: age of the oldest entry the follower lacks, seconds.
    pub lag_seconds: Option<f64>,
    /// Messages to it dropped because its queue ([`crate::PEER_QUEUE`]) was full.
    pub dropped_messages: u64,
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Leader => "leader",
        Role::Follower => "follower",
        Role::Candidate => "candidate",
        Role::PreCandidate => "pre_candidate",
    }
}

/// The protocol thread's state, over protocol `C`.
pub struct Node<C: Protocol> {
    id: NodeId,
    replica: Replica<C>,
    disk: Disk<C>,
    /// Outputs waiting for the storage thread, oldest first (empty with [`Disk::Inline`]).
    after_disk: VecDeque<Held<C>>,
    peers: BTreeMap<NodeId, Sender<C::Message>>,
    /// Messages dropped per peer because its queue was full.
    dropped: BTreeMap<NodeId, u64>,
    links: BTreeMap<NodeId, bool>,
    waiting: HashMap<u64, (oneshot::Sender<Answer>, Instant, &'static str)>,
    next_connection: u64,
    metrics: Metrics,
    start: Instant,
    role: Role,
    /// When the leader appended each index not yet matched everywhere (replication lag).
    appended_at: BTreeMap<Index, Instant>,
    /// A deliberately byzantine replica's adversary over its outgoing messages.
    adversary: Option<Corrupter<C::Message>>,
    /// Messages the adversary holds back: when each goes, to whom.
    held: Vec<(Instant, NodeId, C::Message)>,
}

impl<C: Protocol> Node<C> {
    /// A node recovering from its disk, or why its settings do not fit the protocol (an
    /// unknown mutant) or its disk cannot be read.
    pub fn new(
        settings: &Settings,
        storage: Box<dyn Storage<C>>,
        peers: BTreeMap<NodeId, Sender<C::Message>>,
        metrics: Metrics,
    ) -> Result<Node<C>, crate::NodeError> {
        let persisted = storage.load()?;
        let seed: u64 = rand::random();
        let core =
            C::build(settings, &persisted, seed).map_err(|rule| crate::ConfigError::Invalid {
                field: "mutant",
                rule,
            })?;
        let adversary =
            C::adversary(settings, seed).map_err(|rule| crate::ConfigError::Invalid {
                field: "byzantine",
                rule,
            })?;
        let replica = Replica::with_core(core, &persisted).map_err(StorageError::new)?;
        let (term, log_entries, snapshot_index) = C::recovered(&persisted);
        logging::emit(
            Some(term),
            &Event::NodeStarted(event::NodeStarted {
                log_entries,
                snapshot_index,
            }),
        );
        Ok(Node {
            id: settings.id,
            replica,
            disk: Disk::Inline(storage),
            after_disk: VecDeque::new(),
            links: peers.keys().map(|p| (*p, false)).collect(),
            dropped: BTreeMap::new(),
            peers,
            waiting: HashMap::new(),
            next_connection: 1,
            metrics,
            start: Instant::now(),
            role: Role::Follower,
            appended_at: BTreeMap::new(),
            adversary,
            held: Vec::new(),
        })
    }

    /// Moves the storage onto its own thread ([`crate::writer`]): writes are then pipelined
    /// with replication and many rounds share one fsync. Give the core pipelined persistence
    /// ([`Settings::pipelined_writes`]) for the leader to send before its own write is durable.
    pub fn pipeline_writes(mut self) -> Result<Node<C>, crate::NodeError> {
        if let Disk::Inline(storage) = std::mem::replace(&mut self.disk, Disk::Moving) {
            let (report, written) = crossbeam_channel::unbounded();
            let report: Report = Box::new(move |r| report.send(r).is_ok());
            let writer = Writer::spawn(storage, report).map_err(crate::NodeError::Runtime)?;
            self.disk = Disk::Pipelined { writer, written };
        }
        Ok(self)
    }

    /// Runs until every input sender is gone (`Ok`) or a write to storage fails (`Err`, with
    /// the failure). On a failure nothing that depends on the failed write has been sent or
    /// acknowledged: every client waiting for an answer, and every request already queued, is
    /// answered [`Unavailable::Storage`], never OK.
    pub fn run(mut self, inputs: Receiver<Inbound<C::Message>>) -> Result<(), StorageError> {
        let tick = Duration::from_millis(5);
        let mut written = match &self.disk {
            Disk::Pipelined { written, .. } => written.clone(),
            _ => crossbeam_channel::never(),
        };
        loop {
            let mut durable = None;
            let first = crossbeam_channel::select! {
                recv(inputs) -> input => match input {
                    Ok(input) => Some(input),
                    Err(_) => return Ok(()),
                },
                recv(written) -> report => {
                    match report {
                        Ok(report) => durable = Some(report),
                        // The storage thread is gone (only after reporting a failure).
                        Err(_) => written = crossbeam_channel::never(),
                    }
                    None
                }
                default(tick) => None,
            };
            while let Ok(report) = written.try_recv() {
                durable = Some(report);
            }
            if let Some(report) = durable {
                if let Err(e) = report.map(|through| self.written(through)) {
                    self.storage_failed(&e, &inputs);
                    return Err(e);
                }
            }
            // What waited while this thread was busy (a slow fsync) is read first, at the
            // time it is read, and only then do the timers fire: a follower whose leader's
            // heartbeats sat in the queue must not time that leader out.
            let now = self.start.elapsed().as_micros() as u64;
            self.replica.advance_clock(now);
            if let Some(input) = first {
                self.handle(input);
            }
            // Group commit: everything already waiting joins this round.
            for _ in 0..4096 {
                match inputs.try_recv() {
                    Ok(input) => self.handle(input),
                    Err(_) => break,
                }
            }
            self.replica.tick(now);
            self.release_held();
            if let Err(e) = self.process_ready() {
                self.storage_failed(&e, &inputs);
                return Err(e);
            }
        }
    }

    /// After a failed write: logs it and answers every waiting client, and every request still
    /// queued, with the failure (nothing is applied or acknowledged any more).
    fn storage_failed(&mut self, error: &StorageError, inputs: &Receiver<Inbound<C::Message>>) {
        logging::emit(
            Some(self.replica.core().term()),
            &Event::StorageFailed(event::StorageFailed {
                error: error.to_string(),
            }),
        );
        let why = Unavailable::Storage(error.to_string());
        // What waited for the failed write (or a later one) is never carried out.
        self.after_disk.clear();
        for (_, (sender, _, _)) in self.waiting.drain() {
            let _ = sender.send(Err(why.clone()));
        }
        while let Ok(input) = inputs.try_recv() {
            if let Inbound::Input(Input::Request { reply, .. }) = input {
                let _ = reply.send(Err(why.clone()));
            }
        }
    }

    fn handle(&mut self, inbound: Inbound<C::Message>) {
        let input = match inbound {
            Inbound::Peer(from, message) => return self.replica.step(from, message),
            Inbound::Input(input) => input,
        };
        match input {
            Input::Request {
                client,
                seq,
                op,
                kind,
                reply,
            } => {
                let connection = self.next_connection;
                self.next_connection += 1;
                self.waiting
                    .insert(connection, (reply, Instant::now(), kind));
                let mut out = Vec::new();
                self.replica
                    .request(connection, ClientRequest { client, seq, op }, &mut out);
                // A retried request the session already answered is answered again at
                // once: not before the writes in flight are durable (it may be one of them).
                if !out.is_empty() {
                    self.after_writes(Held::Answers(out));
                }
            }
            Input::LocalRead { key, reply } => {
                let value = self.replica.kv().get(key.as_bytes()).cloned();
                // What it read may have been applied from a write still in flight.
                self.after_writes(Held::LocalRead { reply, value });
            }
            Input::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Input::Transfer { target, reply } => {
                let result = if !self.links.contains_key(&target) {
                    Err(crate::protocol::TransferRefused::Refused(format!(
                        "{target} is not another member of this cluster"
                    )))
                } else {
                    C::transfer_leadership(&mut self.replica, target)
                };
                let _ = reply.send(result);
            }
            Input::Membership {
                voters,
                learners,
                reply,
            } => {
                let known = |n: &NodeId| *n == self.id || self.links.contains_key(n);
                let result = if let Some(n) = voters.iter().chain(&learners).find(|n| !known(n)) {
                    Err(format!("{n} is not in this cluster's configuration (members must be configured to be reachable)"))
                } else {
                    C::propose_membership(&mut self.replica, voters, learners)
                };
                let _ = reply.send(result);
            }
            Input::Link { peer, up } => {
                let was = self.links.insert(peer, up).unwrap_or(false);
                if was != up {
                    self.metrics.partitions(
                        if up {
                            PartitionChange::Healed
                        } else {
                            PartitionChange::Detected
                        },
                        1,
                    );
                    let event = if up {
                        Event::PartitionHealed(event::PartitionHealed { peer: Some(peer) })
                    } else {
                        Event::PartitionDetected(event::PartitionDetected {
                            partition: None,
                            peer: Some(peer),
                        })
                    };
                    logging::emit(Some(self.replica.core().term()), &event);
                }
            }
        }
    }

    fn answer(&mut self, replies: Vec<(u64, u64, u64, ClientReply)>) {
        for (connection, _, _, reply) in replies {
            if let Some((sender, started, kind)) = self.waiting.remove(&connection) {
                if !matches!(reply, ClientReply::NotLeader { .. }) {
                    self.metrics
                        .latency(kind, [started.elapsed().as_secs_f64()]);
                }
                let _ = sender.send(Ok(reply));
            }
        }
    }

    /// Takes the round's outputs: durable first (term, vote and entries on disk before any
    /// message that depends on them leaves and before any client is answered), written here
    /// or by the storage thread while the outputs wait in `after_disk`.
    fn process_ready(&mut self) -> Result<(), StorageError> {
        let mut ready = self.replica.ready();
        if let Some(e) = ready.unreadable_snapshot.take() {
            return Err(StorageError::new(e));
        }
        if self.replica.core().role() == Role::Leader {
            let now = Instant::now();
            for op in &ready.persist {
                for index in C::appended(op) {
                    self.appended_at.insert(index, now);
                }
            }
        }
        match &mut self.disk {
            Disk::Inline(storage) => {
                storage.apply(&ready.persist)?;
                let write = ready.write;
                self.carry_out(ready);
                if write != 0 {
                    self.replica.persisted(write);
                }
            }
            Disk::Pipelined { writer, .. } => {
                if ready.is_empty() {
                    return Ok(());
                }
                let write = if ready.persist.is_empty() {
                    0
                } else {
                    writer.submit(std::mem::take(&mut ready.persist))
                };
                // The leader's appends (a core with pipelined persistence) leave now.
                for (to, message) in std::mem::take(&mut ready.early) {
                    self.dispatch(to, message);
                }
                self.after_writes(Held::Round {
                    write,
                    ready: Box::new(ready),
                });
            }
            Disk::Moving => return Err(StorageError::new("the storage thread did not start")),
        }
        Ok(())
    }

    /// Hands `held` on at once when it waits for no write of its own and nothing waits
    /// before it; otherwise queues it behind the outputs already waiting, in order.
    fn after_writes(&mut self, held: Held<C>) {
        let own_write = matches!(&held, Held::Round { write, .. } if *write != 0);
        if own_write || !self.after_disk.is_empty() {
            self.after_disk.push_back(held);
        } else {
            let core_write = self.release(held);
            debug_assert_eq!(core_write, 0, "a round that wrote nothing reports no write");
        }
    }

    /// The storage thread's report that its writes up to `through` are durable: the outputs
    /// that waited for them are carried out, in order, and the core told.
    fn written(&mut self, through: u64) {
        let mut core_write = 0;
        while let Some(front) = self.after_disk.front() {
            if matches!(front, Held::Round { write, .. } if *write > through) {
                break;
            }
            if let Some(held) = self.after_disk.pop_front() {
                core_write = core_write.max(self.release(held));
            }
        }
        if core_write != 0 {
            self.replica.persisted(core_write);
        }
    }

    /// Carries out output whose writes are durable; returns the core's number of a round's
    /// write (0 for none), for [`Core::persisted`].
    fn release(&mut self, held: Held<C>) -> u64 {
        match held {
            Held::Round { ready, .. } => {
                let core_write = ready.write;
                self.carry_out(*ready);
                core_write
            }
            Held::Answers(replies) => {
                self.answer(replies);
                0
            }
            Held::LocalRead { reply, value } => {
                let _ = reply.send(value);
                0
            }
        }
    }

    /// Carries out a round's outputs whose write is durable: messages sent, roles, installs
    /// and applied entries logged, clients answered.
    fn carry_out(&mut self, ready: ReplicaReady<C>) {
        debug_assert!(ready.unreadable_snapshot.is_none(), "stopped before");
        let term = self.replica.core().term();
        for (to, message) in ready.early.into_iter().chain(ready.messages) {
            self.dispatch(to, message);
        }
        for (role, role_term) in ready.roles {
            match role {
                Role::Candidate => {
                    if self.role == Role::Candidate {
                        self.metrics.elections(ElectionResult::Timeout, 1);
                    }
                    logging::emit(
                        Some(role_term),
                        &Event::ElectionStarted(event::ElectionStarted { candidate: self.id }),
                    );
                }
                Role::Leader => {
                    self.metrics.elections(ElectionResult::Success, 1);
                    logging::emit(
                        Some(role_term),
                        &Event::LeaderElected(event::LeaderElected {
                            leader: self.id,
                            heartbeat_ms: None,
                            election_timeout_ms: None,
                        }),
                    );
                }
                Role::Follower | Role::PreCandidate => {}
            }
            self.role = role;
        }
        if let Some(snapshot) = &ready.installed {
            logging::emit(
                Some(term),
                &Event::SnapshotInstalled(event::SnapshotInstalled {
                    last_index: snapshot.last_index,
                }),
            );
        }
        if let Some(last) = ready.applied.last() {
            logging::emit_at(
                Level::Debug,
                Some(term),
                &Event::CommitApplied(event::CommitApplied::new(
                    last.index,
                    ready.applied.len(),
                    last.chain,
                )),
            );
        }
        self.answer(ready.replies);
        self.update_lag();
    }

    /// Sends `message` to `to`, or, on a deliberately byzantine replica, what its adversary
    /// sends instead (now, or held back until due).
    fn dispatch(&mut self, to: NodeId, message: C::Message) {
        let Some(adversary) = self.adversary.as_mut() else {
            self.send(to, message);
            return;
        };
        let now = Instant::now();
        for (to, message, hold_us) in adversary(to, message) {
            if hold_us == 0 {
                self.send(to, message);
            } else {
                self.held
                    .push((now + Duration::from_micros(hold_us), to, message));
            }
        }
    }

    /// Sends the held-back messages that are due.
    fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(at, _, _)| *at <= now);
        self.held = later;
        for (_, to, message) in due {
            self.send(to, message);
        }
    }

    /// Queues `message` for peer `to` without waiting; a full queue drops it (counted).
    fn send(&mut self, to: NodeId, message: C::Message) {
        if let Some(peer) = self.peers.get(&to) {
            if let Err(TrySendError::Full(_)) = peer.try_send(message) {
                *self.dropped.entry(to).or_default() += 1;
            }
        }
    }

    fn update_lag(&mut self) {
        let core = self.replica.core();
        if core.role() != Role::Leader {
            self.appended_at.clear();
            return;
        }
        let last = core.last_index();
        let matches = core.follower_matches();
        let now = Instant::now();
        let mut lowest = last;
        for (follower, matched) in &matches {
            lowest = lowest.min(*matched);
            self.metrics
                .lag(*follower, self.lag_seconds(*matched, last, now));
        }
        self.appended_at.retain(|i, _| *i > lowest);
    }

    /// On the leader: how long ago it appended the oldest entry a follower that matched up to
    /// `matched` lacks (0 when it has everything up to `last`).
    fn lag_seconds(&self, matched: Index, last: Index, now: Instant) -> f64 {
        if matched >= last {
            return 0.0;
        }
        self.appended_at
            .get(&(matched + 1))
            .map_or(0.0, |t| now.duration_since(*t).as_secs_f64())
    }

    fn status(&self) -> Status {
        let core = self.replica.core();
        let leading = core.role() == Role::Leader;
        let last = core.last_index();
        let matches: BTreeMap<NodeId, Index> = core.follower_matches().into_iter().collect();
        let now = Instant::now();
        let peers = self
            .links
            .iter()
            .map(|(id, up)| {
                let matched = matches.get(id).copied().filter(|_| leading);
                let lag_seconds = matched.map(|m| self.lag_seconds(m, last, now));
                (
                    *id,
                    PeerStatus {
                        connected: *up,
                        match_index: matched,
                        lag_entries: matched.map(|m| last.saturating_sub(m)),
                        lag_seconds,
                        dropped_messages: self.dropped.get(id).copied().unwrap_or(0),
                    },
                )
            })
            .collect();
        Status {
            id: self.id,
            role: role_name(core.role()),
            term: core.term(),
            leader: core.leader(),
            commit_index: core.commit_index(),
            applied_index: self.replica.kv().applied(),
            last_index: last,
            snapshot_index: core.log_offset(),
            peers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{FailingStore, RaftStore};
    use distsys_consensus::kv::Op;
    use distsys_consensus::raft::Raft;
    use distsys_consensus::Message;
    use std::path::{Path, PathBuf};
    use std::thread::JoinHandle;

    type Inputs = crossbeam_channel::Sender<Inbound<Message>>;
    type Running = (Inputs, JoinHandle<Result<(), StorageError>>);

    fn settings(members: Vec<NodeId>) -> Settings {
        Settings {
            id: 1,
            members,
            heartbeat_ms: 10,
            election_timeout_ms: (50, 100),
            mutant: None,
            cluster_key: vec![7; 16],
            byzantine: None,
            pipelined_writes: false,
        }
    }

    /// A one-node cluster on `dir`, its storage wrapped by `wrap`, run on its own thread,
    /// its writes on the protocol thread or `pipelined` on the storage thread.
    fn start(
        dir: &Path,
        pipelined: bool,
        wrap: impl FnOnce(RaftStore) -> Box<dyn Storage<Raft>>,
    ) -> Running {
        let storage = wrap(RaftStore::open(dir).expect("open"));
        let mut settings = settings(vec![1]);
        settings.pipelined_writes = pipelined;
        let mut node = Node::<Raft>::new(&settings, storage, BTreeMap::new(), Metrics::new())
            .expect("recovers");
        if pipelined {
            node = node.pipeline_writes().expect("storage thread");
        }
        let (inputs, receiver) = crossbeam_channel::unbounded();
        (inputs, std::thread::spawn(move || node.run(receiver)))
    }

    /// Sends `ops` as one batch (they share a round) and waits for every answer; a request
    /// sent before the node elected itself is retried; one the node never took (it had
    /// stopped) is answered [`NOT_TAKEN`].
    fn batch(inputs: &Inputs, client: u64, seq: &mut u64, ops: &[ClientOp]) -> Vec<Answer> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut answers = Vec::new();
            for op in ops {
                *seq += 1;
                let (reply, answer) = oneshot::channel();
                let request = Input::Request {
                    client,
                    seq: *seq,
                    op: op.clone(),
                    kind: "write",
                    reply,
                };
                // A node that stopped takes nothing more: its queue is gone.
                let _ = inputs.send(Inbound::Input(request));
                answers.push(answer);
            }
            let answers: Vec<Answer> = answers
                .into_iter()
                .map(|a| {
                    a.blocking_recv()
                        .unwrap_or(Err(Unavailable::Storage(NOT_TAKEN.into())))
                })
                .collect();
            let not_leader = answers
                .iter()
                .any(|a| matches!(a, Ok(ClientReply::NotLeader { .. })));
            if !not_leader {
                return answers;
            }
            assert!(Instant::now() < deadline, "no leader within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What [`batch`] answers for a request the node never took (it had stopped).
    const NOT_TAKEN: &str = "not taken: the node had stopped";

    fn put(i: u64) -> ClientOp {
        ClientOp::Write(Op::Put {
            key: format!("k{i}").into(),
            value: format!("v{i}").into(),
        })
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("distsys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Writes in batches of three until the storage fails; returns the acknowledged keys and
    /// how many requests were answered with the storage failure (an OK after it, or a request
    /// lost without an answer before it, fails the test).
    fn write_until_failure(inputs: &Inputs) -> (Vec<u64>, usize) {
        let (mut acked, mut refused, mut seq) = (Vec::new(), 0, 0);
        for round in 0..400u64 {
            let ops: Vec<ClientOp> = (0..3).map(|j| put(round * 3 + j)).collect();
            for (j, answer) in batch(inputs, 7, &mut seq, &ops).into_iter().enumerate() {
                match answer {
                    Ok(ClientReply::Ok { .. }) => {
                        assert_eq!(refused, 0, "an OK after a storage failure");
                        acked.push(round * 3 + j as u64);
                    }
                    Err(Unavailable::Storage(why)) if why.contains("no space left") => {
                        refused += 1;
                    }
                    // Sent after the node stopped (the failure came mid-batch).
                    Err(Unavailable::Storage(why)) if why == NOT_TAKEN && refused > 0 => {}
                    other => panic!("unexpected answer {other:?}"),
                }
            }
            if refused > 0 {
                break;
            }
        }
        (acked, refused)
    }

    /// Restarts the node on `dir` with a healthy disk and reads every key in `acked` back.
    fn assert_all_readable(dir: &Path, acked: &[u64]) {
        let (inputs, node) = start(dir, false, |s| Box::new(s));
        let mut seq = 0;
        for i in acked {
            let read = ClientOp::Read {
                key: format!("k{i}").into(),
            };
            let answer = batch(&inputs, 8, &mut seq, &[read]);
            assert_eq!(
                answer,
                vec![Ok(ClientReply::Ok {
                    value: Some(format!("v{i}").into())
                })],
                "acknowledged write k{i} lost"
            );
        }
        drop(inputs);
        assert!(node.join().expect("no panic").is_ok());
    }

    /// A read sent after a write was answered sees it, whether writes are pipelined or not.
    #[test]
    fn a_read_after_an_answered_write_sees_it() {
        for pipelined in [false, true] {
            let dir = temp_dir(&format!("read-your-writes-{pipelined}"));
            let (inputs, node) = start(&dir, pipelined, |s| Box::new(s));
            let (mut seq, mut total) = (0, 0);
            for i in 0..50 {
                // One, two or three writes share a round.
                let incrs = vec![ClientOp::Write(Op::Incr { key: "n".into() }); 1 + i % 3];
                let answers = batch(&inputs, 5, &mut seq, &incrs);
                assert!(
                    answers
                        .iter()
                        .all(|a| matches!(a, Ok(ClientReply::Ok { .. }))),
                    "{answers:?}"
                );
                total += incrs.len() as u64;
                let read = batch(&inputs, 5, &mut seq, &[ClientOp::Read { key: "n".into() }]);
                assert_eq!(
                    read,
                    vec![Ok(ClientReply::Ok {
                        value: Some(total.to_string().into())
                    })],
                    "pipelined: {pipelined}"
                );
            }
            drop(inputs);
            assert!(node.join().expect("no panic").is_ok());
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn a_full_peer_queue_drops_and_counts_instead_of_blocking() {
        let dir = temp_dir("peer-queue");
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let mut node = Node::<Raft>::new(
            &settings(vec![1, 2]),
            Box::new(RaftStore::open(&dir).expect("open")),
            BTreeMap::from([(2, tx)]),
            Metrics::new(),
        )
        .expect("recovers");
        for term in 0..10 {
            node.send(2, Message::TimeoutNow { term });
        }
        assert_eq!(node.status().peers[&2].dropped_messages, 6);
        let mut queued = Vec::new();
        while let Ok(Message::TimeoutNow { term }) = rx.try_recv() {
            queued.push(term);
        }
        assert_eq!(queued, vec![0, 1, 2, 3], "the first four, in order");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_write_stops_the_node_with_an_error_and_loses_no_acknowledged_write() {
        for pipelined in [false, true] {
            a_failed_write_stops_the_node(pipelined);
        }
    }

    fn a_failed_write_stops_the_node(pipelined: bool) {
        for (name, wrap) in [
            (
                "nth-write",
                Box::new(|s| {
                    Box::new(FailingStore::fail_nth_write(s, 40)) as Box<dyn Storage<Raft>>
                }) as Box<dyn FnOnce(RaftStore) -> Box<dyn Storage<Raft>>>,
            ),
            (
                "bytes",
                Box::new(|s| Box::new(FailingStore::fail_after_bytes(s, 4000)) as _),
            ),
        ] {
            let name = format!("{name}, pipelined: {pipelined}");
            let dir = temp_dir(&format!("failing-store-{name}"));
            let (inputs, node) = start(&dir, pipelined, wrap);
            let (acked, refused) = write_until_failure(&inputs);
            // The node stopped on its own, with the failure, and did not panic.
            let stopped = node.join().expect("no panic");
            assert!(
                matches!(&stopped, Err(e) if e.to_string().contains("no space left")),
                "{name}: {stopped:?}"
            );
            assert!(refused >= 1, "{name}: some client was told");
            assert!(
                acked.len() >= 10,
                "{name}: writes went through first: {acked:?}"
            );
            // Nothing more is accepted once it stopped.
            let mut seq = 1000;
            assert!(batch(&inputs, 9, &mut seq, &[put(9999)])
                .iter()
                .all(|a| a.is_err()));
            drop(inputs);
            assert_all_readable(&dir, &acked);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// A store whose first non-empty write takes `stall` longer (a slow fsync).
    struct StallingStore {
        inner: RaftStore,
        stall: Option<Duration>,
    }

    impl Storage<Raft> for StallingStore {
        fn load(&self) -> Result<distsys_consensus::Persisted, StorageError> {
            self.inner.load()
        }
        fn apply(&mut self, ops: &[distsys_consensus::PersistOp]) -> Result<(), StorageError> {
            if let Some(stall) = self.stall.filter(|_| !ops.is_empty()) {
                self.stall = None;
                std::thread::sleep(stall);
            }
            self.inner.apply(ops)
        }
    }

    #[test]
    fn a_follower_reads_the_heartbeats_that_waited_through_a_slow_write_before_timing_out() {
        for pipelined in [false, true] {
            a_follower_reads_the_heartbeats_through_a_slow_write(pipelined);
        }
    }

    fn a_follower_reads_the_heartbeats_through_a_slow_write(pipelined: bool) {
        // Node 1 follows node 2 (this test). Its first write (the term it learns) stalls for
        // three election timeouts while heartbeats keep arriving; when the write returns, those
        // heartbeats are read before the election timer is looked at, so it never campaigns.
        let dir = temp_dir(&format!("stalled-follower-{pipelined}"));
        let mut settings = settings(vec![1, 2]);
        settings.election_timeout_ms = (500, 600);
        settings.pipelined_writes = pipelined;
        let storage = StallingStore {
            inner: RaftStore::open(&dir).expect("open"),
            stall: Some(Duration::from_millis(1800)),
        };
        let (to_peer, mut sent) = tokio::sync::mpsc::channel(1 << 16);
        let mut node = Node::<Raft>::new(
            &settings,
            Box::new(storage),
            BTreeMap::from([(2, to_peer)]),
            Metrics::new(),
        )
        .expect("recovers");
        if pipelined {
            node = node.pipeline_writes().expect("storage thread");
        }
        let (inputs, receiver) = crossbeam_channel::unbounded();
        let running = std::thread::spawn(move || node.run(receiver));
        let heartbeat = || {
            Inbound::Peer(
                2,
                Message::AppendEntries {
                    term: 1,
                    prev_index: 0,
                    prev_term: 0,
                    entries: Vec::new(),
                    commit: 0,
                    probe: 0,
                },
            )
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(2600) {
            inputs.send(heartbeat()).expect("node runs");
            std::thread::sleep(Duration::from_millis(10));
        }
        let (reply, status) = oneshot::channel();
        inputs
            .send(Inbound::Input(Input::Status(reply)))
            .expect("node runs");
        let status = status.blocking_recv().expect("answered");
        drop(inputs);
        assert!(running.join().expect("no panic").is_ok());
        let mut campaigned = Vec::new();
        let mut answered = 0;
        while let Ok(message) = sent.try_recv() {
            match message {
                Message::RequestVote { .. } => campaigned.push(message),
                Message::AppendEntriesResponse { .. } => answered += 1,
                _ => {}
            }
        }
        assert!(campaigned.is_empty(), "it campaigned: {campaigned:?}");
        assert!(answered > 50, "it answered the heartbeats: {answered}");
        assert_eq!(
            (status.role, status.term, status.leader),
            ("follower", 1, Some(2))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
