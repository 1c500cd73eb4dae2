//! The Raft core's throughput in-process, without I/O, against TiKV's raft-rs in the same
//! harness (compiled in with the `raft-rs` feature).
//!
//! Both cores run the same cluster in one thread: messages go through one in-memory queue,
//! "disks" are in-memory logs written before the messages that depend on them are sent, and
//! the leader proposes batches of the same size with the same payload. The figure is committed
//! (and applied, on the leader) entries per second of wall time.

mod ours;
#[cfg(feature = "raft-rs")]
mod theirs;

use std::time::Instant;

/// Flow-control limits both cores are given, so they pipeline the same way.
const MAX_INFLIGHT_MSGS: usize = 256;
const MAX_MSG_BYTES: u64 = 1 << 20;

/// Whether raft-rs is compiled in (the `raft-rs` feature).
pub const RAFT_RS: bool = cfg!(feature = "raft-rs");

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

/// Committed entries per second of this project's core and of raft-rs (`None` when it is not
/// compiled in), each on a fresh `nodes`-node cluster committing `entries` entries of
/// `payload` in batches of `batch` proposals.
pub fn measure_batch(
    nodes: usize,
    entries: u64,
    batch: usize,
    payload: &[u8],
) -> (f64, Option<f64>) {
    let ours = measure(&mut ours::Ours::new(nodes), entries, batch, payload);
    #[cfg(feature = "raft-rs")]
    let theirs = Some(measure(
        &mut theirs::Theirs::new(nodes),
        entries,
        batch,
        payload,
    ));
    #[cfg(not(feature = "raft-rs"))]
    let theirs = None;
    (ours, theirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each harness counts exactly the proposals it was given, whatever the payload (an empty
    /// one included: the benchmark once waited forever on `--payload 0`) and cluster size.
    #[test]
    fn every_harness_counts_each_committed_proposal_once() {
        for nodes in [1, 2, 3, 4, 5] {
            for payload in [&b""[..], b"x", &[7u8; 300][..]] {
                let mut harnesses: Vec<Box<dyn Harness>> = vec![Box::new(ours::Ours::new(nodes))];
                #[cfg(feature = "raft-rs")]
                harnesses.push(Box::new(theirs::Theirs::new(nodes)));
                for harness in &mut harnesses {
                    let before = harness.pump();
                    for _ in 0..17 {
                        harness.propose(payload);
                    }
                    assert_eq!(
                        harness.pump() - before,
                        17,
                        "{nodes} nodes, payload of {} bytes",
                        payload.len()
                    );
                }
            }
        }
    }
}
