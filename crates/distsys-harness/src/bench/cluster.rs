//! This project's 3-node cluster and etcd 3.4's, both on loopback and both fsyncing before
//! they acknowledge, driven by the same load generator (same clients, key space, value size
//! and write ratio). The node is spoken to over the Redis protocol (to the leader), etcd over
//! its v3 JSON gateway (HTTP keep-alive, any member), each client on its own connection,
//! linearizable reads on both. Then redis-benchmark against the node, if it is installed.

use super::etcd;
use super::load::{drive, Measured};
use crate::client::Connections;
use crate::cluster::{layout, wait_for_leader, write_config, NodeProgram, Nodes};
use distsys_node::resp::Reply;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// The workloads, by name and share of writes.
pub const WORKLOADS: [(&str, f64); 2] = [("writes", 1.0), ("50% writes", 0.5)];

/// What to measure.
#[derive(Debug, Clone)]
pub struct ClusterBenchConfig {
    /// The program that runs a node.
    pub program: NodeProgram,
    /// Seconds per measurement.
    pub seconds: u64,
    /// Client counts, each measured under every workload.
    pub client_counts: Vec<usize>,
    /// Value size, bytes.
    pub value_size: usize,
    /// First port of this project's cluster (etcd uses 23791-23803).
    pub base_port: u16,
}

/// One workload at one client count, on both clusters.
#[derive(Debug, Clone)]
pub struct Row {
    /// The workload's name (from [`WORKLOADS`]).
    pub workload: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// This project's cluster.
    pub node: Measured,
    /// etcd's, when it could run.
    pub etcd: Option<Measured>,
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct ClusterBenchReport {
    /// One row per workload and client count, workloads outermost.
    pub rows: Vec<Row>,
    /// Why etcd could not be measured, if it could not.
    pub etcd_error: Option<String>,
    /// redis-benchmark's summary lines against the node's leader, if it is installed.
    pub redis_benchmark: Option<String>,
}

/// Why nothing was measured.
#[derive(Debug, thiserror::Error)]
pub enum ClusterBenchError {
    /// A node could not be configured or started.
    #[error("cannot start a node: {0}")]
    Start(std::io::Error),
    /// The node cluster elected no leader.
    #[error("the node cluster elected no leader within 15 s")]
    NoLeader,
}

/// Runs every measurement: this project's cluster first (stopped and its directory removed
/// afterwards), then redis-benchmark against it, then etcd.
pub fn run(config: &ClusterBenchConfig) -> Result<ClusterBenchReport, ClusterBenchError> {
    let dir = std::env::temp_dir().join(format!("distsys-bench-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let measured = measure_nodes(config, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let (node_rows, redis_benchmark) = measured?;
    let (etcd_rows, etcd_error) = match measure_etcd(config) {
        Ok(rows) => (rows, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let mut etcd_rows = etcd_rows.into_iter();
    let rows = node_rows
        .into_iter()
        .map(|(workload, clients, node)| Row {
            workload,
            clients,
            node,
            etcd: etcd_rows.next(),
        })
        .collect();
    Ok(ClusterBenchReport {
        rows,
        etcd_error,
        redis_benchmark,
    })
}

type NodeRows = (Vec<(&'static str, usize, Measured)>, Option<String>);

fn measure_nodes(
    config: &ClusterBenchConfig,
    dir: &std::path::Path,
) -> Result<NodeRows, ClusterBenchError> {
    let cluster = layout(3, dir, config.base_port, None);
    let paths = cluster
        .iter()
        .map(|(node_dir, c)| write_config(node_dir, c))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(ClusterBenchError::Start)?;
    let _nodes = Nodes::start(config.program.clone(), paths).map_err(ClusterBenchError::Start)?;
    let admins: Vec<SocketAddr> = cluster.iter().map(|(_, c)| c.admin).collect();
    let addrs: Vec<SocketAddr> = cluster.iter().map(|(_, c)| c.me().client).collect();
    let Some((leader, _)) = wait_for_leader(&admins, Duration::from_secs(15)) else {
        return Err(ClusterBenchError::NoLeader);
    };
    let mut rows = Vec::new();
    for (workload, ratio) in WORKLOADS {
        for &clients in &config.client_counts {
            let conns: Vec<Mutex<Connections>> = (0..clients)
                .map(|_| Mutex::new(Connections::new(addrs.clone())))
                .collect();
            let m = drive(
                clients,
                config.seconds,
                ratio,
                config.value_size,
                &|c, next| {
                    let (write, key, value) = next();
                    let Ok(mut conn) = conns[c].lock() else {
                        return false;
                    };
                    let reply = if write {
                        conn.call(leader, &["SET", &key, &value])
                    } else {
                        conn.call(leader, &["GET", &key])
                    };
                    matches!(reply, Ok(Reply::Simple(_)) | Ok(Reply::Bulk(_)))
                },
            );
            rows.push((workload, clients, m));
        }
    }
    Ok((rows, redis_benchmark(addrs[leader])))
}

fn measure_etcd(config: &ClusterBenchConfig) -> Result<Vec<Measured>, String> {
    let _etcd = etcd::start()?;
    let mut out = Vec::new();
    for (_, ratio) in WORKLOADS {
        for &clients in &config.client_counts {
            let agents: Vec<ureq::Agent> = (0..clients)
                .map(|_| {
                    ureq::Agent::config_builder()
                        .timeout_global(Some(Duration::from_secs(5)))
                        .build()
                        .into()
                })
                .collect();
            out.push(drive(
                clients,
                config.seconds,
                ratio,
                config.value_size,
                &|c, next| {
                    let (write, key, value) = next();
                    etcd::request(&agents[c], &etcd::endpoint(1 + c % 3), write, &key, &value)
                },
            ));
        }
    }
    Ok(out)
}

/// redis-benchmark's one-line summaries, with and without pipelining, if it is installed.
fn redis_benchmark(addr: SocketAddr) -> Option<String> {
    let mut out = String::new();
    for pipeline in ["1", "16"] {
        let result = Command::new("redis-benchmark")
            .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
            .args([
                "-t", "set,get", "-n", "20000", "-c", "50", "-P", pipeline, "-q",
            ])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&result.stdout);
        for line in text
            .split(['\r', '\n'])
            .filter(|l| l.contains("requests per second"))
        {
            out.push_str(&format!("  -P {pipeline:<3} {}\n", line.trim()));
        }
    }
    Some(out)
}
