//! This project's Raft core in the benchmark harness.

use super::{Harness, MAX_INFLIGHT_MSGS, MAX_MSG_BYTES};
use distsys_consensus::raft::{Config, Raft};
use distsys_consensus::{Message, NodeId, Persisted, Role};
use std::collections::VecDeque;

/// This project's core.
pub struct Ours {
    nodes: Vec<Raft>,
    disks: Vec<Persisted>,
    queue: VecDeque<(NodeId, NodeId, Message)>,
    applied: u64,
}

impl Ours {
    /// A cluster of `n` nodes whose node 1 has been elected.
    pub fn new(n: usize) -> Ours {
        let voters: Vec<NodeId> = (1..=n as NodeId).collect();
        let nodes = voters
            .iter()
            .map(|&id| {
                let mut config = Config::new(id, voters.clone());
                config.max_inflight_msgs = MAX_INFLIGHT_MSGS;
                config.max_inflight_bytes = u64::MAX;
                config.max_msg_bytes = MAX_MSG_BYTES;
                config.max_entries_per_msg = usize::MAX;
                Raft::new(config, &Persisted::default(), id, 0)
            })
            .collect();
        let mut ours = Ours {
            nodes,
            disks: vec![Persisted::default(); n],
            queue: VecDeque::new(),
            applied: 0,
        };
        // Node 1 times out first and wins.
        ours.nodes[0].tick(1_000_000);
        ours.pump();
        debug_assert_eq!(ours.nodes[0].role(), Role::Leader);
        ours
    }

    fn drain(&mut self, i: usize) {
        let ready = self.nodes[i].ready();
        for op in &ready.persist {
            self.disks[i].apply(op);
        }
        let from = (i + 1) as NodeId;
        self.queue.extend(
            ready
                .early
                .into_iter()
                .chain(ready.messages)
                .map(|(to, m)| (from, to, m)),
        );
        if i == 0 {
            // Every committed entry counts: the election's empty entry is committed before
            // `measure` takes its baseline, and a payload may itself be empty.
            self.applied += ready.committed.len() as u64;
        }
    }
}

impl Harness for Ours {
    fn propose(&mut self, data: &[u8]) {
        let _ = self.nodes[0].propose(data.to_vec());
    }

    fn pump(&mut self) -> u64 {
        for i in 0..self.nodes.len() {
            self.drain(i);
        }
        while let Some((from, to, message)) = self.queue.pop_front() {
            let i = (to - 1) as usize;
            self.nodes[i].step(from, message);
            self.drain(i);
        }
        self.applied
    }
}
