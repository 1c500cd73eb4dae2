//! Leaderless (Dynamo-style) quorum replication simulated: `n` replicas per key on a ring of
//! nodes, writes acknowledged by `w` of them, reads answered by `r` (the newest version wins,
//! and stale repliers are repaired), hinted handoff to the next node while a replica is
//! unreachable, and Merkle-tree anti-entropy between replicas. Nodes crash and come back with
//! their data; messages are delayed, reordered and dropped; the network splits into two sides.
//! A coordinator routes around the nodes it cannot reach (its failure detector is exact within
//! its side of a partition: a stated simplification).
//!
//! Two quorum modes. **Strict** (the default): only the key's `n` owners count toward `r` and
//! `w`; a write to an unreachable owner goes to a fallback as a hint that does not count.
//! **Sloppy** (Dynamo's, Cassandra's hinted writes): the first `n` reachable nodes of the key's
//! preference list count, fallbacks included (they hold the write as a hint for the owner and
//! answer reads from it).
//!
//! Checked: every read returns a version at least as new as every write to its key that had
//! completed before the read began (read-your-latest-write), which `r + w > n` guarantees with
//! strict quorums and does not with `r + w <= n`, nor with sloppy quorums across a partition
//! (the two sides' quorums need not share a node; each such stale read is attributed); and
//! after the faults stop, every replica of every key converges to the same version.
//! Deterministic per seed.

use crate::queue::EventQueue;
use distsys_patterns::partitioning::{Member, Placement, Ring};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

type NodeId = u64;
/// A write's version: (time, coordinator), unique and totally ordered (last writer wins).
type Version = (u64, NodeId);

/// Parameters of one leaderless run.
#[derive(Debug, Clone)]
pub struct LeaderlessConfig {
    /// Seed.
    pub seed: u64,
    /// Nodes on the ring.
    pub nodes: usize,
    /// Replicas per key, write quorum, read quorum.
    pub n: usize,
    /// Write acknowledgements awaited.
    pub w: usize,
    /// Read replies awaited.
    pub r: usize,
    /// Keys.
    pub keys: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Virtual duration in milliseconds (clients and faults stop at 70%; the rest lets hinted
    /// handoff and anti-entropy converge the replicas).
    pub duration_ms: u64,
    /// Sloppy quorums: hinted writes on fallback nodes count toward `w`, and reads go to the
    /// first `n` reachable nodes of the preference list.
    pub sloppy: bool,
    /// Crashes (one node at a time, 200-800 ms, data kept).
    pub crashes: bool,
    /// 2% message loss during the fault window.
    pub loss: bool,
    /// Network partitions: the nodes split into two sides for 300-1000 ms at a time.
    pub partitions: bool,
    /// Read repair: a read sends the newest version to the repliers that answered older.
    pub read_repair: bool,
    /// Hinted handoff: fallbacks hand their hints to the owner once it is reachable.
    pub hinted_handoff: bool,
    /// Merkle anti-entropy between each key's replicas every 500 ms.
    pub anti_entropy: bool,
}

impl LeaderlessConfig {
    /// 5 nodes, N=3 R=2 W=2, 4 keys, 6 clients, 6 s.
    pub fn new(seed: u64, n: usize, r: usize, w: usize) -> LeaderlessConfig {
        LeaderlessConfig {
            seed,
            nodes: 5,
            n,
            w,
            r,
            keys: 4,
            clients: 6,
            duration_ms: 6_000,
            sloppy: false,
            crashes: true,
            loss: true,
            partitions: true,
            read_repair: true,
            hinted_handoff: true,
            anti_entropy: true,
        }
    }
}

/// What a run (or campaign) measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderlessReport {
    /// Runs.
    pub runs: u64,
    /// Reads that completed.
    pub reads: u64,
    /// Writes that completed.
    pub writes: u64,
    /// Operations that timed out.
    pub timed_out: u64,
    /// Reads older than a write completed before they began.
    pub stale_reads: u64,
    /// Of those, reads a sloppy quorum explains: they missed a write some of whose
    /// acknowledgements were hinted replicas on fallback nodes, or were answered by nodes
    /// outside the key's owners (either way the write and read quorums need not overlap).
    pub stale_sloppy: u64,
    /// Writes acknowledged with at least one hinted (fallback) acknowledgement counted.
    pub sloppy_writes: u64,
    /// Reads that returned an older version of a key than the same client had read before
    /// (monotonic reads broken; allowed by Dynamo-style quorums, whose read repair is
    /// asynchronous, so reported, not failed).
    pub monotonic_read_violations: u64,
    /// Partitions that started.
    pub partitions: u64,
    /// Read-repair messages sent.
    pub read_repairs: u64,
    /// Hinted writes handed off to their owner after it came back.
    pub hints_delivered: u64,
    /// Keys re-sent by Merkle anti-entropy.
    pub anti_entropy_keys: u64,
    /// Runs whose replicas had not converged at the end.
    pub diverged_runs: u64,
}

#[derive(Debug)]
enum Msg {
    Store {
        key: usize,
        version: Version,
        hint_for: Option<NodeId>,
        op: Option<u64>,
    },
    StoreAck {
        op: u64,
        from: NodeId,
        hinted: bool,
    },
    Read {
        key: usize,
        op: u64,
    },
    ReadReply {
        op: u64,
        from: NodeId,
        version: Option<Version>,
    },
}

#[derive(Debug)]
enum Event {
    Deliver { from: NodeId, to: NodeId, msg: Msg },
    ClientNext { client: usize },
    Timeout { op: u64 },
    Crash { node: NodeId, until_ms: u64 },
    Recover { node: NodeId },
    AntiEntropy,
    Handoff,
    Partition,
    Heal,
}

struct Op {
    client: usize,
    key: usize,
    write: Option<Version>,
    invoked: u64,
    coordinator: NodeId,
    acks: BTreeSet<NodeId>,
    /// Acknowledgements that were hinted replicas on fallbacks (sloppy quorums only).
    hinted_acks: usize,
    replies: BTreeMap<NodeId, Option<Version>>,
}

struct Run {
    cfg: LeaderlessConfig,
    rng: ChaCha8Rng,
    queue: EventQueue<Event>,
    now: u64,
    ring: Ring,
    up: Vec<bool>,
    /// Per node: key -> newest version stored.
    store: Vec<BTreeMap<usize, Version>>,
    /// Per node: hints held for others: (owner, key) -> version.
    hints: Vec<BTreeMap<(NodeId, usize), Version>>,
    ops: BTreeMap<u64, Op>,
    next_op: u64,
    /// Completed writes: key -> [(completion time, version, acknowledged by a sloppy quorum)].
    completed_writes: BTreeMap<usize, Vec<(u64, Version, bool)>>,
    /// The newest version each client has read of each key.
    last_read: BTreeMap<(usize, usize), Option<Version>>,
    /// During a partition: the nodes on one side (the rest are on the other).
    side: Option<BTreeSet<NodeId>>,
    /// Draws for partitions (their own stream, so runs without them are unchanged).
    partition_rng: ChaCha8Rng,
    /// Completed reads: (key, invoked, version read, answered by a node outside the key's
    /// owners: a sloppy read quorum).
    completed_reads: Vec<(usize, u64, Option<Version>, bool)>,
    report: LeaderlessReport,
}

const MS: u64 = 1_000;

impl Run {
    fn schedule(&mut self, at: u64, e: Event) {
        self.queue.push(at, e);
    }

    fn faults_on(&self) -> bool {
        self.now < self.cfg.duration_ms * MS * 7 / 10
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        if self.cfg.loss && self.faults_on() && self.rng.random_bool(0.02) {
            return;
        }
        let delay = self.rng.random_range(300..3_000);
        self.schedule(self.now + delay, Event::Deliver { from, to, msg });
    }

    /// Whether a partition separates `a` and `b` now.
    fn cut(&self, a: NodeId, b: NodeId) -> bool {
        self.side
            .as_ref()
            .is_some_and(|side| side.contains(&a) != side.contains(&b))
    }

    /// Whether `coordinator` can reach `node`: up and on its side of any partition.
    fn reachable(&self, coordinator: NodeId, node: NodeId) -> bool {
        self.up[node as usize - 1] && !self.cut(coordinator, node)
    }

    /// The key's whole preference list (every node, ring order from the key).
    fn preference(&self, key: usize) -> Vec<NodeId> {
        self.ring
            .replicas(format!("key-{key}").as_bytes(), self.cfg.nodes)
    }

    fn replicas(&self, key: usize) -> Vec<NodeId> {
        self.ring
            .replicas(format!("key-{key}").as_bytes(), self.cfg.n)
    }

    /// The first node after the key's replicas that `coordinator` can reach: where a hint goes.
    fn fallback(&self, key: usize, exclude: &[NodeId], coordinator: NodeId) -> Option<NodeId> {
        self.preference(key)
            .into_iter()
            .find(|n| !exclude.contains(n) && self.reachable(coordinator, *n))
    }

    fn store_version(&mut self, node: NodeId, key: usize, version: Version) {
        let slot = self.store[node as usize - 1].entry(key).or_insert(version);
        if version > *slot {
            *slot = version;
        }
    }

    fn client_next(&mut self, client: usize) {
        let op_id = self.next_op;
        self.next_op += 1;
        let key = self.rng.random_range(0..self.cfg.keys);
        let coordinator = self.rng.random_range(1..=self.cfg.nodes as NodeId);
        let write = self.rng.random_bool(0.5).then_some((self.now, coordinator));
        self.ops.insert(
            op_id,
            Op {
                client,
                key,
                write,
                invoked: self.now,
                coordinator,
                acks: BTreeSet::new(),
                hinted_acks: 0,
                replies: BTreeMap::new(),
            },
        );
        self.schedule(self.now + 100 * MS, Event::Timeout { op: op_id });
        let replicas = self.replicas(key);
        let c = coordinator;
        match write {
            Some(version) => {
                // Sloppy quorums: the first n reachable nodes of the preference list take the
                // write, each fallback as a hint for one unreachable owner, and all count.
                let mut fallbacks: Vec<NodeId> = if self.cfg.sloppy {
                    self.preference(key)
                        .into_iter()
                        .filter(|n| !replicas.contains(n) && self.reachable(c, *n))
                        .collect()
                } else {
                    Vec::new()
                };
                fallbacks.reverse();
                for owner in &replicas {
                    if self.reachable(c, *owner) || !self.faults_on() {
                        let store = Msg::Store {
                            key,
                            version,
                            hint_for: None,
                            op: Some(op_id),
                        };
                        self.send(c, *owner, store);
                    } else if self.cfg.sloppy {
                        if let Some(fb) = fallbacks.pop() {
                            let hint = Msg::Store {
                                key,
                                version,
                                hint_for: Some(*owner),
                                op: Some(op_id),
                            };
                            self.send(c, fb, hint);
                        }
                    } else if let Some(fb) = self.fallback(key, &replicas, c) {
                        // Hinted handoff: the fallback keeps it for the owner (it does not count
                        // towards the strict quorum).
                        let hint = Msg::Store {
                            key,
                            version,
                            hint_for: Some(*owner),
                            op: None,
                        };
                        self.send(c, fb, hint);
                    }
                }
            }
            None => {
                let targets: Vec<NodeId> = if self.cfg.sloppy && self.faults_on() {
                    self.preference(key)
                        .into_iter()
                        .filter(|n| self.reachable(c, *n))
                        .take(self.cfg.n)
                        .collect()
                } else {
                    replicas
                };
                for node in targets {
                    self.send(c, node, Msg::Read { key, op: op_id });
                }
            }
        }
    }

    fn finish(&mut self, op_id: u64, ok: bool) {
        let Some(op) = self.ops.remove(&op_id) else {
            return;
        };
        if ok {
            match op.write {
                Some(v) => {
                    self.report.writes += 1;
                    let sloppy = op.hinted_acks > 0;
                    self.report.sloppy_writes += u64::from(sloppy);
                    self.completed_writes
                        .entry(op.key)
                        .or_default()
                        .push((self.now, v, sloppy));
                }
                None => {
                    self.report.reads += 1;
                    let newest = op.replies.values().flatten().max().copied();
                    let owners = self.replicas(op.key);
                    let sloppy = op.replies.keys().any(|n| !owners.contains(n));
                    self.completed_reads
                        .push((op.key, op.invoked, newest, sloppy));
                    let seen = self.last_read.entry((op.client, op.key)).or_insert(newest);
                    if newest < *seen {
                        self.report.monotonic_read_violations += 1;
                    } else {
                        *seen = newest;
                    }
                    // Read repair: stale repliers get the newest version.
                    if let Some(v) = newest.filter(|_| self.cfg.read_repair) {
                        let stale: Vec<NodeId> = op
                            .replies
                            .iter()
                            .filter(|(_, got)| **got < Some(v))
                            .map(|(n, _)| *n)
                            .collect();
                        for n in stale {
                            self.report.read_repairs += 1;
                            self.send(
                                op.coordinator,
                                n,
                                Msg::Store {
                                    key: op.key,
                                    version: v,
                                    hint_for: None,
                                    op: None,
                                },
                            );
                        }
                    }
                }
            }
        } else {
            self.report.timed_out += 1;
        }
        let think = self.rng.random_range(1..20) * MS;
        self.schedule(self.now + think, Event::ClientNext { client: op.client });
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        if !self.up[to as usize - 1] || self.cut(from, to) {
            return;
        }
        match msg {
            Msg::Store {
                key,
                version,
                hint_for,
                op,
            } => {
                match hint_for {
                    Some(owner) => {
                        let slot = self.hints[to as usize - 1]
                            .entry((owner, key))
                            .or_insert(version);
                        *slot = (*slot).max(version);
                    }
                    None => self.store_version(to, key, version),
                }
                if let Some(op) = op {
                    let coordinator = self.ops.get(&op).map(|o| o.coordinator);
                    if let Some(c) = coordinator {
                        let hinted = hint_for.is_some();
                        self.send(
                            to,
                            c,
                            Msg::StoreAck {
                                op,
                                from: to,
                                hinted,
                            },
                        );
                    }
                }
            }
            Msg::StoreAck { op, from, hinted } => {
                let done = match self.ops.get_mut(&op) {
                    Some(o) if o.coordinator == to => {
                        if o.acks.insert(from) && hinted {
                            o.hinted_acks += 1;
                        }
                        o.acks.len() >= self.cfg.w
                    }
                    _ => false,
                };
                if done {
                    self.finish(op, true);
                }
            }
            Msg::Read { key, op } => {
                let stored = self.store[to as usize - 1].get(&key).copied();
                // A fallback in a sloppy quorum answers from the hints it holds too.
                let version = if self.cfg.sloppy {
                    let hinted = self.hints[to as usize - 1]
                        .iter()
                        .filter(|((_, k), _)| *k == key)
                        .map(|(_, v)| *v)
                        .max();
                    stored.max(hinted)
                } else {
                    stored
                };
                let coordinator = self.ops.get(&op).map(|o| o.coordinator);
                if let Some(c) = coordinator {
                    self.send(
                        to,
                        c,
                        Msg::ReadReply {
                            op,
                            from: to,
                            version,
                        },
                    );
                }
            }
            Msg::ReadReply { op, from, version } => {
                let done = match self.ops.get_mut(&op) {
                    Some(o) if o.coordinator == to => {
                        o.replies.insert(from, version);
                        o.replies.len() >= self.cfg.r
                    }
                    _ => false,
                };
                if done {
                    self.finish(op, true);
                }
            }
        }
    }

    /// Merkle anti-entropy between each key's replicas: compare the root of a tree over the
    /// keys' versions, descend into the buckets that differ, and send the newer versions.
    fn anti_entropy(&mut self) {
        let buckets = 4usize;
        let hash = |node: &BTreeMap<usize, Version>, bucket: usize| -> u64 {
            node.iter()
                .filter(|(k, _)| **k % buckets == bucket)
                .fold(0xcbf2_9ce4_8422_2325u64, |h, (k, v)| {
                    distsys_patterns::partitioning::mix(h ^ *k as u64, v.0 ^ (v.1 << 48))
                })
        };
        for a in 1..=self.cfg.nodes as NodeId {
            for b in a + 1..=self.cfg.nodes as NodeId {
                if !self.up[a as usize - 1] || !self.up[b as usize - 1] || self.cut(a, b) {
                    continue;
                }
                let (sa, sb) = (&self.store[a as usize - 1], &self.store[b as usize - 1]);
                let root = |s| {
                    (0..buckets).fold(0u64, |h, bkt| {
                        distsys_patterns::partitioning::mix(h, hash(s, bkt))
                    })
                };
                if root(sa) == root(sb) {
                    continue;
                }
                let differing: Vec<usize> = (0..buckets)
                    .filter(|bkt| hash(sa, *bkt) != hash(sb, *bkt))
                    .collect();
                let mut sends = Vec::new();
                for key in 0..self.cfg.keys {
                    if !differing.contains(&(key % buckets)) {
                        continue;
                    }
                    let replicas = self.replicas(key);
                    if !(replicas.contains(&a) && replicas.contains(&b)) {
                        continue;
                    }
                    match (sa.get(&key).copied(), sb.get(&key).copied()) {
                        (Some(x), y) if Some(x) > y => sends.push((b, key, x)),
                        (x, Some(y)) if Some(y) > x => sends.push((a, key, y)),
                        _ => {}
                    }
                }
                for (to, key, version) in sends {
                    self.report.anti_entropy_keys += 1;
                    let from = if to == a { b } else { a };
                    self.send(
                        from,
                        to,
                        Msg::Store {
                            key,
                            version,
                            hint_for: None,
                            op: None,
                        },
                    );
                }
            }
        }
    }

    /// The end-of-run checks: stale reads (attributed to sloppy quorums or not) and
    /// convergence of every key's replicas.
    fn check(&mut self) {
        // Read-your-latest-write: no read older than a write completed before it began; a stale
        // read is attributed to a sloppy quorum when a write it missed counted hinted replicas, or
        // when it was answered by nodes outside the key's owners.
        let (mut stale, mut stale_sloppy) = (0, 0);
        for (key, invoked, read, sloppy_read) in &self.completed_reads {
            let before: Vec<&(u64, Version, bool)> = self
                .completed_writes
                .get(key)
                .into_iter()
                .flatten()
                .filter(|(done, _, _)| done < invoked)
                .collect();
            let latest = before.iter().map(|(_, v, _)| *v).max();
            if latest.is_some() && *read < latest {
                stale += 1;
                let missed_sloppy = before
                    .iter()
                    .any(|(_, v, sloppy)| *sloppy && Some(*v) > *read);
                stale_sloppy += u64::from(missed_sloppy || *sloppy_read);
            }
        }
        self.report.stale_reads += stale;
        self.report.stale_sloppy += stale_sloppy;
        // Convergence: every replica of every key holds the same version.
        let diverged = (0..self.cfg.keys).any(|key| {
            let versions: BTreeSet<Option<Version>> = self
                .replicas(key)
                .iter()
                .map(|n| self.store[*n as usize - 1].get(&key).copied())
                .collect();
            versions.len() > 1
        });
        self.report.diverged_runs = u64::from(diverged);
    }

    /// Splits the nodes into two sides (a random non-empty proper subset against the rest)
    /// for 300-1000 ms, then heals; the next split comes 600-1600 ms later, within the fault
    /// window.
    fn partition(&mut self) {
        if !self.faults_on() || self.cfg.nodes < 2 {
            return;
        }
        let rng = &mut self.partition_rng;
        let size = rng.random_range(1..=self.cfg.nodes / 2);
        let mut nodes: Vec<NodeId> = (1..=self.cfg.nodes as NodeId).collect();
        for i in 0..size {
            let j = rng.random_range(i..nodes.len());
            nodes.swap(i, j);
        }
        self.side = Some(nodes[..size].iter().copied().collect());
        self.report.partitions += 1;
        let heal = rng.random_range(300..1_000) * MS;
        let next = heal + rng.random_range(600..1_600) * MS;
        self.schedule(self.now + heal, Event::Heal);
        self.schedule(self.now + next, Event::Partition);
    }

    /// Fallbacks hand their hints to owners that are back.
    fn handoff(&mut self) {
        for holder in 1..=self.cfg.nodes as NodeId {
            if !self.up[holder as usize - 1] {
                continue;
            }
            let ready: Vec<((NodeId, usize), Version)> = self.hints[holder as usize - 1]
                .iter()
                .filter(|((owner, _), _)| self.up[*owner as usize - 1])
                .map(|(k, v)| (*k, *v))
                .collect();
            for ((owner, key), version) in ready {
                if self.cut(holder, owner) {
                    continue;
                }
                self.hints[holder as usize - 1].remove(&(owner, key));
                self.report.hints_delivered += 1;
                self.send(
                    holder,
                    owner,
                    Msg::Store {
                        key,
                        version,
                        hint_for: None,
                        op: None,
                    },
                );
            }
        }
    }
}

/// Runs one seed.
pub fn run_leaderless(cfg: &LeaderlessConfig) -> LeaderlessReport {
    let members: Vec<Member> = (1..=cfg.nodes as NodeId).map(Member::new).collect();
    let mut run = Run {
        rng: ChaCha8Rng::seed_from_u64(cfg.seed),
        queue: EventQueue::new(),
        now: 0,
        ring: Ring::new(&members, 16),
        up: vec![true; cfg.nodes],
        store: vec![BTreeMap::new(); cfg.nodes],
        hints: vec![BTreeMap::new(); cfg.nodes],
        ops: BTreeMap::new(),
        next_op: 1,
        completed_writes: BTreeMap::new(),
        completed_reads: Vec::new(),
        side: None,
        last_read: BTreeMap::new(),
        partition_rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5041_5254_4954_494f),
        report: LeaderlessReport {
            runs: 1,
            ..LeaderlessReport::default()
        },
        cfg: cfg.clone(),
    };
    for client in 0..cfg.clients {
        let at = run.rng.random_range(0..10 * MS);
        run.schedule(at, Event::ClientNext { client });
    }
    // Crashes: one node at a time, 200-800 ms down, during the fault window.
    let mut t = 300 * MS;
    while cfg.crashes && t < cfg.duration_ms * MS * 6 / 10 {
        let node = run.rng.random_range(1..=cfg.nodes as NodeId);
        let down = run.rng.random_range(200..800);
        run.schedule(
            t,
            Event::Crash {
                node,
                until_ms: t / MS + down,
            },
        );
        t += run.rng.random_range(600..1_200) * MS;
    }
    run.schedule(500 * MS, Event::AntiEntropy);
    run.schedule(100 * MS, Event::Handoff);
    if cfg.partitions {
        let first = run.partition_rng.random_range(400..900) * MS;
        run.schedule(first, Event::Partition);
    }
    let end = cfg.duration_ms * MS;
    while let Some((at, event)) = run.queue.pop() {
        if at > end {
            break;
        }
        run.now = at;
        match event {
            Event::Deliver { from, to, msg } => run.deliver(from, to, msg),
            Event::ClientNext { client } => {
                // Clients stop with the faults; the rest of the run lets repair converge.
                if at < end * 7 / 10 {
                    run.client_next(client);
                }
            }
            Event::Timeout { op } => run.finish(op, false),
            Event::Crash { node, until_ms } => {
                // Keep a majority of nodes up: crash only if everyone else is up.
                if run.up.iter().all(|u| *u) {
                    run.up[node as usize - 1] = false;
                    run.schedule(until_ms * MS, Event::Recover { node });
                }
            }
            Event::Recover { node } => run.up[node as usize - 1] = true,
            Event::AntiEntropy => {
                if run.cfg.anti_entropy {
                    run.anti_entropy();
                }
                run.schedule(at + 500 * MS, Event::AntiEntropy);
            }
            Event::Handoff => {
                if run.cfg.hinted_handoff {
                    run.handoff();
                }
                run.schedule(at + 100 * MS, Event::Handoff);
            }
            Event::Partition => run.partition(),
            Event::Heal => run.side = None,
        }
    }
    run.check();
    run.report
}

/// Runs `seeds` seeds from `base.seed` in parallel and adds the reports up.
pub fn run_leaderless_campaign(base: &LeaderlessConfig, seeds: u64) -> LeaderlessReport {
    let reports: Vec<LeaderlessReport> = (base.seed..base.seed + seeds)
        .into_par_iter()
        .map(|seed| {
            run_leaderless(&LeaderlessConfig {
                seed,
                ..base.clone()
            })
        })
        .collect();
    let mut t = LeaderlessReport::default();
    for r in reports {
        t.runs += r.runs;
        t.reads += r.reads;
        t.writes += r.writes;
        t.timed_out += r.timed_out;
        t.stale_reads += r.stale_reads;
        t.stale_sloppy += r.stale_sloppy;
        t.sloppy_writes += r.sloppy_writes;
        t.monotonic_read_violations += r.monotonic_read_violations;
        t.partitions += r.partitions;
        t.read_repairs += r.read_repairs;
        t.hints_delivered += r.hints_delivered;
        t.anti_entropy_keys += r.anti_entropy_keys;
        t.diverged_runs += r.diverged_runs;
    }
    t
}
