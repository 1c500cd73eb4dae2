//! Leaderless (Dynamo-style) quorum replication simulated: `n` replicas per key on a ring of
//! nodes, writes acknowledged by `w` of them, reads answered by `r` (the newest version wins,
//! and stale repliers are repaired), hinted handoff to the next node while a replica is down,
//! and Merkle-tree anti-entropy between replicas. Nodes crash and come back with their data;
//! messages are delayed, reordered and dropped.
//!
//! Checked: every read returns a version at least as new as every write to its key that had
//! completed before the read began (read-your-latest-write), which `r + w > n` guarantees and
//! `r + w <= n` does not; and after the faults stop, every replica of every key converges to the
//! same version. Deterministic per seed.

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
    Deliver { to: NodeId, msg: Msg },
    ClientNext { client: usize },
    Timeout { op: u64 },
    Crash { node: NodeId, until_ms: u64 },
    Recover { node: NodeId },
    AntiEntropy,
    Handoff,
}

struct Op {
    client: usize,
    key: usize,
    write: Option<Version>,
    invoked: u64,
    coordinator: NodeId,
    acks: BTreeSet<NodeId>,
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
    /// Completed writes: key -> [(completion time, version)].
    completed_writes: BTreeMap<usize, Vec<(u64, Version)>>,
    /// Completed reads: (key, invoked, version read).
    completed_reads: Vec<(usize, u64, Option<Version>)>,
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

    fn send(&mut self, to: NodeId, msg: Msg) {
        if self.faults_on() && self.rng.random_bool(0.02) {
            return;
        }
        let delay = self.rng.random_range(300..3_000);
        self.schedule(self.now + delay, Event::Deliver { to, msg });
    }

    fn replicas(&self, key: usize) -> Vec<NodeId> {
        self.ring
            .replicas(format!("key-{key}").as_bytes(), self.cfg.n)
    }

    /// The first node after the key's replicas that is up: where a hint goes.
    fn fallback(&self, key: usize, exclude: &[NodeId]) -> Option<NodeId> {
        self.ring
            .replicas(format!("key-{key}").as_bytes(), self.cfg.nodes)
            .into_iter()
            .find(|n| !exclude.contains(n) && self.up[*n as usize - 1])
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
                replies: BTreeMap::new(),
            },
        );
        self.schedule(self.now + 100 * MS, Event::Timeout { op: op_id });
        let replicas = self.replicas(key);
        match write {
            Some(version) => {
                for owner in &replicas {
                    let owner_up = self.up[*owner as usize - 1];
                    if owner_up || !self.faults_on() {
                        self.send(
                            *owner,
                            Msg::Store {
                                key,
                                version,
                                hint_for: None,
                                op: Some(op_id),
                            },
                        );
                    } else if let Some(fb) = self.fallback(key, &replicas) {
                        // Hinted handoff: the fallback keeps it for the owner (it does not count
                        // towards the strict quorum).
                        self.send(
                            fb,
                            Msg::Store {
                                key,
                                version,
                                hint_for: Some(*owner),
                                op: None,
                            },
                        );
                    }
                }
            }
            None => {
                for owner in replicas {
                    self.send(owner, Msg::Read { key, op: op_id });
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
                    self.completed_writes
                        .entry(op.key)
                        .or_default()
                        .push((self.now, v));
                }
                None => {
                    self.report.reads += 1;
                    let newest = op.replies.values().flatten().max().copied();
                    self.completed_reads.push((op.key, op.invoked, newest));
                    // Read repair: stale repliers get the newest version.
                    if let Some(v) = newest {
                        let stale: Vec<NodeId> = op
                            .replies
                            .iter()
                            .filter(|(_, got)| **got < Some(v))
                            .map(|(n, _)| *n)
                            .collect();
                        for n in stale {
                            self.report.read_repairs += 1;
                            self.send(
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

    fn deliver(&mut self, to: NodeId, msg: Msg) {
        if !self.up[to as usize - 1] {
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
                        self.send(c, Msg::StoreAck { op, from: to });
                    }
                }
            }
            Msg::StoreAck { op, from } => {
                let done = match self.ops.get_mut(&op) {
                    Some(o) if o.coordinator == to => {
                        o.acks.insert(from);
                        o.acks.len() >= self.cfg.w
                    }
                    _ => false,
                };
                if done {
                    self.finish(op, true);
                }
            }
            Msg::Read { key, op } => {
                let version = self.store[to as usize - 1].get(&key).copied();
                let coordinator = self.ops.get(&op).map(|o| o.coordinator);
                if let Some(c) = coordinator {
                    self.send(
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
                if !self.up[a as usize - 1] || !self.up[b as usize - 1] {
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
                    self.send(
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
                self.hints[holder as usize - 1].remove(&(owner, key));
                self.report.hints_delivered += 1;
                self.send(
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
    while t < cfg.duration_ms * MS * 6 / 10 {
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
    let end = cfg.duration_ms * MS;
    while let Some((at, event)) = run.queue.pop() {
        if at > end {
            break;
        }
        run.now = at;
        match event {
            Event::Deliver { to, msg } => run.deliver(to, msg),
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
                run.anti_entropy();
                run.schedule(at + 500 * MS, Event::AntiEntropy);
            }
            Event::Handoff => {
                run.handoff();
                run.schedule(at + 100 * MS, Event::Handoff);
            }
        }
    }
    // Read-your-latest-write: no read older than a write completed before it began.
    for (key, invoked, read) in &run.completed_reads {
        let latest = run
            .completed_writes
            .get(key)
            .into_iter()
            .flatten()
            .filter(|(done, _)| done < invoked)
            .map(|(_, v)| *v)
            .max();
        if latest.is_some() && *read < latest {
            run.report.stale_reads += 1;
        }
    }
    // Convergence: every replica of every key holds the same version.
    let diverged = (0..cfg.keys).any(|key| {
        let versions: BTreeSet<Option<Version>> = run
            .replicas(key)
            .iter()
            .map(|n| run.store[*n as usize - 1].get(&key).copied())
            .collect();
        versions.len() > 1
    });
    run.report.diverged_runs = u64::from(diverged);
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
        t.read_repairs += r.read_repairs;
        t.hints_delivered += r.hints_delivered;
        t.anti_entropy_keys += r.anti_entropy_keys;
        t.diverged_runs += r.diverged_runs;
    }
    t
}
