//! A step-by-step driver for Raft scenarios in tests, as in the paper: it delivers messages
//! between nodes (or drops them across cut links or by a filter), persists before sending,
//! crashes and restarts nodes from their disks, and checks after every step the five safety
//! properties and that no acknowledgement leaves before the write it covers is durable
//! (known-bugs #13). For tests only: it panics on a broken property unless told to record.

use crate::raft::{Config, Raft};
use crate::safety::SafetyMonitor;
use crate::{Entry, Index, Message, NodeId, Persisted, ReadId, Role};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Decides whether a message is lost on the way: `(from, to, message)`.
pub type DropRule = Box<dyn Fn(NodeId, NodeId, &Message) -> bool>;

/// A cluster of Raft cores wired through an in-memory network.
pub struct Cluster {
    /// Running nodes.
    pub nodes: BTreeMap<NodeId, Raft>,
    configs: BTreeMap<NodeId, Config>,
    /// Per-node disks (what a crash keeps).
    pub disks: BTreeMap<NodeId, Persisted>,
    /// Messages sent and not yet delivered: (from, to, message).
    pub inflight: VecDeque<(NodeId, NodeId, Message)>,
    /// Directed links that drop everything.
    pub cut: BTreeSet<(NodeId, NodeId)>,
    /// An extra rule for losing messages.
    pub drop_rule: Option<DropRule>,
    /// Entries each node applied since it last started.
    pub applied: BTreeMap<NodeId, Vec<Entry>>,
    /// Confirmed reads: (node, read, index).
    pub reads: Vec<(NodeId, ReadId, Index)>,
    /// Reads the node gave up on.
    pub failed_reads: Vec<(NodeId, ReadId)>,
    /// Every message handed to the network: (from, to, message).
    pub sent: Vec<(NodeId, NodeId, Message)>,
    /// The cluster's clock, in microseconds.
    pub now: u64,
    monitor: SafetyMonitor,
    /// Broken properties seen; `strict` clusters panic instead of recording them.
    pub violations: Vec<String>,
    /// Panic at the first broken property (the default) instead of recording it.
    pub strict: bool,
    starts: u64,
}

impl Cluster {
    /// `n` founding voters 1..=n with the default configuration.
    pub fn new(n: u64) -> Cluster {
        Cluster::with(n, |_| {})
    }

    /// `n` founding voters, each configuration adjusted by `tune`.
    pub fn with(n: u64, tune: impl Fn(&mut Config)) -> Cluster {
        let voters: Vec<NodeId> = (1..=n).collect();
        let mut cluster = Cluster {
            nodes: BTreeMap::new(),
            configs: BTreeMap::new(),
            disks: BTreeMap::new(),
            inflight: VecDeque::new(),
            cut: BTreeSet::new(),
            drop_rule: None,
            applied: BTreeMap::new(),
            reads: Vec::new(),
            failed_reads: Vec::new(),
            sent: Vec::new(),
            now: 0,
            monitor: SafetyMonitor::new(),
            violations: Vec::new(),
            strict: true,
            starts: 0,
        };
        for &id in &voters {
            let mut config = Config::new(id, voters.clone());
            tune(&mut config);
            cluster.configs.insert(id, config);
            cluster.disks.insert(id, Persisted::default());
            cluster.restart(id);
        }
        cluster
    }

    /// Starts a node that joins the running cluster (no bootstrap membership: it waits to be
    /// added by the leader).
    pub fn add_joiner(&mut self, id: NodeId) {
        self.configs.insert(id, Config::new(id, Vec::new()));
        self.disks.insert(id, Persisted::default());
        self.restart(id);
    }

    /// A running node (panics if it is down).
    pub fn node(&mut self, id: NodeId) -> &mut Raft {
        self.nodes.get_mut(&id).expect("node is running")
    }

    /// Every node's id, running or not.
    pub fn ids(&self) -> Vec<NodeId> {
        self.configs.keys().copied().collect()
    }

    /// Kills a node: volatile state and messages to it are lost, its disk is kept.
    pub fn crash(&mut self, id: NodeId) {
        self.nodes.remove(&id);
    }

    /// (Re)starts a node from its disk.
    pub fn restart(&mut self, id: NodeId) {
        self.starts += 1;
        let raft = Raft::new(
            self.configs[&id].clone(),
            &self.disks[&id],
            id * 7919 + self.starts,
            self.now,
        );
        self.nodes.insert(id, raft);
        self.applied.insert(id, Vec::new());
    }

    fn violation(&mut self, what: String) {
        assert!(!self.strict, "{what}");
        self.violations.push(what);
    }

    /// Carries out a node's Ready: persist, check that every acknowledgement is covered by the
    /// disk, send, apply.
    pub fn drain(&mut self, id: NodeId) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let ready = node.ready();
        let disk = self.disks.get_mut(&id).expect("disk");
        for op in &ready.persist {
            disk.apply(op);
        }
        let durable_last = disk
            .entries
            .last()
            .map(|e| e.index)
            .or(disk.snapshot.as_ref().map(|s| s.last_index))
            .unwrap_or(0);
        let durable_vote = disk.hard_state;
        for (to, message) in &ready.messages {
            match message {
                Message::AppendEntriesResponse {
                    success: true,
                    match_index,
                    ..
                } if *match_index > durable_last => self.violation(format!(
                    "node {id} acknowledged index {match_index} with only {durable_last} durable"
                )),
                Message::RequestVoteResponse {
                    granted: true,
                    pre_vote: false,
                    term,
                } if (durable_vote.term, durable_vote.vote) != (*term, Some(*to)) => self
                    .violation(format!(
                        "node {id} granted its vote in term {term} to {to} before it was durable"
                    )),
                _ => {}
            }
        }
        // The testkit persists each Ready before sending (`early` is empty unless a node runs
        // with pipelined persistence; sent here after the write all the same).
        for (to, message) in ready.early.into_iter().chain(ready.messages) {
            self.sent.push((id, to, message.clone()));
            self.inflight.push_back((id, to, message));
        }
        if let Some(snapshot) = &ready.install {
            if let Err(v) = self.monitor.on_install(id, snapshot) {
                self.violation(v.to_string());
            }
        }
        for entry in ready.committed {
            if let Err(v) = self.monitor.on_apply(id, &entry) {
                self.violation(v.to_string());
            }
            self.applied.entry(id).or_default().push(entry);
        }
        self.reads.extend(
            ready
                .reads
                .into_iter()
                .map(|(read, index)| (id, read, index)),
        );
        self.failed_reads
            .extend(ready.reads_failed.into_iter().map(|read| (id, read)));
        if let Err(v) = self.monitor.observe(self.nodes.values()) {
            self.violation(v.to_string());
        }
    }

    /// Delivers the oldest message in flight (dropped if its link is cut, the filter says so, or
    /// its target is down). Returns false when nothing was in flight.
    pub fn deliver_one(&mut self) -> bool {
        let Some((from, to, message)) = self.inflight.pop_front() else {
            return false;
        };
        let lost = self.cut.contains(&(from, to))
            || self
                .drop_rule
                .as_ref()
                .is_some_and(|d| d(from, to, &message));
        if !lost {
            if let Some(node) = self.nodes.get_mut(&to) {
                node.step(from, message);
                self.drain(to);
            }
        }
        true
    }

    /// Delivers every message (and the ones they cause).
    pub fn settle(&mut self) {
        for id in self.ids() {
            self.drain(id);
        }
        let mut steps = 0;
        while self.deliver_one() {
            steps += 1;
            assert!(steps < 1_000_000, "message storm");
        }
    }

    /// Advances every running node's clock by `ms` in 5 ms ticks, settling after each tick.
    pub fn run_for(&mut self, ms: u64) {
        self.run_for_except(ms, &[]);
    }

    /// Like `run_for`, but the `paused` nodes neither tick nor receive (their messages wait).
    pub fn run_for_except(&mut self, ms: u64, paused: &[NodeId]) {
        for _ in 0..ms / 5 {
            self.now += 5_000;
            let now = self.now;
            for (id, node) in &mut self.nodes {
                if !paused.contains(id) {
                    node.tick(now);
                }
            }
            for id in self.ids() {
                if !paused.contains(&id) {
                    self.drain(id);
                }
            }
            let mut held = VecDeque::new();
            let mut steps = 0;
            while let Some(m) = self.inflight.pop_front() {
                steps += 1;
                assert!(steps < 1_000_000, "message storm");
                if paused.contains(&m.1) {
                    held.push_back(m);
                    continue;
                }
                self.inflight.push_front(m);
                self.deliver_one();
            }
            self.inflight = held;
        }
    }

    /// The running nodes that believe they lead.
    pub fn leaders(&self) -> Vec<NodeId> {
        self.nodes
            .values()
            .filter(|n| n.role() == Role::Leader)
            .map(|n| n.id())
            .collect()
    }

    /// The one leader (panics if there is not exactly one).
    pub fn leader(&self) -> NodeId {
        let leaders = self.leaders();
        assert_eq!(leaders.len(), 1, "exactly one leader: {leaders:?}");
        leaders[0]
    }

    /// Cuts every link between `id` and the others.
    pub fn isolate(&mut self, id: NodeId) {
        for other in self.ids() {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    /// Splits the cluster: no link between `side` and the rest.
    pub fn split(&mut self, side: &[NodeId]) {
        for a in side {
            for b in self.ids() {
                if !side.contains(&b) {
                    self.cut.insert((*a, b));
                    self.cut.insert((b, *a));
                }
            }
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Proposes a command on the leader and runs until it is applied there; returns its index.
    pub fn write(&mut self, data: &[u8]) -> Index {
        let leader = self.leader();
        let index = self.node(leader).propose(data.to_vec()).expect("leader");
        self.run_for(50);
        index
    }

    /// The commands (non-empty entries) a node applied, in order.
    pub fn commands(&self, id: NodeId) -> Vec<Vec<u8>> {
        self.applied[&id]
            .iter()
            .filter(|e| !e.data.is_empty())
            .map(|e| e.data.to_vec())
            .collect()
    }
}
