//! `distsys bench raft`: the Raft core's throughput in-process, without I/O, against TiKV's
//! raft-rs in the same harness (`distsys_harness::bench::raft`; built with `--features
//! raft-rs`), a row per batch size.

use crate::EXIT_OK;
use distsys_harness::bench::raft::{measure_batch, RAFT_RS};
use std::io::Write;

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
        let (ours, theirs) = measure_batch(nodes, entries, batch, &payload);
        let (theirs_text, ratio) = match theirs {
            Some(t) => (format!("{t:.0}"), format!("{:.2}x", ours / t)),
            None => ("-".to_string(), "-".to_string()),
        };
        let _ = writeln!(
            stdout,
            "{batch:>8} {ours:>18.0} {theirs_text:>18} {ratio:>8}"
        );
    }
    if !RAFT_RS {
        let _ = writeln!(
            stdout,
            "raft-rs not built in: `cargo run --release -p distsys --features raft-rs -- bench raft` compares"
        );
    }
    EXIT_OK
}
