//! `distsys bench cluster`: this project's nodes against etcd 3.4 (3 nodes) and Redis 7
//! (1 node) under one load generator (`distsys_harness::bench::cluster`), printed as tables
//! with a ratio per cell. Figures are printed, never asserted.

use crate::commands::fail;
use crate::EXIT_OK;
use distsys_harness::bench::cluster::{self, ClusterBenchConfig, Section};
use distsys_harness::bench::load::{Measured, BATCH};
use distsys_harness::cluster::NodeProgram;
use std::io::Write;

/// What the command line asked for.
pub struct Shape {
    pub seconds: u64,
    pub clients: Vec<usize>,
    pub values: Vec<usize>,
    pub keys: Vec<u64>,
    pub max_data_bytes: u64,
    pub base_port: u16,
    pub pipelined_writes: bool,
}

fn cell(m: &Measured) -> String {
    format!(
        "{:>7.0} ops/s {:>6.2} {:>7.2}{}",
        m.ops_per_second(),
        m.latency_ms(0.5),
        m.latency_ms(0.99),
        if m.errors > 0 {
            format!(" ({} err)", m.errors)
        } else {
            String::new()
        }
    )
}

/// Ours over theirs: throughput ratio and p99 ratio (below 1 is better for ours).
fn ratios(ours: &Measured, peer: &Measured) -> String {
    let p99 = ours.latency_ms(0.99) / peer.latency_ms(0.99);
    format!(
        "{:>5.2}x  p99 {:>5.2}x {}",
        ours.ops_per_second() / peer.ops_per_second(),
        p99,
        if p99 <= 1.0 {
            "(ours better)"
        } else {
            "(ours worse)"
        }
    )
}

fn seconds(load: &Result<std::time::Duration, String>) -> String {
    match load {
        Ok(d) => format!("{:.1} s", d.as_secs_f64()),
        Err(e) => format!("failed: {e}"),
    }
}

fn section(stdout: &mut dyn Write, title: &str, ours: &str, s: &Section) {
    let _ = writeln!(stdout, "\n{title}");
    if let Some(e) = &s.peer_error {
        let _ = writeln!(stdout, "{}: {e}", s.peer_name);
    }
    for load in &s.loads {
        let _ = writeln!(
            stdout,
            "preload {} keys (batches of {BATCH}): {ours} {}, {} {}",
            load.keys,
            seconds(&load.ours),
            s.peer_name,
            load.peer.as_ref().map_or("-".into(), seconds)
        );
    }
    if s.redirects > 0 {
        let _ = writeln!(
            stdout,
            "{ours}'s leader changed under load: its clients followed {} MOVED redirections",
            s.redirects
        );
    }
    if let Some(e) = &s.first_error {
        let _ = writeln!(stdout, "{ours}'s clients saw errors; the first: {e}");
    }
    for skipped in &s.skipped {
        let _ = writeln!(stdout, "skipped: {skipped}");
    }
    let _ = writeln!(
        stdout,
        "{:>8} {:>6} {:<10} {:>4} | {:<34} | {:<34} | ratio ours/{}",
        "keys", "value", "workload", "cli", ours, s.peer_name, s.peer_name
    );
    let _ = writeln!(
        stdout,
        "{:>8} {:>6} {:<10} {:>4} | {:<34} | {:<34} |",
        "", "bytes", "", "", "        ops/s  p50 ms  p99 ms", "        ops/s  p50 ms  p99 ms"
    );
    for c in &s.cells {
        let peer = c.peer.as_ref().map_or("-".into(), cell);
        let ratio = c
            .peer
            .as_ref()
            .map_or(String::new(), |p| ratios(&c.ours, p));
        let _ = writeln!(
            stdout,
            "{:>8} {:>6} {:<10} {:>4} | {:<34} | {:<34} | {ratio}",
            c.keys,
            c.value_size,
            c.workload,
            c.clients,
            cell(&c.ours),
            peer
        );
    }
    for b in &s.benchmarks {
        let rate = |r: &Result<f64, String>| match r {
            Ok(x) => format!("{x:.0} SET/s"),
            Err(e) => e.clone(),
        };
        let ratio = match (&b.ours, &b.peer) {
            (Ok(o), Ok(p)) => format!("{:.2}x", o / p),
            _ => "-".into(),
        };
        let _ = writeln!(
            stdout,
            "redis-benchmark SET -c 50 -P {:<2}: {ours} {}, {} {}, ratio {ratio}",
            b.pipeline,
            rate(&b.ours),
            s.peer_name,
            rate(&b.peer)
        );
    }
}

pub fn run(shape: Shape, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let program = match NodeProgram::current() {
        Ok(p) => p,
        Err(e) => return fail(stderr, &format!("cannot start a node: {e}")),
    };
    let config = ClusterBenchConfig {
        program,
        seconds: shape.seconds,
        client_counts: shape.clients,
        value_sizes: shape.values,
        key_counts: shape.keys,
        max_data_bytes: shape.max_data_bytes,
        base_port: shape.base_port,
        pipelined_writes: shape.pipelined_writes,
    };
    let report = match cluster::run(&config) {
        Ok(report) => report,
        Err(e) => return fail(stderr, &e.to_string()),
    };
    let _ = writeln!(
        stdout,
        "loopback, every system fsyncing before it acknowledges; {} s per cell, cells alternating between the systems; latencies in ms",
        config.seconds
    );
    section(
        stdout,
        "3 nodes, both driven at their leaders (distsys over RESP, etcd over its v3 JSON gateway; one blocking connection per client):",
        "distsys",
        &report.three_nodes,
    );
    section(
        stdout,
        "1 node, both over RESP with the same client:",
        "distsys",
        &report.one_node,
    );
    EXIT_OK
}
