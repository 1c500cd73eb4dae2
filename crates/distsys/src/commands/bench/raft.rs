//! `distsys bench raft`: the Raft core's throughput in-process, without I/O, against TiKV's
//! raft-rs in the same harness (built with `--features raft-rs`).
//!
//! Both cores run the same cluster in one thread: messages go through one in-memory queue,
//! "disks" are in-memory logs written before the messages that depend on them are sent, and
//! the leader proposes batches of the same size with the same payload. The figure is committed
//! (and applied, on the leader) entries per second of wall time.

use crate::EXIT_OK;
use distsys_consensus::raft::{Config, Raft};
use distsys_consensus::{Message, NodeId, Persisted, Role};
use std::collections::VecDeque;
use std::io::Write;
use std::time::Instant;

/// Flow-control limits both cores are given, so they pipeline the same way.
const MAX_INFLIGHT_MSGS: usize = 256;
const MAX_MSG_BYTES: u64 = 1 << 20;

/// One cluster under test: a leader that takes proposals and a way to run it until quiet.
trait Harness {
    /// Proposes one command on the leader.
    fn propose(&mut self, data: &[u8]);
    /// Delivers every message and carries out every output until nothing moves. Returns the
    /// commands the leader has applied so far.
    fn pump(&mut self) -> u64;
}

/// Committed entries per second with batches of `batch` proposals until `entries` applied.
fn measure(harness: &mut dyn Harness, entries: u64, batch: usize, payload: &[u8]) -> f64 {
    let start = Instant::now();
    let mut applied = harness.pump();
    let target = applied + entries;
    while applied < target {
        for _ in 0..batch {
            harness.propose(payload);
        }
        applied = harness.pump();
    }
    entries as f64 / start.elapsed().as_secs_f64().max(1e-9)
}

pub fn run(
    nodes: usize,
    entries: u64,
    batches: &[usize],
    payload_bytes: usize,
    stdout: &mut dyn Write,
) -> i32 {
    let payload = vec![0x5a; payload_bytes];
    let _ = writeln!(
        stdout,
        "raft core throughput, {nodes} nodes in one thread, no I/O, {entries} entries of {payload_bytes} bytes per batch size"
    );
    let _ = writeln!(
        stdout,
        "{:>8} {:>18} {:>18} {:>8}",
        "batch", "distsys entries/s", "raft-rs entries/s", "ratio"
    );
    for &batch in batches {
        let ours = measure(&mut Ours::new(nodes), entries, batch, &payload);
        let theirs = raft_rs::measure(nodes, entries, batch, &payload);
        let (theirs_text, ratio) = match theirs {
            Some(t) => (format!("{t:.0}"), format!("{:.2}x", ours / t)),
            None => ("-".to_string(), "-".to_string()),
        };
        let _ = writeln!(
            stdout,
            "{batch:>8} {ours:>18.0} {theirs_text:>18} {ratio:>8}"
        );
    }
    if !raft_rs::AVAILABLE {
        let _ = writeln!(
            stdout,
            "raft-rs not built in: `cargo run --release -p distsys --features raft-rs -- bench raft` compares"
        );
    }
    EXIT_OK
}

/// This project's core.
struct Ours {
    nodes: Vec<Raft>,
    disks: Vec<Persisted>,
    queue: VecDeque<(NodeId, NodeId, Message)>,
    applied: u64,
}

impl Ours {
    fn new(n: usize) -> Ours {
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
        self.queue
            .extend(ready.messages.into_iter().map(|(to, m)| (from, to, m)));
        if i == 0 {
            self.applied += ready
                .committed
                .iter()
                .filter(|e| !e.data.is_empty())
                .count() as u64;
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

#[cfg(feature = "raft-rs")]
mod raft_rs {
    //! TiKV's raft-rs driven the way its own examples drive it.

    use super::{Harness, MAX_INFLIGHT_MSGS, MAX_MSG_BYTES};
    use raft::eraftpb::{Entry, Message};
    use raft::storage::MemStorage;
    use raft::{Config, RawNode};
    use std::collections::VecDeque;

    pub const AVAILABLE: bool = true;

    pub fn measure(nodes: usize, entries: u64, batch: usize, payload: &[u8]) -> Option<f64> {
        Some(super::measure(
            &mut Theirs::new(nodes),
            entries,
            batch,
            payload,
        ))
    }

    struct Theirs {
        nodes: Vec<RawNode<MemStorage>>,
        queue: VecDeque<Message>,
        applied: u64,
    }

    impl Theirs {
        fn new(n: usize) -> Theirs {
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
                self.applied += committed.iter().filter(|e| !e.data.is_empty()).count() as u64;
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
}

#[cfg(not(feature = "raft-rs"))]
mod raft_rs {
    pub const AVAILABLE: bool = false;

    pub fn measure(_nodes: usize, _entries: u64, _batch: usize, _payload: &[u8]) -> Option<f64> {
        None
    }
}
