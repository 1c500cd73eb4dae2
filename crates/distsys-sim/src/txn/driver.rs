//! One deterministic run: `nodes` simulated nodes, each hosting one replica of the real Raft
//! core for every group (so one crash or partition hits every group at once), a coordinator
//! per node, clients, and the faults. Events come out of the crate's [`EventQueue`]; every
//! random choice is drawn from one seeded ChaCha RNG.

use super::coordinator::{Answer, Coordinator, Outcome, ReqId, Request};
use super::invariants::Oracle;
use super::store::GroupStore;
use super::types::{Command, GroupId, Op, Reply, Ts, TxnId, Value};
use super::workload::{attempt_ops, KeySpace, Recorder};
use super::{RunStats, TxnSimConfig};
use crate::queue::EventQueue;
use distsys_consensus::raft::{Config as RaftConfig, Raft};
use distsys_consensus::{Index, Message, NodeId, Persisted, Role, Term};
use distsys_patterns::clock::{Hlc, HlcTimestamp};
use distsys_patterns::partitioning::{mix, Zipf};
use distsys_patterns::retry::RetryPolicy;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

const MS: u64 = 1_000;
/// Raft ticks every this many µs.
const TICK_US: u64 = 5 * MS;
/// A node looks for orphaned intents every this many µs...
const SCAN_US: u64 = 100 * MS;
/// ...and recovers those older than this.
const RECOVER_AFTER_US: u64 = 300 * MS;

#[derive(Debug, Clone)]
enum Net {
    Raft {
        group: GroupId,
        msg: Message,
    },
    Request {
        epoch: u64,
        request: Request,
    },
    Response {
        epoch: u64,
        id: ReqId,
        group: GroupId,
        reply: Option<Reply>,
        leader: Option<NodeId>,
    },
}

#[derive(Debug)]
enum Event {
    Deliver {
        from: NodeId,
        to: NodeId,
        net: Net,
    },
    Tick,
    Scan,
    ClientStart {
        client: usize,
    },
    Timeout {
        node: NodeId,
        epoch: u64,
        id: ReqId,
        attempt: u32,
        rotate: bool,
    },
    Crash,
    Restart {
        node: NodeId,
    },
    Partition,
    Heal,
    /// A committed transaction's acknowledgement, held back until its commit wait is over.
    Acknowledge {
        client: usize,
        answer: Answer,
    },
}

struct Replica {
    raft: Raft,
    disk: Persisted,
    store: GroupStore,
    applied: Index,
    /// Proposals awaiting application: index -> (term, requesting node, its epoch, request).
    waiting: BTreeMap<Index, (Term, NodeId, u64, ReqId)>,
}

struct Node {
    up: bool,
    epoch: u64,
    replicas: Vec<Replica>,
    disks: Vec<Persisted>,
    coordinator: Coordinator,
    hlc: Hlc,
    skew_ms: i64,
    leader_hint: Vec<NodeId>,
    /// Intents seen while leading: (group, txn) -> first seen.
    seen: BTreeMap<(GroupId, TxnId), u64>,
}

struct Attempt {
    txn: TxnId,
    stamp: HlcTimestamp,
    at: usize,
    node: NodeId,
    started: u64,
    writes: bool,
}

struct Client {
    /// The history's process: a new one after an indeterminate attempt (Jepsen's rule, since
    /// the old one may still be running it).
    process: u64,
    shape: Vec<(u32, bool)>,
    /// The timestamp of the client's last commit: its next transaction's HLC reading is
    /// after it, so a client's transactions serialize in its own order (session order).
    last_commit: Option<HlcTimestamp>,
    tries: u32,
    current: Option<Attempt>,
}

/// The run's state.
pub struct Run {
    cfg: TxnSimConfig,
    rng: ChaCha8Rng,
    queue: EventQueue<Event>,
    now: u64,
    nodes: Vec<Node>,
    isolated: Option<NodeId>,
    space: KeySpace,
    zipf: Option<Zipf>,
    clients: Vec<Client>,
    next_txn: TxnId,
    next_value: Value,
    retry: RetryPolicy,
    recorder: Recorder,
    /// Attempts' positions in the history by transaction id.
    attempts: BTreeMap<TxnId, usize>,
    oracle: Oracle,
    stats: RunStats,
    /// When a replica first applied each transaction's prepare (its intents laid).
    prepared_at: BTreeMap<TxnId, u64>,
    /// When a replica of each group first resolved each transaction there.
    resolved_at: BTreeMap<(TxnId, GroupId), u64>,
    /// Transactions a recoverer took over (their coordinator crashed or was cut off).
    recovered: BTreeSet<TxnId>,
}

impl Run {
    /// A run ready to start.
    pub fn new(cfg: &TxnSimConfig) -> Run {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let skew = if cfg.faults {
            i64::try_from(cfg.max_skew_ms).unwrap_or(i64::MAX / 2)
        } else {
            0
        };
        let nodes = (1..=cfg.nodes as NodeId)
            .map(|_| Node {
                up: true,
                epoch: 0,
                replicas: Vec::new(),
                disks: vec![Persisted::default(); cfg.groups],
                coordinator: Coordinator::new(cfg.protocol, cfg.mutant),
                hlc: Hlc::default(),
                skew_ms: rng.random_range(-skew..=skew),
                leader_hint: vec![1; cfg.groups],
                seen: BTreeMap::new(),
            })
            .collect();
        let key_count = cfg.keys_per_group * cfg.groups as u32;
        let space = KeySpace::new(key_count, cfg.groups);
        let key_count = key_count as usize;
        let clients = (0..cfg.clients)
            .map(|c| Client {
                process: c as u64,
                shape: Vec::new(),
                last_commit: None,
                tries: 0,
                current: None,
            })
            .collect();
        let mut run = Run {
            cfg: cfg.clone(),
            rng,
            queue: EventQueue::new(),
            now: 0,
            nodes,
            isolated: None,
            space,
            zipf: cfg.zipf.map(|e| Zipf::new(key_count, e)),
            clients,
            next_txn: 1,
            next_value: 1_000,
            retry: RetryPolicy {
                max_attempts: 6,
                initial_ms: 5 + 4 * cfg.latency_ms,
                max_ms: 200 + 8 * cfg.latency_ms,
                ..RetryPolicy::default()
            },
            recorder: Recorder::default(),
            attempts: BTreeMap::new(),
            oracle: Oracle::default(),
            stats: RunStats::default(),
            prepared_at: BTreeMap::new(),
            resolved_at: BTreeMap::new(),
            recovered: BTreeSet::new(),
        };
        for node in 1..=cfg.nodes as NodeId {
            run.boot(node);
        }
        run
    }

    /// Runs to the end; returns the history, the per-step oracle, the stores and the stats.
    pub fn run(mut self) -> super::RunOutcome {
        self.queue.push(TICK_US, Event::Tick);
        self.queue.push(SCAN_US, Event::Scan);
        for client in 0..self.cfg.clients {
            let at = self.cfg.clients_start_ms() * MS + self.rng.random_range(0..20 * MS);
            self.queue.push(at, Event::ClientStart { client });
        }
        if self.cfg.faults {
            let scale = self.fault_scale();
            self.queue.push(800 * MS * scale, Event::Crash);
            self.queue.push(1_200 * MS * scale, Event::Partition);
        }
        let end = self.cfg.duration_ms * MS;
        while let Some((time, event)) = self.queue.pop() {
            if time > end {
                break;
            }
            self.now = time;
            self.handle(event);
        }
        self.finish()
    }

    /// Fault durations and intervals scale with the election timeout (1 at 1 ms latency), so
    /// groups can elect leaders between faults at any latency.
    fn fault_scale(&self) -> u64 {
        (self.cfg.election_min_ms() / 150).max(1)
    }

    /// When faults and new transactions stop (the rest of the run lets recovery settle).
    fn quiet_at(&self) -> u64 {
        self.cfg.quiet_ms() * MS
    }

    fn raft_config(&self, node: NodeId) -> RaftConfig {
        let voters = (1..=self.cfg.nodes as NodeId).collect();
        let mut config = RaftConfig::new(node, voters);
        let min = self.cfg.election_min_ms() * MS;
        config.election_timeout_min_us = min;
        config.election_timeout_max_us = 2 * min;
        config.heartbeat_us = min / 4;
        config
    }

    /// Starts (or restarts) a node from its disks: Raft replays the log into fresh stores.
    fn boot(&mut self, node: NodeId) {
        let config = self.raft_config(node);
        let n = &mut self.nodes[node as usize - 1];
        n.epoch += 1;
        n.up = true;
        n.coordinator = Coordinator::new(self.cfg.protocol, self.cfg.mutant);
        n.seen.clear();
        n.replicas = (0..self.cfg.groups)
            .map(|g| {
                let disk = std::mem::take(&mut n.disks[g]);
                let seed = mix(mix(self.cfg.seed, node), (g as u64) << 32 | n.epoch);
                Replica {
                    raft: Raft::new(config.clone(), &disk, seed, self.now),
                    disk,
                    store: GroupStore::new(self.cfg.model, self.cfg.mutant),
                    applied: 0,
                    waiting: BTreeMap::new(),
                }
            })
            .collect();
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Tick => {
                for node in 1..=self.cfg.nodes as NodeId {
                    if self.nodes[node as usize - 1].up {
                        for g in 0..self.cfg.groups {
                            let now = self.now;
                            self.replica(node, g).raft.tick(now);
                            self.pump(node, g);
                        }
                    }
                }
                self.queue.push(self.now + TICK_US, Event::Tick);
            }
            Event::Scan => {
                for node in 1..=self.cfg.nodes as NodeId {
                    self.scan(node);
                }
                self.queue.push(self.now + SCAN_US, Event::Scan);
            }
            Event::Deliver { from, to, net } => self.deliver(from, to, net),
            Event::ClientStart { client } => self.start_attempt(client),
            Event::Timeout {
                node,
                epoch,
                id,
                attempt,
                rotate,
            } => {
                let n = &mut self.nodes[node as usize - 1];
                if !n.up || n.epoch != epoch || n.coordinator.attempts(id) != attempt {
                    return;
                }
                if rotate {
                    if let Some(group) = n.coordinator.group_of(id) {
                        n.leader_hint[group] = n.leader_hint[group] % self.cfg.nodes as NodeId + 1;
                    }
                }
                n.coordinator.timeout(id);
                self.flush(node);
            }
            Event::Crash => self.crash(),
            Event::Restart { node } => self.boot(node),
            Event::Partition => {
                if self.now < self.quiet_at() {
                    let scale = self.fault_scale();
                    self.isolated = Some(self.rng.random_range(1..=self.cfg.nodes as NodeId));
                    let heal = self.rng.random_range(100 * MS..800 * MS) * scale;
                    self.queue.push(self.now + heal, Event::Heal);
                    let next = heal + self.rng.random_range(300 * MS..1_200 * MS) * scale;
                    self.queue.push(self.now + next, Event::Partition);
                }
            }
            Event::Heal => self.isolated = None,
            Event::Acknowledge { client, answer } => {
                // The coordinator may have crashed during the wait: the attempt is then
                // indeterminate already, and this acknowledgement is never sent.
                if self.clients[client]
                    .current
                    .as_ref()
                    .is_some_and(|a| a.txn == answer.txn)
                {
                    self.finish_attempt(client, Some(answer.outcome), answer.rounds);
                }
            }
        }
    }

    fn crash(&mut self) {
        if self.now >= self.quiet_at() {
            return;
        }
        let scale = self.fault_scale();
        let node = self.rng.random_range(1..=self.cfg.nodes as NodeId);
        let down = self.rng.random_range(100 * MS..600 * MS) * scale;
        if self.nodes.iter().all(|n| n.up) {
            let n = &mut self.nodes[node as usize - 1];
            n.up = false;
            n.disks = n.replicas.drain(..).map(|r| r.disk).collect();
            // The clients coordinated there lose their transactions: indeterminate.
            for c in 0..self.clients.len() {
                if self.clients[c]
                    .current
                    .as_ref()
                    .is_some_and(|a| a.node == node)
                {
                    self.finish_attempt(c, None, 0);
                }
            }
            self.queue.push(self.now + down, Event::Restart { node });
        }
        let next = down + self.rng.random_range(300 * MS..1_000 * MS) * scale;
        self.queue.push(self.now + next, Event::Crash);
    }

    fn replica(&mut self, node: NodeId, group: GroupId) -> &mut Replica {
        &mut self.nodes[node as usize - 1].replicas[group]
    }

    fn reachable(&self, from: NodeId, to: NodeId) -> bool {
        let up = |n: NodeId| self.nodes[n as usize - 1].up;
        let cut = self.isolated.is_some_and(|i| (i == from) != (i == to));
        up(from) && up(to) && !cut
    }

    fn send(&mut self, from: NodeId, to: NodeId, net: Net) {
        if from == to {
            self.queue
                .push(self.now + 10, Event::Deliver { from, to, net });
            return;
        }
        let faulty = self.cfg.faults && self.now < self.quiet_at();
        if !self.reachable(from, to) || (faulty && self.rng.random_bool(0.01)) {
            return;
        }
        let latency = self.cfg.latency_ms * MS;
        let delay = latency / 2 + self.rng.random_range(0..=latency);
        let duplicate = faulty && self.rng.random_bool(0.01);
        if duplicate {
            let again = net.clone();
            let later = delay + self.rng.random_range(0..=latency * 4);
            self.queue.push(
                self.now + later,
                Event::Deliver {
                    from,
                    to,
                    net: again,
                },
            );
        }
        self.queue
            .push(self.now + delay, Event::Deliver { from, to, net });
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, net: Net) {
        if !self.reachable(from, to) {
            return;
        }
        match net {
            Net::Raft { group, msg } => {
                let now = self.now;
                let replica = self.replica(to, group);
                replica.raft.tick(now);
                replica.raft.step(from, msg);
                self.pump(to, group);
            }
            Net::Request { epoch, request } => self.serve(from, to, epoch, request),
            Net::Response {
                epoch,
                id,
                group,
                reply,
                leader,
            } => {
                let nodes = self.cfg.nodes as NodeId;
                let n = &mut self.nodes[to as usize - 1];
                if n.epoch != epoch {
                    return;
                }
                match reply {
                    Some(reply) => {
                        n.coordinator.reply(id, reply);
                        self.flush(to);
                    }
                    None => {
                        n.leader_hint[group] = leader.unwrap_or(n.leader_hint[group] % nodes + 1);
                        let attempt = n.coordinator.attempts(id);
                        let at = self.now + 2 * MS + self.cfg.latency_ms * MS;
                        self.queue.push(
                            at,
                            Event::Timeout {
                                node: to,
                                epoch,
                                id,
                                attempt,
                                rotate: false,
                            },
                        );
                    }
                }
            }
        }
    }

    /// A group's replica on `node` receives a request: the leader proposes it, others redirect.
    fn serve(&mut self, from: NodeId, node: NodeId, epoch: u64, request: Request) {
        let group = request.group;
        let replica = self.replica(node, group);
        let proposed = match serde_json::to_vec(&request.command) {
            Ok(bytes) if replica.raft.role() == Role::Leader => replica.raft.propose(bytes).ok(),
            _ => None,
        };
        match proposed {
            Some(index) => {
                let term = replica.raft.term();
                replica
                    .waiting
                    .insert(index, (term, from, epoch, request.id));
                self.pump(node, group);
            }
            None => {
                let leader = replica.raft.leader();
                let response = Net::Response {
                    epoch,
                    id: request.id,
                    group,
                    reply: None,
                    leader,
                };
                self.send(node, from, response);
            }
        }
    }

    /// Carries out a replica's Ready: persist, send, apply (and answer the requests applied).
    fn pump(&mut self, node: NodeId, group: GroupId) {
        loop {
            let replica = self.replica(node, group);
            let ready = replica.raft.ready();
            if ready.is_empty() {
                return;
            }
            for op in &ready.persist {
                replica.disk.apply(op);
            }
            let mut responses = Vec::new();
            let mut effects = Vec::new();
            for entry in &ready.committed {
                replica.applied = entry.index;
                let waiting = replica.waiting.remove(&entry.index);
                if entry.data.is_empty() {
                    continue;
                }
                let Ok(command) = serde_json::from_slice::<Command>(&entry.data) else {
                    debug_assert!(false, "the log holds only commands this driver encoded");
                    continue;
                };
                let (reply, effect) = replica.store.apply(&command);
                effects.push((command, effect));
                if let Some((_, to, epoch, id)) = waiting.filter(|w| w.0 == entry.term) {
                    responses.push((to, epoch, id, reply));
                }
            }
            for (to, msg) in ready.messages {
                self.send(node, to, Net::Raft { group, msg });
            }
            for (command, effect) in effects {
                self.note_lifetime(group, &command);
                self.oracle.observe(group, &command, &effect);
            }
            for (to, epoch, id, reply) in responses {
                let response = Net::Response {
                    epoch,
                    id,
                    group,
                    reply: Some(reply),
                    leader: Some(node),
                };
                self.send(node, to, response);
            }
        }
    }

    /// Sends a node's coordinator's requests and hands its answers to the clients.
    fn flush(&mut self, node: NodeId) {
        let n = &mut self.nodes[node as usize - 1];
        let requests = n.coordinator.take_requests();
        let answers = n.coordinator.take_answers();
        let epoch = n.epoch;
        for request in requests {
            let n = &self.nodes[node as usize - 1];
            let target = n.leader_hint[request.group];
            let attempt = n.coordinator.attempts(request.id);
            let timeout = 40 * MS + 6 * self.cfg.latency_ms * MS;
            self.queue.push(
                self.now + timeout,
                Event::Timeout {
                    node,
                    epoch,
                    id: request.id,
                    attempt,
                    rotate: true,
                },
            );
            self.send(node, target, Net::Request { epoch, request });
        }
        for answer in answers {
            self.answered(answer);
        }
    }

    /// Looks for intents on the groups this node leads and recovers the old ones.
    fn scan(&mut self, node: NodeId) {
        let now = self.now;
        let n = &mut self.nodes[node as usize - 1];
        if !n.up {
            return;
        }
        let mut found = BTreeMap::new();
        for (g, replica) in n.replicas.iter().enumerate() {
            if replica.raft.role() == Role::Leader {
                for (txn, intent) in replica.store.intents() {
                    found.insert((g, *txn), intent.meta.clone());
                }
            }
        }
        n.seen.retain(|k, _| found.contains_key(k));
        for (key, meta) in found {
            let first = *n.seen.entry(key).or_insert(now);
            if now - first >= RECOVER_AFTER_US && !n.coordinator.handles(key.1) {
                n.coordinator.recover(key.1, meta);
                self.stats.recoveries += 1;
                self.recovered.insert(key.1);
            }
        }
        self.flush(node);
    }

    fn start_attempt(&mut self, client: usize) {
        if self.now >= self.quiet_at() {
            return;
        }
        let nodes = self.cfg.nodes;
        let home = client % nodes;
        let Some(node) = (0..nodes)
            .map(|i| ((home + i) % nodes) as NodeId + 1)
            .find(|n| self.nodes[*n as usize - 1].up)
        else {
            return;
        };
        if self.clients[client].tries == 0 {
            self.clients[client].shape = match &self.zipf {
                Some(zipf) => self.space.skewed_shape(zipf, &mut self.rng),
                None => self.space.shape(&mut self.rng),
            };
            self.stats.transactions += 1;
        }
        self.clients[client].tries += 1;
        let ops = attempt_ops(
            &self.clients[client].shape,
            self.cfg.model,
            &self.space,
            &mut self.next_value,
        );
        let txn = self.next_txn;
        self.next_txn += 1;
        let at = self.recorder.invoke(self.clients[client].process, &ops);
        self.attempts.insert(txn, at);
        let writes = ops.values().flatten().any(|op: &Op| op.writes());
        self.stats.attempts += 1;
        let n = &mut self.nodes[node as usize - 1];
        let physical = (self.now / MS).saturating_add_signed(n.skew_ms);
        let stamp = match self.clients[client].last_commit {
            Some(last) => n
                .hlc
                .update(last, physical)
                .unwrap_or_else(|_| n.hlc.now(physical)),
            None => n.hlc.now(physical),
        };
        self.clients[client].current = Some(Attempt {
            txn,
            stamp,
            at,
            node,
            started: self.now,
            writes,
        });
        let ts = Ts {
            wall_ms: stamp.wall_ms,
            logical: stamp.logical,
            txn,
        };
        n.coordinator.begin(txn, ts, ops);
        self.flush(node);
    }

    fn answered(&mut self, answer: Answer) {
        let Some(client) = self
            .clients
            .iter()
            .position(|c| c.current.as_ref().is_some_and(|a| a.txn == answer.txn))
        else {
            return;
        };
        let wait_us = match &answer.outcome {
            Outcome::Committed(_) => self.commit_wait_us(client),
            Outcome::Aborted => 0,
        };
        if wait_us > 0 {
            self.queue
                .push(self.now + wait_us, Event::Acknowledge { client, answer });
        } else {
            self.finish_attempt(client, Some(answer.outcome), answer.rounds);
        }
    }

    /// How long a commit's acknowledgement must wait (µs) until its coordinator's clock reads
    /// past the transaction's timestamp plus the commit wait (0 when it already does).
    fn commit_wait_us(&self, client: usize) -> u64 {
        let Some(attempt) = self.clients[client].current.as_ref() else {
            return 0;
        };
        if self.cfg.commit_wait_ms == 0 {
            return 0;
        }
        let node = &self.nodes[attempt.node as usize - 1];
        let clock_ms = (self.now / MS).saturating_add_signed(node.skew_ms);
        let until_ms = attempt
            .stamp
            .wall_ms
            .saturating_add(self.cfg.commit_wait_ms)
            .saturating_add(1);
        until_ms.saturating_sub(clock_ms).saturating_mul(MS)
    }

    /// Notes when a transaction's intents were laid and resolved, for the time orphaned
    /// transactions hold their keys.
    fn note_lifetime(&mut self, group: GroupId, command: &Command) {
        match command {
            Command::Prepare { txn, .. } => {
                self.prepared_at.entry(*txn).or_insert(self.now);
            }
            Command::Resolve { txn, .. } => {
                self.resolved_at.entry((*txn, group)).or_insert(self.now);
            }
            _ => {}
        }
    }

    /// For each transaction a recoverer took over: from its intents being laid to the last of
    /// them resolved (µs), or unresolved at the end.
    fn recovery_figures(&self, stores: &[GroupStore]) -> (Vec<u64>, u64) {
        let mut times = Vec::new();
        let mut unrecovered = 0;
        for txn in &self.recovered {
            if stores.iter().any(|s| s.intents().contains_key(txn)) {
                unrecovered += 1;
                continue;
            }
            let last = self
                .resolved_at
                .range((*txn, 0)..=(*txn, GroupId::MAX))
                .map(|(_, t)| *t)
                .max();
            if let (Some(last), Some(laid)) = (last, self.prepared_at.get(txn)) {
                times.push(last.saturating_sub(*laid));
            }
        }
        times.sort_unstable();
        (times, unrecovered)
    }

    fn finish_attempt(&mut self, client: usize, outcome: Option<Outcome>, rounds: u32) {
        let Some(attempt) = self.clients[client].current.take() else {
            return;
        };
        self.recorder.complete(attempt.at, outcome.as_ref());
        self.oracle.answered(attempt.txn, outcome.as_ref());
        let c = &mut self.clients[client];
        let delay_ms = match outcome {
            Some(Outcome::Committed(_)) => {
                if attempt.writes {
                    self.stats
                        .commits
                        .push((self.now - attempt.started, rounds));
                }
                c.tries = 0;
                c.last_commit = Some(attempt.stamp);
                self.rng.random_range(0..=2)
            }
            Some(Outcome::Aborted) => {
                self.stats.aborts += 1;
                let u: f64 = self.rng.random();
                match self.retry.backoff_ms(c.tries, u) {
                    Some(ms) => {
                        self.stats.retries += 1;
                        ms
                    }
                    None => {
                        self.stats.gave_up += 1;
                        c.tries = 0;
                        0
                    }
                }
            }
            None => {
                self.stats.indeterminate += 1;
                c.tries = 0;
                c.process += self.cfg.clients as u64;
                10
            }
        };
        self.queue
            .push(self.now + delay_ms * MS, Event::ClientStart { client });
    }

    fn finish(self) -> super::RunOutcome {
        // The most advanced replica of each group holds its final state.
        let stores: Vec<GroupStore> = (0..self.cfg.groups)
            .map(|g| {
                self.nodes
                    .iter()
                    .filter(|n| n.up)
                    .map(|n| &n.replicas[g])
                    .max_by_key(|r| r.applied)
                    .map(|r| r.store.clone())
                    .unwrap_or_else(|| GroupStore::new(self.cfg.model, self.cfg.mutant))
            })
            .collect();
        let written: BTreeMap<TxnId, Vec<(GroupId, Op)>> = self
            .attempts
            .iter()
            .map(|(txn, at)| {
                let ops = self.recorder.ops(*at);
                let writes = ops
                    .iter()
                    .flat_map(|(g, ops)| ops.iter().filter(|o| o.writes()).map(|o| (*g, *o)))
                    .collect();
                (*txn, writes)
            })
            .collect();
        let (recovery_us, unrecovered) = self.recovery_figures(&stores);
        let mut violations = self.oracle.final_checks(&stores, &written);
        violations.sort();
        let mut stats = self.stats;
        stats.recovery_us = recovery_us;
        stats.unrecovered = unrecovered;
        let (ok, fail, info) = {
            let h = &self.recorder;
            let count = |s| h.statuses().filter(|x| *x == s).count() as u64;
            use distsys_check::txn::Status;
            (count(Status::Ok), count(Status::Fail), count(Status::Info))
        };
        stats.history_ok = ok;
        stats.history_fail = fail;
        stats.history_info = info;
        super::RunOutcome {
            history: self.recorder.into_history(),
            stats,
            violations,
        }
    }
}
