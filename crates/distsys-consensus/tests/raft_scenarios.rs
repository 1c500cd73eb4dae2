//! Raft scenarios driven step by step, as in the paper: a tiny in-test driver delivers messages
//! between nodes (or drops them across a partition) and persists before sending.

use distsys_consensus::raft::{Config, Raft};
use distsys_consensus::safety::SafetyMonitor;
use distsys_consensus::{Message, NodeId, Persisted, Role};
use std::collections::{BTreeSet, VecDeque};

struct Cluster {
    nodes: Vec<Raft>,
    disks: Vec<Persisted>,
    inflight: VecDeque<(NodeId, NodeId, Message)>,
    cut: BTreeSet<(NodeId, NodeId)>,
    committed: Vec<Vec<Vec<u8>>>,
    reads: Vec<(NodeId, u64)>,
    now: u64,
    monitor: SafetyMonitor,
}

impl Cluster {
    fn new(n: u64) -> Cluster {
        let voters: Vec<NodeId> = (1..=n).collect();
        let nodes = voters
            .iter()
            .map(|&id| {
                Raft::new(
                    Config::new(id, voters.clone()),
                    &Persisted::default(),
                    id * 7919,
                    0,
                )
            })
            .collect();
        Cluster {
            nodes,
            disks: vec![Persisted::default(); n as usize],
            inflight: VecDeque::new(),
            cut: BTreeSet::new(),
            committed: vec![Vec::new(); n as usize],
            reads: Vec::new(),
            now: 0,
            monitor: SafetyMonitor::new(),
        }
    }

    fn node(&mut self, id: NodeId) -> &mut Raft {
        &mut self.nodes[(id - 1) as usize]
    }

    fn drain(&mut self, id: NodeId) {
        let ready = self.node(id).ready();
        for op in &ready.persist {
            self.disks[(id - 1) as usize].apply(op);
        }
        for (to, message) in ready.messages {
            self.inflight.push_back((id, to, message));
        }
        for entry in ready.committed {
            self.committed[(id - 1) as usize].push(entry.data);
        }
        self.reads
            .extend(ready.reads.into_iter().map(|(read, _)| (id, read)));
    }

    /// Delivers every message (and the ones they cause) unless the link is cut.
    fn settle(&mut self) {
        for id in 1..=self.nodes.len() as u64 {
            self.drain(id);
        }
        let mut steps = 0;
        while let Some((from, to, message)) = self.inflight.pop_front() {
            steps += 1;
            assert!(steps < 100_000, "message storm");
            if self.cut.contains(&(from, to)) {
                continue;
            }
            self.node(to).step(from, message);
            self.drain(to);
            self.monitor
                .observe(self.nodes.iter())
                .expect("safety holds");
        }
    }

    /// Advances every clock by `ms` in 5 ms ticks, settling after each tick.
    fn run_for(&mut self, ms: u64) {
        for _ in 0..ms / 5 {
            self.now += 5_000;
            let now = self.now;
            for node in &mut self.nodes {
                node.tick(now);
            }
            self.settle();
        }
    }

    fn leaders(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.role() == Role::Leader)
            .map(|n| n.id())
            .collect()
    }

    fn isolate(&mut self, id: NodeId) {
        for other in 1..=self.nodes.len() as u64 {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }
}

#[test]
fn single_node_elects_itself_and_commits() {
    let mut c = Cluster::new(1);
    c.run_for(400);
    assert_eq!(c.leaders(), vec![1]);
    c.node(1).propose(b"x".to_vec()).expect("leader");
    c.settle();
    assert!(c.committed[0].contains(&b"x".to_vec()));
}

#[test]
fn three_nodes_elect_one_leader_and_replicate() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let leaders = c.leaders();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    let leader = leaders[0];
    for i in 0..10u8 {
        c.node(leader).propose(vec![i + 1]).expect("leader accepts");
    }
    c.run_for(100);
    for log in &c.committed {
        let commands: Vec<&Vec<u8>> = log.iter().filter(|d| !d.is_empty()).collect();
        assert_eq!(
            commands.len(),
            10,
            "every node applied all commands in order"
        );
        assert_eq!(commands[0], &vec![1u8]);
    }
}

#[test]
fn isolated_leader_steps_down_and_majority_moves_on() {
    let mut c = Cluster::new(5);
    c.run_for(600);
    let old = c.leaders()[0];
    let term = c.node(old).term();
    c.isolate(old);
    c.run_for(1000);
    // Check-quorum: the isolated leader gave up; the majority elected a new one.
    assert_ne!(c.node(old).role(), Role::Leader);
    let new = c.leaders();
    assert_eq!(new.len(), 1);
    assert!(c.node(new[0]).term() > term);
    // Pre-vote: the isolated node did not inflate its term while cut off.
    assert_eq!(c.node(old).term(), term);
    c.node(new[0])
        .propose(b"after".to_vec())
        .expect("new leader");
    c.cut.clear();
    c.run_for(500);
    assert_eq!(c.leaders(), new, "healing does not disrupt the new leader");
    assert!(
        c.committed[(old - 1) as usize].contains(&b"after".to_vec()),
        "the old leader caught up"
    );
}

#[test]
fn read_index_needs_a_quorum() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let leader = c.leaders()[0];
    c.node(leader).read_index(7).expect("leader");
    c.settle();
    assert_eq!(
        c.reads,
        vec![(leader, 7)],
        "a connected leader confirms its read"
    );
    // Cut the leader off: the read must not be confirmed.
    c.isolate(leader);
    c.node(leader)
        .read_index(8)
        .expect("still believes it leads");
    c.settle();
    assert_eq!(c.reads, vec![(leader, 7)], "no quorum, no read");
}

#[test]
fn restart_keeps_term_vote_and_log() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let leader = c.leaders()[0];
    c.node(leader).propose(b"durable".to_vec()).expect("leader");
    c.run_for(50);
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");
    let disk = c.disks[(follower - 1) as usize].clone();
    let before = (c.node(follower).term(), c.node(follower).log().last_index());
    let voters: Vec<NodeId> = (1..=3).collect();
    let restarted = Raft::new(Config::new(follower, voters), &disk, 99, c.now);
    assert_eq!((restarted.term(), restarted.log().last_index()), before);
    assert_eq!(restarted.hard_state(), c.node(follower).hard_state());
}
