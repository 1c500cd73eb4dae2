//! One simulated run: a cluster of replicas, a network, a fault schedule and clients, all driven
//! by discrete events ordered by (virtual time, sequence number) and one seeded ChaCha RNG, so a
//! seed replays bit for bit.
//!
//! This module holds the run's state ([`Sim`]), the event loop and the nodes' driver (start,
//! inputs, persist then send then apply); each other job is a module of its own:
//! [`network`] (links), [`faults`] (injection and heal), [`clients`] (the workload),
//! [`history`] (the record the checker reads), [`oracle`] (safety, liveness, runaway, the
//! end-of-run checks), [`metrics`] (what a run measures), [`byzantine`] (the adversary's
//! replicas), [`config`] and [`report`] (what goes in and comes out).

mod byzantine;
mod clients;
pub mod config;
mod faults;
mod history;
mod metrics;
mod network;
mod oracle;
pub mod report;

pub use config::SimConfig;
pub use report::{FailureKind, RunReport, Violation};

use crate::faults::{Fault, Partition};
use crate::protocol::{BuildParams, Simulated};
use crate::queue::EventQueue;
use crate::trace::Trace;
use clients::Client;
use distsys_check::history::{Event as HistoryEvent, Recording};
use distsys_consensus::replica::{ClientReply, ClientRequest, Replica};
use distsys_consensus::safety::SafetyMonitor;
use distsys_consensus::{Core, NodeId, Role};
use distsys_patterns::retry::RetryPolicy;
use distsys_types::event;
use distsys_types::Event;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Microseconds per millisecond.
const MS: u64 = 1_000;
/// Interval between a node's timer ticks, in microseconds of its own clock.
const TICK_US: u64 = 5 * MS;

#[derive(Debug)]
enum EventKind<M> {
    Tick(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        message: M,
    },
    Request {
        node: NodeId,
        connection: u64,
        request: ClientRequest,
    },
    Reply {
        from: NodeId,
        client: usize,
        seq: u64,
        attempt: u32,
        reply: ClientReply,
    },
    ClientTimeout {
        client: usize,
        seq: u64,
        attempt: u32,
    },
    ClientNext {
        client: usize,
    },
    Fault(FaultAction),
    /// The oldest write in flight on `node` (of this incarnation) is durable.
    WriteDone {
        node: NodeId,
        incarnation: u64,
    },
}

#[derive(Debug, Clone)]
enum FaultAction {
    Partition,
    Heal,
    /// Crash a node (a chosen one, or a random/leader target) and restart it within the
    /// given number of microseconds (or after a random 50-1500 ms).
    Crash(Option<NodeId>, Option<u64>),
    Restart(NodeId),
    Pause,
    Resume(NodeId),
    /// Ask the leader to change the membership by one node (remove, add as learner, promote).
    ChangeMembership,
    HealAll,
}

impl<M> EventKind<M> {
    /// The node an input event is for: a peer message or a client request.
    fn input_node(&self) -> Option<NodeId> {
        match self {
            EventKind::Deliver { to, .. } => Some(*to),
            EventKind::Request { node, .. } => Some(*node),
            _ => None,
        }
    }
}

struct Node<C: Core> {
    replica: Option<Replica<C>>,
    persisted: C::Persisted,
    paused: bool,
    /// Inputs that arrived while paused, waiting in the socket buffers (in arrival order) until
    /// the process resumes; lost if it crashes.
    parked: Vec<EventKind<C::Message>>,
    clock_offset_us: u64,
    clock_rate: f64,
    incarnation: u64,
    /// Readies whose write is in flight (pipelined writes), oldest first: each is carried out
    /// when its write completes, in order; a crash loses them.
    writes: std::collections::VecDeque<distsys_consensus::replica::ReplicaReady<C>>,
    /// When the last write in flight completes.
    last_write_done: u64,
}

/// One simulation in progress, of any protocol.
pub struct Sim<C: Simulated> {
    config: SimConfig,
    rng: ChaCha8Rng,
    now: u64,
    queue: EventQueue<EventKind<C::Message>>,
    nodes: BTreeMap<NodeId, Node<C>>,
    partition: Partition,
    monitor: SafetyMonitor,
    clients: Vec<Client>,
    next_process: u64,
    history: Recording,
    trace: Trace,
    report: RunReport,
    retry: RetryPolicy,
    faults_end_us: u64,
    clients_end_us: u64,
    healed_at: Option<u64>,
    request_timeout_us: u64,
    value_counter: u64,
    candidates: BTreeMap<(NodeId, u64), bool>,
    max_entries_per_msg: usize,
    election_timeout_us: (u64, u64),
    /// When each log index was appended by its leader, for replication lag.
    appended_at: BTreeMap<u64, u64>,
    /// Client operations (client, seq) still pending when the faults healed.
    pending_at_heal: std::collections::BTreeSet<(usize, u64)>,
    /// Time clients had a request out at the cluster since the heal.
    waiting: clients::WaitClock,
    /// That time when the first client operation after the heal completed.
    first_ok_waited_us: Option<u64>,
    /// The byzantine replicas' adversary (protocols that have one, with `byzantine > 0`).
    adversary: Option<C::Adversary>,
    /// Whether every replica answers every client request (the protocol's
    /// [`Core::replies_from_every_replica`], learnt when the first node starts): clients then
    /// send to all and wait for [`Simulated::matching_replies`] equal answers, and there is no
    /// leader to wait for after the heal.
    every_replica_answers: bool,
    /// Nodes crashed for good when the faults healed (`SimConfig::down_after_heal`).
    stays_down: BTreeSet<NodeId>,
    /// The storm-detection window: (window number, events processed and operations started
    /// when it began).
    storm_window: (u64, u64, u64),
    /// The cluster secret (PBFT keys).
    secret: [u8; 32],
}

fn micros(ms: f64) -> u64 {
    (ms * 1000.0).round().max(0.0) as u64
}

impl<C: Simulated> Sim<C> {
    /// Prepares a run: the nodes' clocks, the clients, the cluster secret, the byzantine
    /// replicas, the run's timer and batching anomalies, the nodes started, the clients' first
    /// operations and the fault schedule, in that order (the order of the RNG draws).
    pub fn new(config: SimConfig) -> Sim<C> {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let ids: Vec<NodeId> = (1..=config.nodes as u64).collect();
        let nodes = Self::initial_nodes(&ids, config.faults.has(Fault::Clock), &mut rng);
        let mut sim = Sim::with_state(config, rng, nodes, &ids);
        sim.rng.fill(&mut sim.secret[..]);
        sim.choose_byzantine(&ids);
        // Rare paths made common: some runs replicate one entry per message, so a leader's
        // entries can reach followers separately (as after losses and retransmissions).
        if sim.config.faults.has(Fault::Reorder) {
            sim.max_entries_per_msg = [1, 4, 64][sim.rng.random_range(0..3)];
        }
        // Timer anomalies: some runs randomise election timeouts over a narrow range, so
        // several candidates often stand in the same term (split votes).
        if sim.config.faults.has(Fault::Clock) && sim.rng.random_bool(0.5) {
            let (min, _) = sim.config.election_timeout_ms;
            sim.election_timeout_us = (min * MS, min * MS + 2 * MS);
        }
        for id in ids {
            sim.start_node(id);
        }
        for client in 0..sim.config.clients {
            let at = sim.rng.random_range(0..50 * MS);
            sim.schedule(at, EventKind::ClientNext { client });
        }
        sim.schedule_faults();
        sim
    }

    /// The nodes before they start, each with its clock: with clock faults, a random offset
    /// (0-500 ms) and drift (+-5 %), drawn node by node.
    fn initial_nodes(
        ids: &[NodeId],
        clock_faults: bool,
        rng: &mut ChaCha8Rng,
    ) -> BTreeMap<NodeId, Node<C>> {
        ids.iter()
            .map(|&id| {
                let (offset, rate) = if clock_faults {
                    (
                        rng.random_range(0..500 * MS),
                        1.0 + rng.random_range(-0.05..0.05),
                    )
                } else {
                    (0, 1.0)
                };
                let node = Node {
                    replica: None,
                    persisted: C::Persisted::default(),
                    paused: false,
                    parked: Vec::new(),
                    clock_offset_us: offset,
                    clock_rate: rate,
                    incarnation: 0,
                    writes: std::collections::VecDeque::new(),
                    last_write_done: 0,
                };
                (id, node)
            })
            .collect()
    }

    /// The run's state before anything happened (no random draw): the clients, each guessing
    /// a node round-robin, and the timers derived from the configuration.
    fn with_state(
        config: SimConfig,
        rng: ChaCha8Rng,
        nodes: BTreeMap<NodeId, Node<C>>,
        ids: &[NodeId],
    ) -> Sim<C> {
        let duration_us = config.duration_ms * MS;
        let election_max_us = config.election_timeout_ms.1 * MS;
        let rtt_us = micros(2.0 * config.latency_ms);
        let clients = (0..config.clients)
            .map(|i| Client {
                process: i as u64,
                guess: ids[i % ids.len()],
                next_seq: 1,
                pending: None,
            })
            .collect();
        Sim {
            trace: Trace::new(config.trace),
            report: RunReport {
                seed: config.seed,
                ..RunReport::default()
            },
            rng,
            now: 0,
            queue: EventQueue::new(),
            nodes,
            partition: Partition::default(),
            monitor: SafetyMonitor::new(),
            next_process: config.clients as u64,
            clients,
            history: Recording::new(),
            retry: RetryPolicy::default(),
            faults_end_us: duration_us * 6 / 10,
            clients_end_us: duration_us * 85 / 100,
            healed_at: None,
            request_timeout_us: 2 * election_max_us + 4 * rtt_us,
            value_counter: 0,
            candidates: BTreeMap::new(),
            max_entries_per_msg: 64,
            election_timeout_us: (
                config.election_timeout_ms.0 * MS,
                config.election_timeout_ms.1 * MS,
            ),
            pending_at_heal: BTreeSet::new(),
            waiting: clients::WaitClock::default(),
            first_ok_waited_us: None,
            appended_at: BTreeMap::new(),
            adversary: None,
            every_replica_answers: false,
            stays_down: BTreeSet::new(),
            storm_window: (0, 0, 0),
            secret: [0; 32],
            config,
        }
    }

    fn schedule(&mut self, at: u64, kind: EventKind<C::Message>) {
        self.queue.push(at, kind);
    }

    fn node_clock(&self, id: NodeId) -> u64 {
        let node = &self.nodes[&id];
        node.clock_offset_us + (self.now as f64 * node.clock_rate) as u64
    }

    fn build_params(&self) -> BuildParams {
        BuildParams {
            election_timeout_us: self.election_timeout_us,
            heartbeat_us: self.config.heartbeat_ms * MS,
            max_entries_per_msg: self.max_entries_per_msg,
            lease_read: self.config.lease_read,
            mutant: self.config.mutant.map(|m| m.name),
            secret: self.secret,
            pipelined_writes: self.pipelined_writes() && self.config.write_pipelining,
        }
    }

    fn start_node(&mut self, id: NodeId) {
        let params = self.build_params();
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let now = self.node_clock(id);
        let node = self.nodes.get_mut(&id).expect("node exists");
        node.incarnation += 1;
        let seed = self.config.seed ^ (id << 32) ^ node.incarnation;
        let core = C::build(id, ids, &params, &node.persisted, seed, now);
        self.every_replica_answers = core.replies_from_every_replica();
        node.replica = Some(
            Replica::with_core(core, &node.persisted)
                .expect("the simulator's replicas only persist snapshots they wrote"),
        );
        node.paused = false;
        let at = self.now + self.rng.random_range(0..TICK_US);
        self.schedule(at, EventKind::Tick(id));
        self.process_ready(id);
    }

    /// Runs to the end; returns what it measured.
    pub fn run(mut self) -> RunReport {
        let mut end = self.config.duration_ms * MS;
        let rate = C::events_per_ms_bound(self.config.nodes);
        let started = std::time::Instant::now();
        while let Some((time, kind)) = self.queue.pop() {
            if self.report.violation.is_some() {
                break;
            }
            if time > end {
                match self.extend_for_liveness(end) {
                    Some(later) => end = later,
                    None => break,
                }
            }
            self.now = time;
            self.report.events += 1;
            if let Some(detail) = self.runaway(rate, started) {
                self.fail("runaway", detail);
                break;
            }
            self.handle(kind);
        }
        if self.report.violation.is_none() {
            self.finish();
        }
        self.final_metrics();
        self.report.tail = self.trace.tail();
        if self.config.trace {
            self.report.history = std::mem::take(&mut self.history).into_events();
        }
        self.report.trace = self.trace.into_lines();
        self.report.write_latencies_us.sort_unstable();
        self.report
    }

    /// The replica of a running node (`None` while it is crashed).
    fn replica(&self, id: NodeId) -> Option<&Replica<C>> {
        self.nodes.get(&id).and_then(|n| n.replica.as_ref())
    }

    fn replica_mut(&mut self, id: NodeId) -> Option<&mut Replica<C>> {
        self.nodes.get_mut(&id).and_then(|n| n.replica.as_mut())
    }

    fn handle(&mut self, kind: EventKind<C::Message>) {
        if let Some(id) = kind.input_node() {
            let blocked = matches!(&kind, EventKind::Deliver { from, to, .. } if self.partition.blocks(*from, *to));
            if blocked || self.replica(id).is_none() {
                return;
            }
            if let Some(node) = self.nodes.get_mut(&id).filter(|n| n.paused) {
                // The input waits in the socket buffer until the process resumes (known-bugs #5).
                node.parked.push(kind);
                return;
            }
            // The core learns the time with every input, not only at ticks: a process that was
            // paused must see how late it is before it acts (known-bugs #5).
            let now = self.node_clock(id);
            if let Some(r) = self.replica_mut(id) {
                r.tick(now);
            }
        }
        match kind {
            EventKind::Tick(id) => {
                if self.replica(id).is_none() {
                    return;
                }
                if !self.nodes[&id].paused {
                    let now = self.node_clock(id);
                    if let Some(r) = self.replica_mut(id) {
                        r.tick(now);
                    }
                    self.process_ready(id);
                }
                let rate = self.nodes[&id].clock_rate;
                let next = self.now + (TICK_US as f64 / rate) as u64;
                self.schedule(next, EventKind::Tick(id));
            }
            EventKind::Deliver { from, to, message } => {
                if let Some(r) = self.replica_mut(to) {
                    r.step(from, message);
                }
                self.process_ready(to);
            }
            EventKind::Request {
                node,
                connection,
                request,
            } => {
                let mut replies = Vec::new();
                if let Some(r) = self.replica_mut(node) {
                    r.request(connection, request, &mut replies);
                }
                self.send_replies(node, replies);
                self.process_ready(node);
            }
            EventKind::Reply {
                from,
                client,
                seq,
                attempt,
                reply,
            } => self.client_reply(from, client, seq, attempt, reply),
            EventKind::ClientTimeout {
                client,
                seq,
                attempt,
            } => self.client_timeout(client, seq, attempt),
            EventKind::ClientNext { client } => self.client_next(client),
            EventKind::Fault(action) => self.apply_fault(action),
            EventKind::WriteDone { node, incarnation } => self.write_done(node, incarnation),
        }
    }

    /// Whether disk writes are pipelined ([`SimConfig::write_delay_us`] above zero).
    fn pipelined_writes(&self) -> bool {
        self.config.write_delay_us.1 > 0
    }

    /// Takes a node's outputs: carried out at once (persist, then send, then apply and
    /// answer), or with pipelined writes, its early messages sent at once and the rest queued
    /// until its write, and every write issued before it, completes.
    fn process_ready(&mut self, id: NodeId) {
        let Some(replica) = self.replica_mut(id) else {
            return;
        };
        let mut ready = replica.ready();
        if !self.pipelined_writes() {
            if self.crash_during_write(id, &ready.persist) {
                return;
            }
            self.carry_out(id, ready);
            return;
        }
        if ready.is_empty() {
            return;
        }
        for (to, message) in std::mem::take(&mut ready.early) {
            self.send(id, to, message);
        }
        let delay = if ready.persist.is_empty() {
            0
        } else {
            self.write_delay(id)
        };
        let now = self.now;
        let node = self.nodes.get_mut(&id).expect("node exists");
        if node.writes.is_empty() && delay == 0 {
            // Nothing to write: nothing to tear either.
            self.carry_out(id, ready);
            return;
        }
        // One storage thread: writes complete in the order they were issued.
        let at = (now + delay).max(node.last_write_done);
        node.last_write_done = at;
        node.writes.push_back(ready);
        let incarnation = node.incarnation;
        self.schedule(
            at,
            EventKind::WriteDone {
                node: id,
                incarnation,
            },
        );
    }

    /// How long a write on `id` takes: drawn from the configured range, and one write in
    /// [`STALL_ONE_IN`] stalls for [`STALL_FACTOR`] times that (an fsync stuck behind the
    /// device's queue). With crash faults on, a stalled node is sometimes killed before its
    /// write completes (a watchdog, an operator), restarted soon after: the write is lost.
    fn write_delay(&mut self, id: NodeId) -> u64 {
        let (lo, hi) = self.config.write_delay_us;
        let delay = self.rng.random_range(lo.min(hi)..=hi);
        if !self.rng.random_ratio(1, STALL_ONE_IN) {
            return delay;
        }
        let stall = delay * STALL_FACTOR;
        if self.config.faults.has(Fault::Crash)
            && self.now < self.faults_end_us
            && self.rng.random_bool(0.25)
        {
            let at = self.now + self.rng.random_range(1..stall.max(2));
            let restart_within = self.rng.random_range(1..500_000);
            self.schedule(
                at,
                EventKind::Fault(FaultAction::Crash(Some(id), Some(restart_within))),
            );
        }
        stall
    }

    /// The oldest write in flight on `id` is durable: its Ready is carried out, and the core
    /// told (the leader may now count its own copy).
    fn write_done(&mut self, id: NodeId, incarnation: u64) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if node.incarnation != incarnation || node.replica.is_none() {
            return;
        }
        if node.paused {
            // The process learns of it when it runs again.
            node.parked.push(EventKind::WriteDone {
                node: id,
                incarnation,
            });
            return;
        }
        let Some(ready) = node.writes.pop_front() else {
            return;
        };
        // A crash may tear this write (the oldest in flight: the ones behind it are lost).
        if self.crash_during_write(id, &ready.persist) {
            return;
        }
        let write = ready.write;
        self.carry_out(id, ready);
        if let Some(replica) = self.replica_mut(id) {
            replica.persisted(write);
            self.process_ready(id);
        }
    }

    /// Carries out a Ready whose write is durable: the disk updated, messages sent, what was
    /// applied observed, clients answered.
    fn carry_out(&mut self, id: NodeId, ready: distsys_consensus::replica::ReplicaReady<C>) {
        let Some(replica) = self.replica(id) else {
            return;
        };
        let term = replica.core().term();
        let commit = replica.core().commit_index();
        let node = self.nodes.get_mut(&id).expect("node exists");
        let leading = node
            .replica
            .as_ref()
            .is_some_and(|r| r.core().role() == Role::Leader);
        for op in &ready.persist {
            C::apply_persist(&mut node.persisted, op);
            if leading {
                for index in C::appended(op) {
                    self.appended_at.insert(index, self.now);
                }
            }
        }
        let mut vote_granted = false;
        for (to, message) in ready.messages {
            if C::is_vote_grant(&message) {
                vote_granted = true;
            }
            self.send(id, to, message);
        }
        if let Some(e) = &ready.unreadable_snapshot {
            panic!("node {id} installed a snapshot it cannot read: {e}");
        }
        self.observe_applied(id, term, ready.installed.as_ref(), &ready.applied);
        if leading && commit > self.report.commits {
            let matched: Vec<(NodeId, u64)> = self
                .replica(id)
                .map(|r| r.core().follower_progress())
                .unwrap_or_default();
            self.trace.record(
                self.now,
                Some(id),
                Some(term),
                Event::LogReplicated(event::LogReplicated {
                    commit_index: commit,
                    follower_match: matched,
                }),
            );
        }
        self.report.commits = self.report.commits.max(commit);
        for (role, role_term) in ready.roles {
            self.on_role(id, role, role_term);
        }
        self.send_replies(id, ready.replies);
        self.check_safety(id);
        // A rare path made common: a node that just granted a vote sometimes dies at once.
        if vote_granted
            && self.config.faults.has(Fault::Crash)
            && self.now < self.faults_end_us
            && self.rng.random_bool(0.5)
        {
            // ...and is restarted by its supervisor almost at once.
            let restart_within = self.rng.random_range(1..500);
            self.apply_fault(FaultAction::Crash(Some(id), Some(restart_within)));
        }
    }
}

/// One write in this many stalls ([`Sim::write_delay`]).
const STALL_ONE_IN: u32 = 20;
/// How many times its drawn delay a stalled write takes.
const STALL_FACTOR: u64 = 20;

/// One simulation run of the protocol its configuration names, ready to run.
pub struct Simulation(Box<dyn Run>);

/// A run of some protocol, behind [`Simulation`].
trait Run {
    fn run_boxed(self: Box<Self>) -> RunReport;
}

impl<C: Simulated> Run for Sim<C> {
    fn run_boxed(self: Box<Self>) -> RunReport {
        (*self).run()
    }
}

impl Simulation {
    /// A run ready to start, of `config.protocol` (its descriptor's `start`).
    pub fn new(config: SimConfig) -> Simulation {
        (config.protocol.start)(config)
    }

    /// A run of the protocol `C` ready to start; `config.protocol` should describe `C` (its
    /// name labels the reports). What a descriptor's `start` is.
    pub fn of<C: Simulated + 'static>(config: SimConfig) -> Simulation {
        Simulation(Box::new(Sim::<C>::new(config)))
    }

    /// Runs to the end; returns what it measured.
    pub fn run(self) -> RunReport {
        self.0.run_boxed()
    }

    /// The recorded client history (JSON Lines), for `--history`.
    pub fn history_jsonl(events: &[HistoryEvent]) -> String {
        distsys_check::generate::to_jsonl(events)
    }
}
