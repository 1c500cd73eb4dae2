//! `distsys bench txn-protocols`: classic 2PC against parallel commits in the simulator.

use crate::EXIT_OK;
use distsys_sim::stats::percentile;
use distsys_sim::txn::{run_campaign, CommitProtocol, RunResult, TxnSimConfig};
use std::io::Write;

/// One cell's configuration: 4 groups of 25 keys, Zipf(0.99) keys, 16 clients, no faults,
/// `seconds` of client activity after the groups have elected leaders.
fn cell(protocol: CommitProtocol, latency_ms: u64, seconds: u64) -> TxnSimConfig {
    let mut config = TxnSimConfig::new(1, 4);
    config.keys_per_group = 25;
    config.clients = 16;
    config.faults = false;
    config.zipf = Some(0.99);
    config.protocol = protocol;
    config.latency_ms = latency_ms;
    // Clients run from clients_start_ms to quiet_ms (60% of the run).
    let active_ms = seconds * 1_000;
    config.duration_ms = (config.clients_start_ms() + active_ms) * 10 / 6 + 1;
    config
}

/// Prints the table.
pub fn run(seconds: u64, seeds: u64, out: &mut dyn Write) -> i32 {
    let _ = writeln!(
        out,
        "txn-protocols: 4 Raft groups x 3 nodes, 100 keys by Zipf(0.99), 16 closed-loop clients, \
         2-4 operations per transaction, no faults, {seconds} s of clients per run, {seeds} seeds per cell"
    );
    let _ = writeln!(
        out,
        "{:<9} {:>8} {:>9} {:>9} {:>11} {:>11} {:>12} {:>8}",
        "protocol",
        "latency",
        "p50 ms",
        "p99 ms",
        "rounds p50",
        "rounds mean",
        "commits/s",
        "aborts"
    );
    for latency_ms in [1, 50] {
        for protocol in [CommitProtocol::TwoPhase, CommitProtocol::Parallel] {
            let config = cell(protocol, latency_ms, seconds);
            let results = run_campaign(&config, seeds);
            print_row(protocol, latency_ms, seconds * seeds, &results, out);
        }
    }
    EXIT_OK
}

fn print_row(
    protocol: CommitProtocol,
    latency_ms: u64,
    active_seconds: u64,
    results: &[RunResult],
    out: &mut dyn Write,
) {
    let distsys_sim::txn::CommitFigures {
        latencies_us: latencies,
        rounds,
        mean_rounds,
    } = distsys_sim::txn::CommitFigures::of(results);
    let commits = latencies.len() as f64;
    let attempts: u64 = results.iter().map(|r| r.stats.attempts).sum();
    let aborts: u64 = results.iter().map(|r| r.stats.aborts).sum();
    let failed = results.iter().filter(|r| r.failed()).count();
    let _ = writeln!(
        out,
        "{:<9} {:>6}ms {:>9.1} {:>9.1} {:>11} {:>11.2} {:>12.0} {:>7.1}%{}",
        protocol.name(),
        latency_ms,
        percentile(&latencies, 0.5).unwrap_or_default() as f64 / 1_000.0,
        percentile(&latencies, 0.99).unwrap_or_default() as f64 / 1_000.0,
        percentile(&rounds, 0.5).unwrap_or_default(),
        mean_rounds,
        commits / active_seconds.max(1) as f64,
        100.0 * aborts as f64 / attempts.max(1) as f64,
        if failed > 0 {
            format!("  ({failed} run(s) failed the checks)")
        } else {
            String::new()
        }
    );
}
