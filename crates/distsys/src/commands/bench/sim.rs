//! `distsys bench sim`: simulator throughput by cluster size.

use super::peak_rss_mib;
use crate::EXIT_OK;
use distsys_sim::{FaultSet, SimConfig, Simulation};
use std::io::Write;
use std::time::Instant;

pub fn run(seconds: u64, max_nodes: usize, stdout: &mut dyn Write) -> i32 {
    let _ = writeln!(
        stdout,
        "simulator throughput, one run per size on one core, {seconds} s simulated, 5 clients"
    );
    let _ = writeln!(
        stdout,
        "{:>6} {:>8} {:>11} {:>10} {:>14} {:>16} {:>10}",
        "nodes", "faults", "events", "wall s", "events/s", "wall s / sim s", "verdict"
    );
    for nodes in [3usize, 5, 7, 51, 1000]
        .into_iter()
        .filter(|n| *n <= max_nodes)
    {
        for faults in [FaultSet::default(), FaultSet::all()] {
            let mut config = SimConfig::new(1);
            config.nodes = nodes;
            config.duration_ms = seconds * 1000;
            let label = if faults.0.is_empty() { "none" } else { "all" };
            config.faults = faults;
            let start = Instant::now();
            let report = Simulation::new(config).run();
            let wall = start.elapsed().as_secs_f64();
            let _ = writeln!(
                stdout,
                "{:>6} {:>8} {:>11} {:>10.2} {:>14.0} {:>16.3} {:>10}",
                nodes,
                label,
                report.events,
                wall,
                report.events as f64 / wall.max(1e-9),
                wall / seconds as f64,
                report.violation.map_or("ok".to_string(), |v| v.property)
            );
        }
    }
    let _ = writeln!(
        stdout,
        "peak RSS: {}",
        peak_rss_mib().map_or("unknown".into(), |m| format!("{m:.1} MiB"))
    );
    EXIT_OK
}
