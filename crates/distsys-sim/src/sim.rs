//! One simulated run: a cluster of replicas, a network, a fault schedule and clients, all driven
//! by discrete events ordered by (virtual time, sequence number) and one seeded ChaCha RNG, so a
//! seed replays bit for bit.

use crate::faults::{Fault, FaultSet, Partition};
use crate::protocol::{BuildParams, ByzantineAdversary, Simulated};
use crate::queue::EventQueue;
use crate::registry::{Protocol, SeededBug};
use crate::trace::Trace;
use distsys_check::history::{Completion, Event as HistoryEvent, HistoryBuilder, OpKind};
use distsys_check::{check, CheckOptions, ModelKind, Verdict};
use distsys_consensus::kv::Op;
use distsys_consensus::pbft::byzantine::Behaviour;
use distsys_consensus::replica::{ClientOp, ClientReply, ClientRequest, Replica};
use distsys_consensus::safety::SafetyMonitor;
use distsys_consensus::{Core, Entry, NodeId, Role, Snapshot};
use distsys_patterns::retry::RetryPolicy;
use distsys_types::event::{self, MembershipOutcome, MembershipStep, NoContext};
use distsys_types::{Event, QuorumSystem};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Microseconds per millisecond.
const MS: u64 = 1_000;
/// Interval between a node's timer ticks, in microseconds of its own clock.
const TICK_US: u64 = 5 * MS;
/// Keys the clients use.
const KEYS: usize = 5;
/// Events allowed regardless of elapsed virtual time, on top of the protocol's rate
/// ([`Simulated::events_per_ms_bound`]): far more events than that means the cluster generates
/// messages without bound (a message storm), and the run ends as a `runaway`.
const BASE_EVENTS: u64 = 20_000;
/// Wall-clock time one run may take before it is cut short as a `runaway` (checked every
/// [`WALL_CHECK_EVERY`] events). Only a pathological run reaches it; the event budget, which is
/// deterministic, stops message storms long before.
const WALL_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);
/// The window, in virtual milliseconds, over which a burst of events counts as a storm.
const STORM_WINDOW_MS: u64 = 200;
/// How many times the protocol's event rate a window may hold before the run is a storm.
const STORM_BURST: u64 = 3;
/// Events between two looks at the wall clock.
const WALL_CHECK_EVERY: u64 = 1 << 14;
/// Upper bound on events waiting in the queue: more means a message storm (known-bugs #14).
const MAX_QUEUED: usize = 1_000_000;

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Cluster size.
    pub nodes: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Virtual duration, in milliseconds.
    pub duration_ms: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// One-way network latency, in milliseconds (jittered).
    pub latency_ms: f64,
    /// Randomised election timeout range and heartbeat, in milliseconds.
    pub election_timeout_ms: (u64, u64),
    /// Heartbeat interval, in milliseconds.
    pub heartbeat_ms: u64,
    /// Faults to inject.
    pub faults: FaultSet,
    /// Serve leader reads from a lease (see `Config::lease_read`).
    pub lease_read: bool,
    /// The protocol to run.
    pub protocol: Protocol,
    /// The seeded bug to plant, if any: one of `protocol`'s (see [`Protocol::bug`]).
    pub mutant: Option<SeededBug>,
    /// Byzantine replicas (protocols with an adversary only; chosen per seed).
    pub byzantine: usize,
    /// What byzantine replicas may do; each one draws a non-empty subset per seed.
    pub byzantine_behaviours: Vec<Behaviour>,
    /// Record a full trace (JSON lines in the seed's log schema).
    pub trace: bool,
    /// Nodes that crash when the faults heal and never restart: a beyond-tolerance experiment
    /// (more crashed nodes than the protocol survives must stall it, which the liveness check
    /// reports). 0 in every normal run.
    pub down_after_heal: usize,
}

impl SimConfig {
    /// The seeded bug's name, if one is enabled.
    pub fn mutant_name(&self) -> Option<&'static str> {
        self.mutant.map(|m| m.name)
    }

    /// Defaults: 5 nodes, 10 s, 5 clients, 1 ms latency, 150-300 ms elections, 50 ms heartbeat.
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            nodes: 5,
            seed,
            duration_ms: 10_000,
            clients: 5,
            latency_ms: 1.0,
            election_timeout_ms: (150, 300),
            heartbeat_ms: 50,
            faults: FaultSet::all(),
            lease_read: false,
            protocol: Protocol::default(),
            mutant: None,
            byzantine: 0,
            byzantine_behaviours: Behaviour::ALL.to_vec(),
            trace: false,
            down_after_heal: 0,
        }
    }
}

/// A property a run broke.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// `election_safety`, `log_matching`, `linearizability`, `liveness`...
    pub property: String,
    /// The evidence.
    pub detail: String,
    /// Virtual time of detection, in microseconds.
    pub time_us: u64,
}

/// What kind of failure a violation is, so that a stall or a message storm is never reported
/// as a safety violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// A safety property of the protocol (election safety, log matching, leader completeness,
    /// state machine safety, agreement) or of the replicated state broke.
    Safety,
    /// The clients' history is not linearizable (a lost or stale acknowledged operation).
    Linearizability,
    /// The protocol did not serve clients again within its recovery bound after the heal.
    Liveness,
    /// The run generated messages without bound, or ran past its wall budget (a message storm).
    Runaway,
    /// An invariant asserted inside the protocol failed (a panic).
    Assertion,
}

impl FailureKind {
    /// Every kind, in report order.
    pub const ALL: [FailureKind; 5] = [
        FailureKind::Safety,
        FailureKind::Linearizability,
        FailureKind::Liveness,
        FailureKind::Runaway,
        FailureKind::Assertion,
    ];

    /// The name in summaries and JSON reports.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Safety => "safety",
            FailureKind::Linearizability => "linearizability",
            FailureKind::Liveness => "liveness",
            FailureKind::Runaway => "runaway",
            FailureKind::Assertion => "assertion",
        }
    }
}

impl Violation {
    /// The kind of failure this is.
    pub fn kind(&self) -> FailureKind {
        match self.property.as_str() {
            "linearizability" | "history" => FailureKind::Linearizability,
            "liveness" => FailureKind::Liveness,
            "runaway" => FailureKind::Runaway,
            "assertion" => FailureKind::Assertion,
            _ => FailureKind::Safety,
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// The first violation, if any.
    pub violation: Option<Violation>,
    /// Elections won.
    pub elections_won: u64,
    /// Entries committed (highest commit index reached).
    pub commits: u64,
    /// Client operations completed ok (and cas that failed cleanly).
    pub ops_ok: u64,
    /// Client operations that ended indeterminate or failed after every retry.
    pub ops_unknown: u64,
    /// Client operations attempted.
    pub ops_total: u64,
    /// Latency of successful writes, in microseconds (sorted).
    pub write_latencies_us: Vec<u64>,
    /// Time from the last fault healing to a leader, in microseconds (None: no leader by the end).
    pub leader_after_heal_us: Option<u64>,
    /// Time from the last fault healing until every client operation pending at that moment
    /// had completed (None: some never did).
    pub clients_done_after_heal_us: Option<u64>,
    /// Partition events (detected, healed).
    pub partitions: (u64, u64),
    /// Elections by outcome: (won, timed out alone, split between several candidates).
    pub election_results: (u64, u64, u64),
    /// Latency of operations that completed ok, by operation type, in microseconds.
    pub latency_by_operation_us: BTreeMap<String, Vec<u64>>,
    /// At the end: for each follower of the leader, the age (seconds) of the oldest entry the
    /// leader holds that the follower lacks.
    pub replication_lag_seconds: BTreeMap<NodeId, f64>,
    /// Events processed.
    pub events: u64,
    /// Messages the nodes sent to each other.
    pub messages: u64,
    /// The last trace lines before the end (or the violation).
    pub tail: Vec<String>,
    /// The whole trace, when requested.
    pub trace: Vec<String>,
    /// The clients' history (invoke/ok/fail/info), when a trace was requested.
    pub history: Vec<HistoryEvent>,
    /// The byzantine replicas and what each did.
    pub byzantine: BTreeMap<NodeId, Vec<&'static str>>,
    /// Messages the honest replicas refused, by reason (forged, replayed, bad_digest...).
    pub rejected: BTreeMap<&'static str, u64>,
    /// Time from the last fault healing to the first client operation completing after it.
    pub first_ok_after_heal_us: Option<u64>,
    /// Snapshots installed by lagging replicas (state transfer).
    pub snapshots_installed: u64,
}

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
}

#[derive(Debug, Clone)]
struct Pending {
    seq: u64,
    kind: OpKind,
    key: String,
    input: Value,
    op: ClientOp,
    attempt: u32,
    invoked_at: u64,
    /// Byzantine-tolerant protocols: the answers so far, with the replicas that gave each.
    votes: Vec<(ClientReply, BTreeSet<NodeId>)>,
}

struct Client {
    process: u64,
    guess: NodeId,
    next_seq: u64,
    pending: Option<Pending>,
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
    history: Vec<HistoryEvent>,
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
    /// The byzantine replicas' adversary (protocols that have one, with `byzantine > 0`).
    adversary: Option<C::Adversary>,
    /// Whether every replica answers every client request (the protocol's
    /// [`Core::replies_from_every_replica`], learnt when the first node starts): clients then
    /// send to all and wait for [`Simulated::matching_replies`] equal answers, and there is no
    /// leader to wait for after the heal.
    every_replica_answers: bool,
    /// Nodes crashed for good when the faults healed (`SimConfig::down_after_heal`).
    stays_down: BTreeSet<NodeId>,
    /// The storm-detection window: (window number, events processed when it began).
    storm_window: (u64, u64),
    /// The cluster secret (PBFT keys).
    secret: [u8; 32],
}

fn micros(ms: f64) -> u64 {
    (ms * 1000.0).round().max(0.0) as u64
}

impl<C: Simulated> Sim<C> {
    /// Prepares a run.
    pub fn new(config: SimConfig) -> Sim<C> {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let ids: Vec<NodeId> = (1..=config.nodes as u64).collect();
        let clock = config.faults.has(Fault::Clock);
        let nodes = ids
            .iter()
            .map(|&id| {
                let (offset, rate) = if clock {
                    (
                        rng.random_range(0..500 * MS),
                        1.0 + rng.random_range(-0.05..0.05),
                    )
                } else {
                    (0, 1.0)
                };
                (
                    id,
                    Node {
                        replica: None,
                        persisted: C::Persisted::default(),
                        paused: false,
                        parked: Vec::new(),
                        clock_offset_us: offset,
                        clock_rate: rate,
                        incarnation: 0,
                    },
                )
            })
            .collect();
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
        let mut sim = Sim {
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
            history: Vec::new(),
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
            pending_at_heal: std::collections::BTreeSet::new(),
            appended_at: BTreeMap::new(),
            adversary: None,
            every_replica_answers: false,
            stays_down: BTreeSet::new(),
            storm_window: (0, 0),
            secret: [0; 32],
            config,
        };
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

    /// Picks the byzantine replicas (the first primary among them half of the time) and what
    /// each does: a random non-empty subset of the configured behaviours.
    fn choose_byzantine(&mut self, ids: &[NodeId]) {
        let count = self.config.byzantine.min(ids.len());
        if count == 0 || !<C::Adversary as ByzantineAdversary<C::Message>>::EXISTS {
            return;
        }
        let mut pool: Vec<NodeId> = ids.to_vec();
        let mut chosen = BTreeSet::new();
        if self.rng.random_bool(0.5) {
            chosen.insert(pool.remove(0));
        }
        while chosen.len() < count {
            let i = self.rng.random_range(0..pool.len());
            chosen.insert(pool.remove(i));
        }
        let options = self.config.byzantine_behaviours.clone();
        let mut behaviours = BTreeMap::new();
        for id in chosen {
            let mut set: BTreeSet<Behaviour> = options
                .iter()
                .copied()
                .filter(|_| self.rng.random_bool(0.5))
                .collect();
            if set.is_empty() && !options.is_empty() {
                set.insert(options[self.rng.random_range(0..options.len())]);
            }
            self.report
                .byzantine
                .insert(id, set.iter().map(|b| b.name()).collect());
            behaviours.insert(id, set);
        }
        self.trace.record(
            0,
            None,
            None,
            Event::ByzantineReplicas(event::ByzantineReplicas {
                replicas: self
                    .report
                    .byzantine
                    .iter()
                    .map(|(id, names)| {
                        (
                            id.to_string(),
                            names.iter().map(|n| n.to_string()).collect(),
                        )
                    })
                    .collect(),
            }),
        );
        self.adversary = C::Adversary::new(&self.secret, ids, behaviours);
        debug_assert!(self.adversary.is_some(), "an adversary that EXISTS builds");
    }

    fn is_byzantine(&self, id: NodeId) -> bool {
        self.adversary.as_ref().is_some_and(|a| a.controls(id))
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
        node.replica = Some(Replica::with_core(core, &node.persisted));
        node.paused = false;
        let at = self.now + self.rng.random_range(0..TICK_US);
        self.schedule(at, EventKind::Tick(id));
        self.process_ready(id);
    }

    /// The liveness bound: how long after the heal the protocol must serve clients again
    /// (see [`Simulated::recovery_bound_us`]), from the configured timers.
    fn recovery_bound_us(&self) -> u64 {
        let mut params = self.build_params();
        params.election_timeout_us = (
            self.config.election_timeout_ms.0 * MS,
            self.config.election_timeout_ms.1 * MS,
        );
        C::recovery_bound_us(self.config.nodes, &params)
    }

    /// What the liveness check demands after the heal, with when it happened (microseconds
    /// after the heal): a client operation completed, for every protocol (a leader without a
    /// quorum, or a byzantine primary doing nothing, serves nobody); and a leader, for the
    /// protocols that have one.
    fn recovery_evidence(&self) -> Vec<(&'static str, Option<u64>)> {
        let mut evidence = vec![(
            "client operation completed",
            self.report.first_ok_after_heal_us,
        )];
        if !self.every_replica_answers {
            evidence.push(("leader", self.report.leader_after_heal_us));
        }
        evidence
    }

    /// Liveness: every piece of recovery evidence within the recovery bound after the heal.
    fn check_recovery(&mut self) {
        if self.healed_at.is_none() {
            return;
        }
        let bound = self.recovery_bound_us();
        for (what, at) in self.recovery_evidence() {
            match at {
                None => self.fail(
                    "liveness",
                    format!("no {what} within {} ms after the faults healed", bound / MS),
                ),
                Some(t) if t > bound => self.fail(
                    "liveness",
                    format!(
                        "the first {what} after the faults healed took {} ms (bound {} ms)",
                        t / MS,
                        bound / MS
                    ),
                ),
                _ => {}
            }
        }
    }

    /// Whether the liveness check still waits for its evidence (a leader, or for protocols
    /// whose every replica answers, a completed client operation) after the heal.
    fn recovery_pending(&self) -> bool {
        self.healed_at.is_some() && self.recovery_evidence().iter().any(|(_, t)| t.is_none())
    }

    /// At the end of the configured duration, a run whose liveness is not yet decided goes on
    /// (clients included) until the recovery bound after the heal, so a short run never calls
    /// a protocol stuck that was given less than its bound. Returns the new end, if extended.
    fn extend_for_liveness(&mut self, end: u64) -> Option<u64> {
        let healed = self.healed_at?;
        let deadline = healed + self.recovery_bound_us() + MS;
        if !self.recovery_pending() || deadline <= end {
            return None;
        }
        self.clients_end_us = deadline;
        for client in 0..self.clients.len() {
            if self.clients[client].pending.is_none() {
                self.schedule(self.now, EventKind::ClientNext { client });
            }
        }
        Some(deadline)
    }

    /// Why the run must stop as a message storm, if it must: more events than the protocol's
    /// rate allows for the virtual time elapsed, too many waiting, or past the wall budget.
    fn runaway(&mut self, rate: u64, started: std::time::Instant) -> Option<String> {
        // A storm also shows as a burst: more than STORM_BURST times the rate over a window
        // (the cumulative budget alone lets a run bank what quiet periods left unused).
        let window = self.now / (STORM_WINDOW_MS * MS);
        if window != self.storm_window.0 {
            self.storm_window = (window, self.report.events);
        } else if self.report.events - self.storm_window.1 > STORM_BURST * rate * STORM_WINDOW_MS {
            return Some(format!(
                "{} events in {STORM_WINDOW_MS} virtual ms at {} ms (more than {STORM_BURST} x {rate} per ms): the cluster generates messages without bound",
                self.report.events - self.storm_window.1,
                self.now / MS
            ));
        }
        let allowed = BASE_EVENTS + rate * (self.now / MS + 100);
        if self.report.events > allowed || self.queue.len() > MAX_QUEUED {
            return Some(format!(
                "{} events processed and {} waiting at {} ms (budget {allowed}: {rate} per virtual ms): the cluster generates messages without bound",
                self.report.events,
                self.queue.len(),
                self.now / MS
            ));
        }
        if self.report.events.is_multiple_of(WALL_CHECK_EVERY) && started.elapsed() > WALL_BUDGET {
            return Some(format!(
                "{} events processed in more than {} s of wall time (the run's wall budget)",
                self.report.events,
                WALL_BUDGET.as_secs()
            ));
        }
        None
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
            self.report.history = std::mem::take(&mut self.history);
        }
        self.report.trace = self.trace.into_lines();
        self.report.write_latencies_us.sort_unstable();
        self.report
    }

    fn fail(&mut self, property: &str, detail: String) {
        if self.report.violation.is_none() {
            self.trace.record(
                self.now,
                None,
                None,
                Event::Violation(event::Violation {
                    property: property.to_string(),
                    detail: detail.clone(),
                }),
            );
            self.report.violation = Some(Violation {
                property: property.to_string(),
                detail,
                time_us: self.now,
            });
        }
    }

    /// Checks the safety properties against the node that just changed. Only that node's state
    /// moved, and the monitor remembers what every other node showed, so this is the same check
    /// as looking at the whole cluster, in constant work per event.
    fn check_safety(&mut self, id: NodeId) {
        if self.is_byzantine(id) {
            return;
        }
        // Field-level borrows: the node is read while the monitor is updated.
        let Some(core) = self
            .nodes
            .get(&id)
            .and_then(|n| n.replica.as_ref())
            .map(|r| r.core())
        else {
            return;
        };
        if let Err(v) = core.observe_safety(&mut self.monitor) {
            self.fail(v.property, v.detail);
        }
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
        }
    }

    /// Carries out a node's outputs: persist (durable), then send, then apply and answer.
    fn process_ready(&mut self, id: NodeId) {
        let Some(replica) = self.replica_mut(id) else {
            return;
        };
        let ready = replica.ready();
        if self.crash_during_write(id, &ready.persist) {
            return;
        }
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

    /// Records an installed snapshot and the applied entries of node `id` in the trace, and
    /// hands them to the safety monitor (honest nodes only).
    fn observe_applied(
        &mut self,
        id: NodeId,
        term: u64,
        installed: Option<&Snapshot>,
        applied: &[Entry],
    ) {
        let honest = !self.is_byzantine(id);
        if let Some(snapshot) = installed {
            self.report.snapshots_installed += 1;
            self.trace.record(
                self.now,
                Some(id),
                Some(term),
                Event::SnapshotInstalled(event::SnapshotInstalled {
                    last_index: snapshot.last_index,
                }),
            );
        }
        if let Some(snapshot) = installed.filter(|_| honest) {
            if let Err(v) = self.monitor.on_install(id, snapshot) {
                self.fail(v.property, v.detail);
            }
        }
        for entry in applied.iter().filter(|_| honest) {
            if let Err(v) = self.monitor.on_apply(id, entry) {
                self.fail(v.property, v.detail);
            }
        }
        if !applied.is_empty() {
            let last = applied.last().map_or(0, |e| e.index);
            self.trace.record(
                self.now,
                Some(id),
                Some(term),
                // Digest of the applied state: the chain hash covers every entry up to it.
                Event::CommitApplied(event::CommitApplied::new(
                    last,
                    applied.len(),
                    applied.last().map_or(0, |e| e.chain),
                )),
            );
        }
    }

    /// Sometimes (crash faults on) the node dies while writing this Ready: a prefix of its
    /// persist operations reaches the disk, the last one possibly cut short (a torn, unsynced
    /// tail), and nothing the Ready says is sent or applied. Returns whether it crashed.
    fn crash_during_write(&mut self, id: NodeId, persist: &[C::PersistOp]) -> bool {
        /// Chance that a write is interrupted by a crash.
        const TORN_WRITE_PROBABILITY: f64 = 0.000_5;
        if persist.is_empty()
            || !self.config.faults.has(Fault::Crash)
            || self.now >= self.faults_end_us
            || !self.rng.random_bool(TORN_WRITE_PROBABILITY)
        {
            return false;
        }
        let durable = self.rng.random_range(0..persist.len());
        let appended = C::appended(&persist[durable]).count();
        let torn = if appended > 1 {
            let kept = self.rng.random_range(1..appended);
            C::torn(&persist[durable], kept)
        } else {
            None
        };
        let node = self.nodes.get_mut(&id).expect("node exists");
        for op in persist[..durable].iter().chain(torn.iter()) {
            C::apply_persist(&mut node.persisted, op);
        }
        self.trace.record(
            self.now,
            Some(id),
            None,
            Event::WriteTorn(event::WriteTorn {
                operations: persist.len() as u64,
                durable: durable as u64,
                torn_append: torn.is_some(),
            }),
        );
        self.apply_fault(FaultAction::Crash(Some(id), None));
        true
    }

    fn on_role(&mut self, id: NodeId, role: Role, term: u64) {
        match role {
            Role::Candidate => {
                self.candidates.insert((id, term), false);
                self.trace.record(
                    self.now,
                    Some(id),
                    Some(term),
                    Event::ElectionStarted(event::ElectionStarted { candidate: id }),
                );
            }
            Role::Leader => {
                self.candidates.insert((id, term), true);
                self.report.elections_won += 1;
                if let Some(healed) = self.healed_at {
                    if self.report.leader_after_heal_us.is_none() {
                        self.report.leader_after_heal_us = Some(self.now - healed);
                    }
                }
                self.trace.record(
                    self.now,
                    Some(id),
                    Some(term),
                    Event::LeaderElected(event::LeaderElected {
                        leader: id,
                        heartbeat_ms: Some(self.config.heartbeat_ms),
                        election_timeout_ms: Some([
                            self.election_timeout_us.0 / MS,
                            self.election_timeout_us.1 / MS,
                        ]),
                    }),
                );
            }
            Role::Follower | Role::PreCandidate => {}
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, message: C::Message) {
        if let Some(adversary) = self.adversary.as_mut().filter(|a| a.controls(from)) {
            for (to, message, delay) in adversary.outgoing(&mut self.rng, to, message) {
                self.transmit(from, to, message, delay);
            }
            return;
        }
        self.transmit(from, to, message, 0);
    }

    /// Puts a message on the network (loss, duplication, latency, reordering apply).
    fn transmit(&mut self, from: NodeId, to: NodeId, message: C::Message, extra_delay: u64) {
        self.report.messages += 1;
        let faults = &self.config.faults;
        if faults.has(Fault::Drop) && self.now < self.faults_end_us && self.rng.random_bool(0.02) {
            return;
        }
        let copies = if faults.has(Fault::Duplicate) && self.rng.random_bool(0.01) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self.link_delay() + extra_delay;
            let at = self.now + delay;
            self.schedule(
                at,
                EventKind::Deliver {
                    from,
                    to,
                    message: message.clone(),
                },
            );
        }
    }

    fn link_delay(&mut self) -> u64 {
        let base = micros(self.config.latency_ms);
        let jitter = self.rng.random_range(0.75..1.5);
        let mut delay = (base as f64 * jitter) as u64;
        if self.config.faults.has(Fault::Reorder)
            && self.now < self.faults_end_us
            && self.rng.random_bool(0.05)
        {
            delay += self.rng.random_range(0..10 * base.max(MS));
        }
        delay.max(1)
    }

    /// Sends answers back to clients. A connection number is `client << 8 | attempt`, so a late
    /// answer to an old attempt can be told apart.
    fn send_replies(&mut self, from: NodeId, replies: Vec<(u64, u64, u64, ClientReply)>) {
        let (silent, lies) = self
            .adversary
            .as_ref()
            .map_or((false, false), |a| (a.silent(from), a.lies(from)));
        if silent {
            return;
        }
        for (connection, _client, seq, mut reply) in replies {
            if lies {
                // The byzantine replicas agree on the same made-up answer.
                reply = ClientReply::Ok {
                    value: Some(format!("lie-{seq}")),
                };
            }
            let client = (connection >> 8) as usize;
            let attempt = (connection & 0xff) as u32;
            let at = self.now + self.link_delay();
            self.schedule(
                at,
                EventKind::Reply {
                    from,
                    client,
                    seq,
                    attempt,
                    reply,
                },
            );
        }
    }

    // ----- faults -----

    fn schedule_faults(&mut self) {
        let kinds: Vec<Fault> = [
            Fault::Partition,
            Fault::Crash,
            Fault::Pause,
            Fault::Membership,
        ]
        .into_iter()
        .filter(|f| self.config.faults.has(*f))
        .collect();
        let mut at = 200 * MS;
        while !kinds.is_empty() && at < self.faults_end_us {
            let kind = kinds[self.rng.random_range(0..kinds.len())];
            let action = match kind {
                Fault::Partition => FaultAction::Partition,
                Fault::Crash => FaultAction::Crash(None, None),
                Fault::Membership => FaultAction::ChangeMembership,
                _ => FaultAction::Pause,
            };
            self.schedule(at, EventKind::Fault(action));
            at += self.rng.random_range(300 * MS..1500 * MS);
        }
        let end = self.faults_end_us;
        self.schedule(end, EventKind::Fault(FaultAction::HealAll));
    }

    /// Moves one random node one step: voter -> removed (while enough voters remain), removed
    /// -> learner, learner -> voter. Refusals (no leader, a change in progress) are traced.
    fn change_membership(&mut self) {
        let Some(leader) = self.leader() else {
            return;
        };
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let node = ids[self.rng.random_range(0..ids.len())];
        let Some(current) = self
            .replica(leader)
            .and_then(|r| r.core().membership())
            .cloned()
        else {
            return;
        };
        let (mut voters, mut learners) = (current.voters.clone(), current.learners.clone());
        let min_voters = QuorumSystem::crash(ids.len()).quorum();
        let step = if voters.contains(&node) {
            if voters.len() <= min_voters {
                return;
            }
            voters.remove(&node);
            MembershipStep::Remove
        } else if learners.remove(&node) {
            voters.insert(node);
            MembershipStep::Promote
        } else {
            learners.insert(node);
            MembershipStep::AddLearner
        };
        let result = self
            .nodes
            .get_mut(&leader)
            .and_then(|n| n.replica.as_mut())
            .and_then(|r| C::propose_membership(r, voters.clone(), learners.clone()));
        let outcome = match result {
            Some(Ok(index)) => MembershipOutcome::Index(index),
            Some(Err(e)) => MembershipOutcome::Refused(e.to_string()),
            None => return,
        };
        self.trace.record(
            self.now,
            Some(leader),
            None,
            Event::MembershipChange(event::MembershipChange {
                step,
                node,
                voters,
                learners,
                outcome,
            }),
        );
        self.process_ready(leader);
    }

    fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| !n.paused)
            .filter_map(|(id, n)| {
                n.replica
                    .as_ref()
                    .filter(|r| r.core().role() == Role::Leader)
                    .map(|r| (r.core().term(), *id))
            })
            .max()
            .map(|(_, id)| id)
    }

    /// A node to hit: the leader half of the time (leader-targeted faults), else any.
    fn target(&mut self) -> NodeId {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        match self.leader() {
            Some(leader) if self.rng.random_bool(0.5) => leader,
            _ => ids[self.rng.random_range(0..ids.len())],
        }
    }

    fn apply_fault(&mut self, action: FaultAction) {
        match action {
            FaultAction::Partition => self.start_partition(),
            FaultAction::Heal => {
                if self.partition.is_active() {
                    self.partition.heal();
                    self.report.partitions.1 += 1;
                    self.trace.record(
                        self.now,
                        None,
                        None,
                        Event::PartitionHealed(event::PartitionHealed { peer: None }),
                    );
                }
            }
            FaultAction::Crash(victim, restart_within) => self.crash(victim, restart_within),
            FaultAction::Restart(id) => {
                if self.stays_down.contains(&id) {
                    return;
                }
                if self.nodes.get(&id).is_some_and(|n| n.replica.is_none()) {
                    self.trace
                        .record(self.now, Some(id), None, Event::NodeRestarted(NoContext {}));
                    self.start_node(id);
                }
            }
            FaultAction::Pause => self.pause_one(),
            FaultAction::Resume(id) => {
                if let Some(node) = self.nodes.get_mut(&id) {
                    if node.paused {
                        node.paused = false;
                        let parked = std::mem::take(&mut node.parked);
                        for kind in parked {
                            self.queue.push(self.now, kind);
                        }
                        self.trace.record(
                            self.now,
                            Some(id),
                            None,
                            Event::NodeResumed(NoContext {}),
                        );
                    }
                }
            }
            FaultAction::ChangeMembership => self.change_membership(),
            FaultAction::HealAll => self.heal_all(),
        }
    }

    /// A partition of a random shape (a split, an isolated node, one-way links out of a node,
    /// or a bridge node between two sides), healed 0.2-2 s later.
    fn start_partition(&mut self) {
        let mut ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let shape = self.rng.random_range(0..4);
        let description = match shape {
            0 => {
                // Full split into two random sides.
                for i in (1..ids.len()).rev() {
                    let j = self.rng.random_range(0..=i);
                    ids.swap(i, j);
                }
                let cut = self.rng.random_range(1..ids.len().max(2));
                let (a, b) = ids.split_at(cut.min(ids.len()));
                self.partition.split(a, b);
                format!("split {a:?} | {b:?}")
            }
            1 => {
                // Isolate one node (often the leader).
                let victim = self.target();
                let rest: Vec<NodeId> = ids.iter().copied().filter(|i| *i != victim).collect();
                self.partition.split(&[victim], &rest);
                format!("isolate {victim}")
            }
            2 => {
                // Asymmetric: one node's outgoing links are cut, incoming still work.
                let victim = self.target();
                for &other in ids.iter().filter(|i| **i != victim) {
                    self.partition.one_way(victim, other);
                }
                format!("one-way from {victim}")
            }
            _ => {
                // Bridge: two sides that cannot talk, and one node that sees both.
                let bridge = self.target();
                let rest: Vec<NodeId> = ids.iter().copied().filter(|i| *i != bridge).collect();
                let (a, b) = rest.split_at(rest.len() / 2);
                self.partition.split(a, b);
                format!("bridge {bridge} between {a:?} and {b:?}")
            }
        };
        self.report.partitions.0 += 1;
        self.trace.record(
            self.now,
            None,
            None,
            Event::PartitionDetected(event::PartitionDetected {
                partition: Some(description),
                peer: None,
            }),
        );
        let heal = self.now + self.rng.random_range(200 * MS..2000 * MS);
        self.schedule(
            heal.min(self.faults_end_us),
            EventKind::Fault(FaultAction::Heal),
        );
    }

    /// Crashes `victim` (or a target), losing what it did not persist, and schedules its
    /// restart after `restart_within` (or 50-1500 ms).
    fn crash(&mut self, victim: Option<NodeId>, restart_within: Option<u64>) {
        let victim = match victim {
            Some(v) => v,
            None => self.target(),
        };
        self.count_rejections(victim);
        if let Some(node) = self.nodes.get_mut(&victim) {
            node.parked.clear();
            if node.replica.take().is_some() {
                self.trace.record(
                    self.now,
                    Some(victim),
                    None,
                    Event::NodeCrashed(NoContext {}),
                );
                let delay = match restart_within {
                    Some(d) => d,
                    None => self.rng.random_range(50 * MS..1500 * MS),
                };
                let back = (self.now + delay).min(self.faults_end_us.max(self.now + 1));
                self.schedule(back, EventKind::Fault(FaultAction::Restart(victim)));
            }
        }
    }

    /// Pauses a target for 0.1-1.5 s: its events are parked until it resumes.
    fn pause_one(&mut self) {
        let victim = self.target();
        if let Some(node) = self.nodes.get_mut(&victim) {
            if !node.paused && node.replica.is_some() {
                node.paused = true;
                self.trace.record(
                    self.now,
                    Some(victim),
                    None,
                    Event::NodePaused(NoContext {}),
                );
                let back = self.now + self.rng.random_range(100 * MS..1500 * MS);
                self.schedule(
                    back.min(self.faults_end_us),
                    EventKind::Fault(FaultAction::Resume(victim)),
                );
            }
        }
    }

    /// The end of the faults: heal, resume and restart everything (but the nodes that stay
    /// down), and start the liveness clock.
    fn heal_all(&mut self) {
        self.apply_fault(FaultAction::Heal);
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.apply_fault(FaultAction::Resume(id));
            self.apply_fault(FaultAction::Restart(id));
        }
        self.crash_for_good();
        self.healed_at = Some(self.now);
        self.pending_at_heal = self
            .clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.pending.as_ref().map(|p| (i, p.seq)))
            .collect();
        if self.pending_at_heal.is_empty() {
            self.report.clients_done_after_heal_us = Some(0);
        }
        if self.leader().is_some() {
            self.report.leader_after_heal_us = Some(0);
        }
        self.trace
            .record(self.now, None, None, Event::FaultsHealed(NoContext {}));
    }

    /// Crashes `down_after_heal` random nodes for the rest of the run.
    fn crash_for_good(&mut self) {
        let mut ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let down = self.config.down_after_heal.min(ids.len());
        for _ in 0..down {
            let id = ids.remove(self.rng.random_range(0..ids.len()));
            self.stays_down.insert(id);
            self.apply_fault(FaultAction::Crash(Some(id), None));
        }
    }

    // ----- clients -----

    fn record(
        &mut self,
        client: usize,
        completion: Option<Completion>,
        kind: OpKind,
        key: &str,
        value: Value,
    ) {
        let process = self.clients[client].process;
        self.history.push(HistoryEvent {
            line: self.history.len() + 1,
            process,
            completion,
            kind,
            key: Some(key.to_string()),
            value,
            time: self.now,
        });
    }

    fn client_next(&mut self, client: usize) {
        if self.clients[client].pending.is_some() {
            return;
        }
        if self.now >= self.clients_end_us {
            return;
        }
        let key = format!("k{}", self.rng.random_range(0..KEYS));
        self.value_counter += 1;
        let value = format!("v{}", self.value_counter);
        let roll = self.rng.random_range(0..100);
        let (kind, input, op) = if roll < 45 {
            (
                OpKind::Read,
                Value::Null,
                ClientOp::Read { key: key.clone() },
            )
        } else if roll < 75 {
            (
                OpKind::Write,
                json!(value),
                ClientOp::Write(Op::Put {
                    key: key.clone(),
                    value: value.clone(),
                }),
            )
        } else if roll < 90 {
            let expected = if self.rng.random_bool(0.5) {
                None
            } else {
                Some(format!(
                    "v{}",
                    self.rng.random_range(1..=self.value_counter)
                ))
            };
            (
                OpKind::Cas,
                json!([expected, value]),
                ClientOp::Write(Op::Cas {
                    key: key.clone(),
                    expected,
                    new: value.clone(),
                }),
            )
        } else {
            let piece = format!(" {value}");
            (
                OpKind::Append,
                json!(piece),
                ClientOp::Write(Op::Append {
                    key: key.clone(),
                    value: piece,
                }),
            )
        };
        let c = &mut self.clients[client];
        let seq = c.next_seq;
        c.next_seq += 1;
        c.pending = Some(Pending {
            seq,
            kind,
            key: key.clone(),
            input: input.clone(),
            op,
            attempt: 0,
            invoked_at: self.now,
            votes: Vec::new(),
        });
        self.report.ops_total += 1;
        self.record(client, None, kind, &key, input);
        self.client_send(client);
    }

    fn client_send(&mut self, client: usize) {
        let Some(mut pending) = self.clients[client].pending.clone() else {
            return;
        };
        pending.attempt += 1;
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        // A read's first attempt sometimes goes to any node (a client that does not know or trust
        // the leader); retries follow the leader hints.
        let node =
            if pending.kind == OpKind::Read && pending.attempt == 1 && self.rng.random_bool(0.3) {
                ids[self.rng.random_range(0..ids.len())]
            } else {
                self.clients[client].guess
            };
        let request = ClientRequest {
            client: client as u64 + 1,
            seq: pending.seq,
            op: pending.op.clone(),
        };
        let connection = ((client as u64) << 8) | u64::from(pending.attempt & 0xff);
        let (seq, attempt) = (pending.seq, pending.attempt);
        self.clients[client].pending = Some(pending);
        // Protocols whose every replica answers: the request goes to every replica, and the
        // client waits for matching answers (f+1 for byzantine-tolerant ones).
        let targets = if self.every_replica_answers {
            ids
        } else {
            vec![node]
        };
        for node in targets {
            let at = self.now + self.link_delay();
            self.schedule(
                at,
                EventKind::Request {
                    node,
                    connection,
                    request: request.clone(),
                },
            );
        }
        let timeout = self.now + self.request_timeout_us;
        self.schedule(
            timeout,
            EventKind::ClientTimeout {
                client,
                seq,
                attempt,
            },
        );
    }

    fn client_reply(
        &mut self,
        from: NodeId,
        client: usize,
        seq: u64,
        attempt: u32,
        reply: ClientReply,
    ) {
        let Some(pending) = self.clients[client].pending.as_mut() else {
            return;
        };
        if pending.seq != seq {
            return;
        }
        let reply = if self.every_replica_answers {
            // Accept an answer once enough replicas gave it (f+1: at least one is correct).
            let needed = C::matching_replies(self.config.nodes);
            let index = match pending.votes.iter().position(|(r, _)| *r == reply) {
                Some(i) => i,
                None => {
                    pending.votes.push((reply, BTreeSet::new()));
                    pending.votes.len() - 1
                }
            };
            let (reply, voters) = &mut pending.votes[index];
            voters.insert(from);
            if voters.len() < needed {
                return;
            }
            reply.clone()
        } else {
            reply
        };
        let pending = pending.clone();
        match reply {
            ClientReply::Ok { value } => {
                let output = if pending.kind == OpKind::Read {
                    json!(value)
                } else {
                    pending.input.clone()
                };
                self.record(
                    client,
                    Some(Completion::Ok),
                    pending.kind,
                    &pending.key,
                    output,
                );
                let latency = self.now - pending.invoked_at;
                if pending.kind.is_mutation() {
                    self.report.write_latencies_us.push(latency);
                }
                self.report
                    .latency_by_operation_us
                    .entry(pending.kind.name().to_string())
                    .or_default()
                    .push(latency);
                self.complete(client);
            }
            // The simulated workload never sends an operation that can be invalid (no INCR);
            // like a failed cas, nothing changed.
            ClientReply::CasFailed | ClientReply::Invalid(_) => {
                self.record(
                    client,
                    Some(Completion::Fail),
                    pending.kind,
                    &pending.key,
                    pending.input.clone(),
                );
                self.complete(client);
            }
            ClientReply::NotLeader { leader } => {
                if attempt != pending.attempt {
                    return;
                }
                let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
                let guess = match leader {
                    Some(l) => l,
                    None => ids[self.rng.random_range(0..ids.len())],
                };
                self.clients[client].guess = guess;
                self.retry_later(client, leader.is_some());
            }
        }
    }

    /// Notes that a client's operation ended; records when the last one pending at the heal did.
    fn ended(&mut self, client: usize) {
        if let (Some(pending), Some(healed)) =
            (self.clients[client].pending.as_ref(), self.healed_at)
        {
            if self.pending_at_heal.remove(&(client, pending.seq))
                && self.pending_at_heal.is_empty()
            {
                self.report.clients_done_after_heal_us = Some(self.now - healed);
            }
        }
    }

    fn complete(&mut self, client: usize) {
        self.ended(client);
        if let (Some(healed), None) = (self.healed_at, self.report.first_ok_after_heal_us) {
            self.report.first_ok_after_heal_us = Some(self.now - healed);
        }
        self.report.ops_ok += 1;
        self.clients[client].pending = None;
        let think = self.rng.random_range(0..20 * MS);
        self.schedule(self.now + think, EventKind::ClientNext { client });
    }

    /// Retries the pending operation with the same idempotency key (client, seq), after the
    /// retry policy's backoff (at once when a leader was named), or gives up when the attempts
    /// are used up.
    fn retry_later(&mut self, client: usize, immediately: bool) {
        let Some(pending) = self.clients[client].pending.as_ref() else {
            return;
        };
        let unit: f64 = self.rng.random_range(0.0..1.0);
        match self.retry.backoff_ms(pending.attempt, unit) {
            Some(delay_ms) => {
                let delay = if immediately { 0 } else { delay_ms * MS };
                self.schedule_resend(client, delay);
            }
            None => self.give_up(client),
        }
    }

    fn schedule_resend(&mut self, client: usize, delay: u64) {
        // Resending is an event of its own so that it happens at the right virtual time.
        let Some(pending) = self.clients[client].pending.as_mut() else {
            return;
        };
        let (seq, attempt) = (pending.seq, pending.attempt);
        let at = self.now + delay.max(1);
        // A ClientTimeout with attempt = current attempt + 1000 marks a scheduled resend.
        self.schedule(
            at,
            EventKind::ClientTimeout {
                client,
                seq,
                attempt: attempt + RESEND_MARK,
            },
        );
    }

    fn client_timeout(&mut self, client: usize, seq: u64, attempt: u32) {
        let Some(pending) = self.clients[client].pending.clone() else {
            return;
        };
        if pending.seq != seq {
            return;
        }
        if attempt >= RESEND_MARK {
            if attempt - RESEND_MARK == pending.attempt {
                self.client_send(client);
            }
            return;
        }
        if attempt != pending.attempt {
            return;
        }
        // No answer: maybe the node is down; try another one after a backoff.
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        self.clients[client].guess = ids[self.rng.random_range(0..ids.len())];
        self.retry_later(client, false);
    }

    /// Every attempt used up: the outcome is unknown. Jepsen retires the process.
    fn give_up(&mut self, client: usize) {
        self.ended(client);
        let Some(pending) = self.clients[client].pending.take() else {
            return;
        };
        let completion = if pending.kind == OpKind::Read {
            Completion::Fail
        } else {
            Completion::Info
        };
        self.record(
            client,
            Some(completion),
            pending.kind,
            &pending.key,
            pending.input.clone(),
        );
        self.report.ops_unknown += 1;
        self.clients[client].process = self.next_process;
        self.next_process += 1;
        self.schedule(self.now + MS, EventKind::ClientNext { client });
    }

    // ----- end of run -----

    /// Adds what an honest replica refused to the run's counts (at a crash and at the end).
    fn count_rejections(&mut self, id: NodeId) {
        if self.is_byzantine(id) {
            return;
        }
        let Some(counts) = self.replica(id).map(|r| r.core().rejections()) else {
            return;
        };
        for (reason, count) in counts {
            *self.report.rejected.entry(reason).or_default() += count;
        }
    }

    /// Election outcomes per term, and each follower's replication lag behind the leader.
    fn final_metrics(&mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.count_rejections(id);
        }
        let mut by_term: BTreeMap<u64, (usize, bool)> = BTreeMap::new();
        for ((_, term), won) in &self.candidates {
            let slot = by_term.entry(*term).or_default();
            slot.0 += 1;
            slot.1 |= *won;
        }
        for (candidates, won) in by_term.values() {
            let r = &mut self.report.election_results;
            match (won, candidates) {
                (true, _) => r.0 += 1,
                (false, 1) => r.1 += 1,
                (false, _) => r.2 += 1,
            }
        }
        let Some(leader) = self.leader() else { return };
        let Some(core) = self.replica(leader).map(|r| r.core()) else {
            return;
        };
        let last = core.last_index();
        for (follower, matched) in core.follower_progress() {
            let seconds = if matched >= last {
                0.0
            } else {
                self.appended_at
                    .get(&(matched + 1))
                    .map_or(0.0, |t| (self.now - t) as f64 / 1e6)
            };
            self.report
                .replication_lag_seconds
                .insert(follower, seconds);
        }
    }

    fn finish(&mut self) {
        // Operations still pending have an unknown outcome.
        for client in 0..self.clients.len() {
            if let Some(pending) = self.clients[client].pending.take() {
                if pending.kind.is_mutation() {
                    self.report.ops_unknown += 1;
                }
            }
        }
        self.check_recovery();
        if self.report.violation.is_some() {
            return;
        }
        // Linearizability of everything the clients saw (this also catches lost acknowledged
        // writes: every later read must see them).
        let mut builder = HistoryBuilder::new();
        for event in &self.history {
            if let Err(e) = builder.push(event.clone()) {
                self.fail(
                    "history",
                    format!("the simulator recorded a malformed history: {e}"),
                );
                return;
            }
        }
        let history = builder.finish();
        let mut options = CheckOptions::new(ModelKind::Kv);
        options.timeout = Some(std::time::Duration::from_secs(10));
        match check(&history, &options) {
            Ok(result) => match result.verdict {
                Verdict::Linearizable => {}
                Verdict::Violation(v) => {
                    let text = distsys_check::report::violation_text(&v);
                    self.fail("linearizability", text);
                }
                Verdict::Unknown(reason) => self.fail(
                    "linearizability",
                    format!("checker gave no verdict ({reason:?})"),
                ),
            },
            Err(e) => self.fail("history", e.to_string()),
        }
        // Replicas that applied the same index agree (state machine safety, end of run).
        let mut by_index: BTreeMap<u64, (u64, NodeId)> = BTreeMap::new();
        for (id, node) in &self.nodes {
            if self.is_byzantine(*id) {
                continue;
            }
            if let Some(r) = &node.replica {
                let (applied, chain) = (r.kv().applied(), r.kv().applied_chain());
                if let Some((other_chain, other)) = by_index.get(&applied) {
                    if *other_chain != chain {
                        let detail = format!("nodes {other} and {id} applied different histories up to index {applied}");
                        self.fail("state_machine_safety", detail);
                        return;
                    }
                }
                by_index.insert(applied, (chain, *id));
            }
        }
    }
}

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

/// Marks a `ClientTimeout` event that is really a scheduled resend.
const RESEND_MARK: u32 = 1_000_000;
