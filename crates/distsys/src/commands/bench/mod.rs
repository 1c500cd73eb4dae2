//! `distsys bench ...`: benchmarks that print figures (never asserted in tests).

mod advise;
mod check;
mod cluster;
mod partition;
mod protocols;
mod raft;
mod sim;
mod txn;
mod txn_protocols;

use crate::cli::BenchTarget;

// Every count and duration below is range-checked (at least 1) by clap (cli.rs).
use std::io::Write;

pub fn run(what: BenchTarget, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    match what {
        BenchTarget::Advise { iterations } => advise::run(iterations, stdout),
        BenchTarget::Check {
            dir,
            max_ops,
            porcupine,
            oracle_cases,
            summary,
        } => check::run(
            &dir,
            check::Sizes { max_ops, summary },
            &porcupine,
            oracle_cases,
            stdout,
            stderr,
        ),
        BenchTarget::Txn {
            dir,
            max_txns,
            runs,
        } => txn::run(&dir, max_txns, runs, stdout, stderr),
        BenchTarget::Sim { seconds, max_nodes } => sim::run(seconds, max_nodes, stdout),
        BenchTarget::Partition { keys, nodes } => partition::run(keys, &nodes, stdout),
        BenchTarget::Protocols { seconds } => protocols::run(seconds, stdout),
        BenchTarget::TxnProtocols { seconds, seeds } => txn_protocols::run(seconds, seeds, stdout),
        BenchTarget::Cluster {
            seconds,
            clients,
            values,
            keys,
            max_data_mb,
            base_port,
            no_pipelined_writes,
        } => {
            let shape = cluster::Shape {
                seconds,
                clients,
                values,
                keys,
                max_data_bytes: max_data_mb << 20,
                base_port,
                pipelined_writes: !no_pipelined_writes,
            };
            cluster::run(shape, stdout, stderr)
        }
        BenchTarget::Raft {
            nodes,
            entries,
            batches,
            payload,
        } => raft::run(nodes, entries, &batches, payload, stdout),
    }
}

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`), if known.
pub use distsys_harness::bench::check::peak_rss_mib;
