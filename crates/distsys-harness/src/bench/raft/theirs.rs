//! TiKV's raft-rs in the benchmark harness, driven the way its own examples drive it.

use super::{Harness, MAX_INFLIGHT_MSGS, MAX_MSG_BYTES};
use raft::eraftpb::{Entry, Message};
use raft::storage::MemStorage;
use raft::{Config, RawNode};
use std::collections::VecDeque;

/// TiKV's raft-rs.
pub struct Theirs {
    nodes: Vec<RawNode<MemStorage>>,
    queue: VecDeque<Message>,
    applied: u64,
}

impl Theirs {
    /// A cluster of `n` nodes whose node 1 has been elected.
    pub fn new(n: usize) -> Theirs {
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let voters: Vec<u64> = (1..=n as u64).collect();
        let nodes = voters
            .iter()
            .map(|&id| {
                let config = Config {
                    id,
                    election_tick: 10,
                    heartbeat_tick: 3,
                    max_size_per_msg: MAX_MSG_BYTES,
                    max_inflight_msgs: MAX_INFLIGHT_MSGS,
                    ..Config::default()
                };
                let storage = MemStorage::new_with_conf_state((voters.clone(), vec![]));
                RawNode::new(&config, storage, &logger).expect("valid raft-rs config")
            })
            .collect();
        let mut theirs = Theirs {
            nodes,
            queue: VecDeque::new(),
            applied: 0,
        };
        theirs.nodes[0].campaign().expect("campaign");
        theirs.pump();
        theirs
    }

    fn count(&mut self, i: usize, committed: Vec<Entry>) {
        if i == 0 {
            // Every committed entry counts: the election's empty entry is committed before
            // `measure` takes its baseline, and a payload may itself be empty.
            self.applied += committed.len() as u64;
        }
    }

    fn handle_ready(&mut self, i: usize) {
        if !self.nodes[i].has_ready() {
            return;
        }
        let mut ready = self.nodes[i].ready();
        self.queue.extend(ready.take_messages());
        let committed = ready.take_committed_entries();
        self.count(i, committed);
        let node = &mut self.nodes[i];
        if !ready.entries().is_empty() {
            let _ = node.mut_store().wl().append(ready.entries());
        }
        if let Some(hs) = ready.hs() {
            node.mut_store().wl().set_hardstate(hs.clone());
        }
        let persisted = ready.take_persisted_messages();
        let mut light = node.advance(ready);
        if let Some(commit) = light.commit_index() {
            node.mut_store().wl().mut_hard_state().set_commit(commit);
        }
        let messages = light.take_messages();
        let committed = light.take_committed_entries();
        node.advance_apply();
        self.queue.extend(persisted);
        self.queue.extend(messages);
        self.count(i, committed);
    }
}

impl Harness for Theirs {
    fn propose(&mut self, data: &[u8]) {
        let _ = self.nodes[0].propose(vec![], data.to_vec());
    }

    fn pump(&mut self) -> u64 {
        for i in 0..self.nodes.len() {
            self.handle_ready(i);
        }
        while let Some(message) = self.queue.pop_front() {
            let i = (message.to - 1) as usize;
            let _ = self.nodes[i].step(message);
            self.handle_ready(i);
        }
        self.applied
    }
}
