//! This project's node against its peers, side by side in one run, under one load generator
//! (same clients, key space, value size and write ratio), every system fsyncing before it
//! acknowledges:
//! - 3 nodes against etcd 3.4's 3 members, both clusters up for the whole section and driven
//!   at their leaders, the node over the Redis protocol and etcd over its v3 JSON gateway, one
//!   blocking connection per client on both, linearizable reads on both;
//! - 1 node against Redis with `appendfsync always`, both over the Redis protocol with the
//!   same client, then `redis-benchmark` SET without and with pipelining against each.
//!
//! Each key count is preloaded first (batches of [`super::load::BATCH`] keys: an MSET on the node and on
//! Redis, a transaction of puts on etcd), so reads find their keys and the store holds what
//! the row says. Cells alternate between the systems (node, peer, node, peer...), so a
//! machine that slows down mid-run slows both.

use super::etcd;
use super::load::{drive, key, preload, Measured, Workload};
use super::redis;
use crate::client::Connections;
use crate::cluster::{layout, wait_for_leader, write_config, NodeProgram, Nodes};
use distsys_node::resp::Reply;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

/// The workloads, by name and share of writes.
pub const WORKLOADS: [(&str, f64); 2] = [("writes", 1.0), ("50% writes", 0.5)];

/// Clients that preload a key space.
const LOADERS: usize = 8;

/// Requests per `redis-benchmark` run.
const BENCHMARK_REQUESTS: u64 = 20_000;

/// What to measure.
#[derive(Debug, Clone)]
pub struct ClusterBenchConfig {
    /// The program that runs a node.
    pub program: NodeProgram,
    /// Seconds per measurement.
    pub seconds: u64,
    /// Client counts, each measured under every workload.
    pub client_counts: Vec<usize>,
    /// Value sizes, bytes.
    pub value_sizes: Vec<usize>,
    /// Key counts (each preloaded before its cells).
    pub key_counts: Vec<u64>,
    /// Combinations of keys and value size holding more than this many bytes are skipped.
    pub max_data_bytes: u64,
    /// First port of this project's nodes (and Redis, at `base_port + 400`); etcd uses
    /// 23791-23803.
    pub base_port: u16,
    /// The nodes' `pipelined_writes` (the storage thread; the default) or not.
    pub pipelined_writes: bool,
}

/// One workload at one key count, value size and client count, on both systems.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Keys in the store (preloaded) and drawn from.
    pub keys: u64,
    /// Bytes per written value.
    pub value_size: usize,
    /// The workload's name (from [`WORKLOADS`]).
    pub workload: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// This project's node(s).
    pub ours: Measured,
    /// The peer, when it could run.
    pub peer: Option<Measured>,
}

/// How long preloading a key count took on each system (or why it failed).
#[derive(Debug, Clone)]
pub struct Load {
    /// The key count reached.
    pub keys: u64,
    /// This project's node(s).
    pub ours: Result<Duration, String>,
    /// The peer, when it could run.
    pub peer: Option<Result<Duration, String>>,
}

/// `redis-benchmark` SET at one pipeline depth against both systems.
#[derive(Debug, Clone)]
pub struct Benchmark {
    /// Commands per round trip (`-P`).
    pub pipeline: usize,
    /// SETs per second against this project's node, or why it could not run.
    pub ours: Result<f64, String>,
    /// Against the peer.
    pub peer: Result<f64, String>,
}

/// One section: this project's system and one peer.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// The peer's name.
    pub peer_name: String,
    /// Why the peer could not be measured, if it could not.
    pub peer_error: Option<String>,
    /// Preload times, per key count.
    pub loads: Vec<Load>,
    /// The cells, in the order run.
    pub cells: Vec<Cell>,
    /// Combinations left out, and why.
    pub skipped: Vec<String>,
    /// `redis-benchmark` runs (the single-node section only).
    pub benchmarks: Vec<Benchmark>,
    /// Redirections to a new leader this project's clients followed (each a leader change
    /// seen by one client).
    pub redirects: u64,
    /// The first failure this project's clients saw, if any (what the error counts are).
    pub first_error: Option<String>,
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct ClusterBenchReport {
    /// 3 nodes against etcd.
    pub three_nodes: Section,
    /// 1 node against Redis.
    pub one_node: Section,
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

/// A system under load: one batch of puts, or one operation, as client `c`.
trait Target: Sync {
    /// Writes keys `lo..hi` with `value` in one request; true if acknowledged.
    fn put_batch(&self, c: usize, lo: u64, hi: u64, value: &str) -> bool;
    /// One write of `value` to `key` (or a read of `key`); true if answered.
    fn op(&self, c: usize, write: bool, key: &str, value: &str) -> bool;
}

/// Servers spoken to over the Redis protocol (this project's nodes, or Redis), one client per
/// thread, each with the node it talks to and its connections. A client follows `MOVED
/// host:port` to the new leader, as a cluster-aware Redis client does, and the redirections
/// are counted.
struct Resp {
    clients: Vec<Mutex<(usize, Connections)>>,
    redirects: std::sync::atomic::AtomicU64,
    /// The first failure seen (an I/O error or an error reply), to say what the errors were.
    first_error: Mutex<Option<String>>,
}

impl Resp {
    /// `clients` clients of the servers at `addrs`, each starting at `addrs[first]`.
    fn new(addrs: &[SocketAddr], first: usize, clients: usize) -> Resp {
        Resp {
            clients: (0..clients)
                .map(|_| Mutex::new((first, Connections::new(addrs.to_vec()))))
                .collect(),
            redirects: std::sync::atomic::AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }

    fn note_error(&self, error: String) {
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(error);
        }
    }

    fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok()?.clone()
    }

    /// One command as client `c`, following up to 3 redirections.
    fn call(&self, c: usize, args: &[&[u8]]) -> Option<Reply> {
        let mut client = self.clients.get(c)?.lock().ok()?;
        for _ in 0..3 {
            let node = client.0;
            let reply = match client.1.call(node, args) {
                Ok(reply) => reply,
                Err(e) => {
                    self.note_error(format!("{e}"));
                    return None;
                }
            };
            let moved = match &reply {
                Reply::Error(e) if e.starts_with("MOVED ") => client.1.moved_to(e),
                _ => None,
            };
            let Some(node) = moved else {
                if let Reply::Error(e) = &reply {
                    self.note_error(format!("-{e}"));
                    if e.starts_with("TRYAGAIN") {
                        // No leader yet: wait a little before the next try, as a client does,
                        // rather than spin (the error still counts).
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                return Some(reply);
            };
            self.redirects
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            client.0 = node;
        }
        None
    }

    fn redirects(&self) -> u64 {
        self.redirects.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Target for Resp {
    fn put_batch(&self, c: usize, lo: u64, hi: u64, value: &str) -> bool {
        let keys: Vec<String> = (lo..hi).map(key).collect();
        let mut args: Vec<&[u8]> = vec![b"MSET"];
        for k in &keys {
            args.push(k.as_bytes());
            args.push(value.as_bytes());
        }
        matches!(self.call(c, &args), Some(Reply::Simple(_)))
    }

    fn op(&self, c: usize, write: bool, key: &str, value: &str) -> bool {
        let reply = if write {
            self.call(c, &[b"SET", key.as_bytes(), value.as_bytes()])
        } else {
            self.call(c, &[b"GET", key.as_bytes()])
        };
        matches!(reply, Some(Reply::Simple(_)) | Some(Reply::Bulk(_)))
    }
}

/// etcd's leader through its JSON gateway, one HTTP keep-alive agent per client.
struct Etcd {
    endpoint: String,
    agents: Vec<ureq::Agent>,
}

impl Etcd {
    fn new(endpoint: String, clients: usize) -> Etcd {
        Etcd {
            endpoint,
            agents: (0..clients).map(|_| agent()).collect(),
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

impl Target for Etcd {
    fn put_batch(&self, c: usize, lo: u64, hi: u64, value: &str) -> bool {
        self.agents
            .get(c)
            .is_some_and(|a| etcd::put_batch(a, &self.endpoint, lo, hi, value))
    }

    fn op(&self, c: usize, write: bool, key: &str, value: &str) -> bool {
        self.agents
            .get(c)
            .is_some_and(|a| etcd::request(a, &self.endpoint, write, key, value))
    }
}

/// Runs both sections: 3 nodes against etcd, then 1 node against Redis.
pub fn run(config: &ClusterBenchConfig) -> Result<ClusterBenchReport, ClusterBenchError> {
    let dir = std::env::temp_dir().join(format!("distsys-bench-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let three = three_nodes(config, &dir.join("three"));
    let one = three.and_then(|three| Ok((three, one_node(config, &dir.join("one"))?)));
    let _ = std::fs::remove_dir_all(&dir);
    let (three_nodes, one_node) = one?;
    Ok(ClusterBenchReport {
        three_nodes,
        one_node,
    })
}

/// Starts `nodes` nodes under `dir` from `base_port` and waits for a leader: the running
/// nodes (stopped on drop), their client addresses and the leader's index among them.
fn start_nodes(
    config: &ClusterBenchConfig,
    dir: &std::path::Path,
    nodes: usize,
    base_port: u16,
) -> Result<(Nodes, Vec<SocketAddr>, usize), ClusterBenchError> {
    let mut cluster = layout(nodes, dir, base_port, None);
    for (_, node) in &mut cluster {
        node.pipelined_writes = config.pipelined_writes;
    }
    let paths = cluster
        .iter()
        .map(|(node_dir, c)| write_config(node_dir, c))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(ClusterBenchError::Start)?;
    let running = Nodes::start(config.program.clone(), paths).map_err(ClusterBenchError::Start)?;
    let admins: Vec<SocketAddr> = cluster.iter().map(|(_, c)| c.admin).collect();
    let Some((leader, _)) = wait_for_leader(&admins, Duration::from_secs(15)) else {
        return Err(ClusterBenchError::NoLeader);
    };
    let clients = cluster.iter().map(|(_, c)| c.me().client).collect();
    Ok((running, clients, leader))
}

fn clients_needed(config: &ClusterBenchConfig) -> usize {
    config
        .client_counts
        .iter()
        .copied()
        .max()
        .unwrap_or(1)
        .max(LOADERS)
}

fn three_nodes(
    config: &ClusterBenchConfig,
    dir: &std::path::Path,
) -> Result<Section, ClusterBenchError> {
    let (_nodes, addrs, leader) = start_nodes(config, dir, 3, config.base_port)?;
    let ours = Resp::new(&addrs, leader, clients_needed(config));
    let started = etcd::start().and_then(|cluster| {
        let member = etcd::wait_for_leader(&agent(), Duration::from_secs(20))
            .ok_or("etcd elected no leader within 20 s")?;
        Ok((cluster, member))
    });
    let (peer, peer_error, _etcd) = match started {
        Ok((cluster, member)) => (
            Some(Etcd::new(etcd::endpoint(member), clients_needed(config))),
            None,
            Some(cluster),
        ),
        Err(e) => (None, Some(e), None),
    };
    let mut section = measure(config, &ours, peer.as_ref().map(|p| p as &dyn Target));
    section.redirects = ours.redirects();
    section.first_error = ours.first_error();
    section.peer_name = "etcd 3.4".into();
    section.peer_error = peer_error;
    Ok(section)
}

fn one_node(
    config: &ClusterBenchConfig,
    dir: &std::path::Path,
) -> Result<Section, ClusterBenchError> {
    let (_node, addrs, leader) = start_nodes(config, dir, 1, config.base_port.saturating_add(300))?;
    let ours = Resp::new(&addrs, leader, clients_needed(config));
    let (peer, peer_error) = match redis::start(config.base_port.saturating_add(400)) {
        Ok(server) => (Some(server), None),
        Err(e) => (None, Some(e)),
    };
    let peer_target = peer
        .as_ref()
        .map(|server| Resp::new(&[server.addr], 0, clients_needed(config)));
    let mut section = measure(
        config,
        &ours,
        peer_target.as_ref().map(|p| p as &dyn Target),
    );
    section.redirects = ours.redirects();
    section.first_error = ours.first_error();
    section.peer_name = "Redis 7 (appendfsync always)".into();
    section.peer_error = peer_error;
    let value_size = config.value_sizes.first().copied().unwrap_or(100);
    for pipeline in [1, 16] {
        let run = |addr| redis::benchmark(addr, BENCHMARK_REQUESTS, value_size, pipeline);
        section.benchmarks.push(Benchmark {
            pipeline,
            ours: run(addrs[leader]),
            peer: peer
                .as_ref()
                .map_or_else(|| Err("not running".into()), |server| run(server.addr)),
        });
    }
    Ok(section)
}

/// One key count of the plan: the value sizes measured at it, and the ones left out (why).
#[derive(Debug, Clone, PartialEq)]
struct Step {
    keys: u64,
    sizes: Vec<usize>,
    skipped: Vec<String>,
}

/// The key counts in ascending order (each preload extends the previous one), each with the
/// value sizes whose data fits under the cap.
fn plan(config: &ClusterBenchConfig) -> Vec<Step> {
    let mut key_counts = config.key_counts.clone();
    key_counts.sort_unstable();
    key_counts.dedup();
    key_counts
        .into_iter()
        .map(|keys| {
            let bytes = |size: usize| keys.saturating_mul(size as u64);
            let (sizes, over): (Vec<usize>, Vec<usize>) = config
                .value_sizes
                .iter()
                .partition(|&&size| bytes(size) <= config.max_data_bytes);
            let skipped = over
                .into_iter()
                .map(|size| {
                    format!(
                        "{keys} keys x {size} B: {} MiB of data, over --max-data-mb",
                        bytes(size) >> 20
                    )
                })
                .collect();
            Step {
                keys,
                sizes,
                skipped,
            }
        })
        .collect()
}

/// Every key count (preloaded on both first), value size, workload and client count, the
/// systems alternating cell by cell.
fn measure(config: &ClusterBenchConfig, ours: &dyn Target, peer: Option<&dyn Target>) -> Section {
    let mut section = Section::default();
    let mut loaded = 0;
    for step in plan(config) {
        section.skipped.extend(step.skipped);
        let (keys, sizes) = (step.keys, step.sizes);
        let Some(&first) = sizes.first() else {
            continue;
        };
        let value = "x".repeat(first);
        let load = |target: &dyn Target| {
            preload(LOADERS, loaded, keys, &|c, lo, hi| {
                target.put_batch(c, lo, hi, &value)
            })
        };
        section.loads.push(Load {
            keys,
            ours: load(ours),
            peer: peer.map(load),
        });
        loaded = keys;
        for value_size in sizes {
            for (workload, write_ratio) in WORKLOADS {
                let shape = Workload {
                    write_ratio,
                    keys,
                    value_size,
                };
                for &clients in &config.client_counts {
                    let run = |target: &dyn Target| {
                        drive(clients, config.seconds, shape, &|c, next| {
                            let (write, key, value) = next();
                            target.op(c, write, &key, &value)
                        })
                    };
                    let ours = run(ours);
                    let peer = peer.map(run);
                    section.cells.push(Cell {
                        keys,
                        value_size,
                        workload,
                        clients,
                        ours,
                        peer,
                    });
                }
            }
        }
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn config(keys: Vec<u64>, values: Vec<usize>, max_data_bytes: u64) -> ClusterBenchConfig {
        ClusterBenchConfig {
            program: NodeProgram::new("distsys".into()),
            seconds: 1,
            client_counts: vec![1],
            value_sizes: values,
            key_counts: keys,
            max_data_bytes,
            base_port: 19000,
            pipelined_writes: true,
        }
    }

    #[test]
    fn the_plan_orders_key_counts_and_leaves_out_what_holds_too_much_data() {
        let plan = plan(&config(
            vec![1_000_000, 1000, 1000],
            vec![100, 4096],
            1 << 30,
        ));
        assert_eq!(
            plan.iter()
                .map(|s| (s.keys, s.sizes.clone()))
                .collect::<Vec<_>>(),
            vec![(1000, vec![100, 4096]), (1_000_000, vec![100])]
        );
        assert!(plan[0].skipped.is_empty());
        assert_eq!(plan[1].skipped.len(), 1);
        assert!(plan[1].skipped[0].starts_with("1000000 keys x 4096 B: 3906 MiB"));
        // A key count with no size that fits has no step to measure.
        let plan = super::plan(&config(vec![10], vec![100], 999));
        assert!(plan[0].sizes.is_empty());
    }

    /// A server that answers every command on every connection with `answer`.
    fn server(answer: String) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let answer = answer.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while stream.read(&mut buf).is_ok_and(|n| n > 0) {
                        if stream.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn a_client_follows_moved_to_the_new_leader_and_says_what_failed() {
        let leader = server("+OK\r\n".into());
        let follower = server(format!("-MOVED 0 {leader}\r\n"));
        let resp = Resp::new(&[follower, leader], 0, 2);
        assert!(resp.op(0, true, "k", "v"));
        assert!(resp.op(0, true, "k", "v"));
        assert_eq!(
            resp.redirects(),
            1,
            "the second call goes to the leader directly"
        );
        assert!(resp.first_error().is_none());
        // A cycle of redirections gives up, and an error reply is remembered.
        let lost = server("-ERR busy\r\n".into());
        let resp = Resp::new(&[lost], 0, 1);
        assert!(!resp.put_batch(0, 0, 3, "v"));
        assert_eq!(resp.first_error().as_deref(), Some("-ERR busy"));
    }
}
