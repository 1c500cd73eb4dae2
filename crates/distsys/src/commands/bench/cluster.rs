//! `distsys bench cluster`: this project's 3-node cluster against etcd 3.4's under one load
//! generator (`distsys_harness::bench::cluster`), printed as one table.

use crate::commands::fail;
use crate::EXIT_OK;
use distsys_harness::bench::cluster::{self, ClusterBenchConfig};
use distsys_harness::bench::load::{Measured, KEYS};
use distsys_harness::cluster::NodeProgram;
use std::io::Write;

fn cell(m: &Measured) -> String {
    format!(
        "{:>8.0} ops/s  p50 {:>6.2} ms  p99 {:>7.2} ms{}",
        m.ops_per_second(),
        m.latency_ms(0.5),
        m.latency_ms(0.99),
        if m.errors > 0 {
            format!("  ({} errors)", m.errors)
        } else {
            String::new()
        }
    )
}

pub fn run(
    seconds: u64,
    client_counts: &[usize],
    value_size: usize,
    base_port: u16,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let program = match NodeProgram::current() {
        Ok(p) => p,
        Err(e) => return fail(stderr, &format!("cannot start a node: {e}")),
    };
    let config = ClusterBenchConfig {
        program,
        seconds,
        client_counts: client_counts.to_vec(),
        value_size,
        base_port,
    };
    let report = match cluster::run(&config) {
        Ok(report) => report,
        Err(e) => return fail(stderr, &e),
    };
    let _ = writeln!(
        stdout,
        "3-node clusters on loopback, both fsyncing; {seconds} s per cell, {value_size}-byte values, {KEYS} keys"
    );
    if let Some(e) = &report.etcd_error {
        let _ = writeln!(stdout, "etcd: {e}");
    }
    let _ = writeln!(
        stdout,
        "{:<23} {:<52} etcd 3.4 (v3 JSON gateway, any member)",
        "workload", "distsys (RESP, to the leader)"
    );
    for row in &report.rows {
        let label = format!("{:<11} {:>3} clients", row.workload, row.clients);
        let etcd = row.etcd.as_ref().map_or("-".to_string(), cell);
        let _ = writeln!(stdout, "{label:<23} {:<52} {etcd}", cell(&row.node));
    }
    if let Some(text) = &report.redis_benchmark {
        let _ = writeln!(
            stdout,
            "\nredis-benchmark against the node's leader (SET/GET, -c 50, 20000 requests):\n{text}"
        );
    }
    EXIT_OK
}
