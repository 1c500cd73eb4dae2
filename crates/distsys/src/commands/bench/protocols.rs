//! `distsys bench protocols`: Raft, Multi-Paxos and PBFT side by side in the simulator, fault-free,
//! with timers derived from the latency: messages per committed operation, commit latency and
//! throughput (virtual).

use crate::EXIT_OK;
use distsys_advisor::timing::Timing;
use distsys_sim::stats::percentile;
use distsys_sim::{registry, FaultSet, SimConfig, Simulation};
use std::io::Write;

/// Runs per configuration.
const SEEDS: u64 = 3;

pub fn run(seconds: u64, stdout: &mut dyn Write) -> i32 {
    let _ = writeln!(
        stdout,
        "protocols in the simulator, no faults, 5 clients, {seconds} s virtual x {SEEDS} seeds per row; timers from the latency (advisor rules)"
    );
    let _ = writeln!(
        stdout,
        "{:<11} {:>5} {:>11} {:>12} {:>14} {:>14} {:>12}",
        "protocol", "nodes", "latency ms", "msgs / op", "commit p50 ms", "commit p99 ms", "ops / s"
    );
    for protocol in registry::all() {
        for latency in [1.0, 50.0] {
            // Each protocol's own sizes (PBFT needs n = 3f+1 replicas).
            for &nodes in protocol.bench_sizes {
                let timing = Timing::from_latency_ms(latency);
                let (mut messages, mut ops, mut latencies) = (0u64, 0u64, Vec::new());
                for seed in 1..=SEEDS {
                    let mut c = SimConfig::new(seed);
                    c.protocol = protocol;
                    c.nodes = nodes;
                    c.faults = FaultSet::default();
                    c.duration_ms = seconds * 1000;
                    c.latency_ms = latency;
                    c.heartbeat_ms = timing.heartbeat_ms;
                    c.election_timeout_ms = (
                        timing.election_timeout_min_ms,
                        timing.election_timeout_max_ms,
                    );
                    let r = Simulation::new(c).run();
                    messages += r.messages;
                    ops += r.ops_ok;
                    latencies.extend(r.write_latencies_us);
                }
                latencies.sort_unstable();
                let pct = |p: f64| percentile(&latencies, p).map_or(0.0, |us| us as f64 / 1000.0);
                let _ = writeln!(
                    stdout,
                    "{:<11} {:>5} {:>11} {:>12.1} {:>14.1} {:>14.1} {:>12.0}",
                    protocol.name(),
                    nodes,
                    latency,
                    messages as f64 / ops.max(1) as f64,
                    pct(0.5),
                    pct(0.99),
                    ops as f64 / (SEEDS * seconds) as f64
                );
            }
        }
    }
    EXIT_OK
}
