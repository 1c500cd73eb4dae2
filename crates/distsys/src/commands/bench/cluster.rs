//! `distsys bench cluster`: this project's 3-node cluster and etcd 3.4's, both on loopback and
//! both fsyncing before they acknowledge, driven by the same Rust load generator (same clients,
//! key space, value size and write ratio). The node is spoken to over the Redis protocol, etcd
//! over its v3 JSON gateway (HTTP keep-alive), each client on its own connection, linearizable
//! reads on both. Then redis-benchmark against the node, if it is installed.

use crate::commands::cluster::{configs, spawn, wait_for_leader, write_config};
use crate::commands::fail;
use crate::commands::resp_client::{Answer, Connections};
use crate::EXIT_OK;
use distsys_sim::stats::percentile;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Keys in the workload.
const KEYS: u64 = 1000;

/// The next operation of a client: (is a write, key, value).
type NextOp<'a> = &'a mut dyn FnMut() -> (bool, String, String);
/// Runs one operation for client `c`; true if it succeeded.
type RunOp<'a> = &'a (dyn Fn(usize, NextOp<'_>) -> bool + Sync);

/// One measurement: operations done and their latencies (µs, sorted).
struct Measured {
    ops: u64,
    errors: u64,
    latencies: Vec<u64>,
    seconds: f64,
}

fn drive(
    clients: usize,
    seconds: u64,
    write_ratio: f64,
    value_size: usize,
    op: RunOp<'_>,
) -> Measured {
    let end = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let results: Vec<(u64, u64, Vec<u64>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                scope.spawn(move || {
                    let mut rng = ChaCha8Rng::seed_from_u64(c as u64 + 1);
                    let value = "x".repeat(value_size);
                    let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
                    let mut next = || {
                        let write = rng.random_bool(write_ratio);
                        (
                            write,
                            format!("key{}", rng.random_range(0..KEYS)),
                            value.clone(),
                        )
                    };
                    while Instant::now() < end {
                        let t = Instant::now();
                        if op(c, &mut next) {
                            ok += 1;
                            lat.push(t.elapsed().as_micros() as u64);
                        } else {
                            errors += 1;
                        }
                    }
                    (ok, errors, lat)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut m = Measured {
        ops: 0,
        errors: 0,
        latencies: Vec::new(),
        seconds: start.elapsed().as_secs_f64(),
    };
    for (ok, errors, lat) in results {
        m.ops += ok;
        m.errors += errors;
        m.latencies.extend(lat);
    }
    m.latencies.sort_unstable();
    m
}

fn cell(m: &Measured) -> String {
    let p = |q: f64| percentile(&m.latencies, q).map_or(0.0, |us| us as f64 / 1000.0);
    format!(
        "{:>8.0} ops/s  p50 {:>6.2} ms  p99 {:>7.2} ms{}",
        m.ops as f64 / m.seconds,
        p(0.5),
        p(0.99),
        if m.errors > 0 {
            format!("  ({} errors)", m.errors)
        } else {
            String::new()
        }
    )
}

fn wait_http(url: &str, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if ureq::get(url).call().is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

struct Etcd {
    children: Vec<Child>,
    dir: std::path::PathBuf,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_etcd() -> Result<Etcd, String> {
    let dir = std::env::temp_dir().join(format!("distsys-bench-etcd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let cluster = "n1=http://127.0.0.1:23801,n2=http://127.0.0.1:23802,n3=http://127.0.0.1:23803";
    let mut etcd = Etcd {
        children: Vec::new(),
        dir: dir.clone(),
    };
    for i in 1..=3 {
        let log =
            std::fs::File::create(dir.join(format!("n{i}.log"))).map_err(|e| e.to_string())?;
        let child = Command::new("etcd")
            .args(["--name", &format!("n{i}")])
            .args([
                "--data-dir",
                &dir.join(format!("n{i}.etcd")).display().to_string(),
            ])
            .args(["--listen-client-urls", &format!("http://127.0.0.1:2379{i}")])
            .args([
                "--advertise-client-urls",
                &format!("http://127.0.0.1:2379{i}"),
            ])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:2380{i}")])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:2380{i}"),
            ])
            .args([
                "--initial-cluster",
                cluster,
                "--initial-cluster-token",
                "distsys-bench",
            ])
            .args(["--initial-cluster-state", "new"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run etcd ({e}); install it with scripts/setup.sh etcd"))?;
        etcd.children.push(child);
    }
    for i in 1..=3 {
        if !wait_http(
            &format!("http://127.0.0.1:2379{i}/health"),
            Duration::from_secs(20),
        ) {
            return Err("etcd did not become healthy within 20 s".into());
        }
    }
    Ok(etcd)
}

pub fn run(
    seconds: u64,
    client_counts: &[usize],
    value_size: usize,
    base_port: u16,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let dir = std::env::temp_dir().join(format!("distsys-bench-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cluster = configs(3, &dir, base_port, None);
    let mut children = Vec::new();
    for (node_dir, config) in &cluster {
        match write_config(node_dir, config).and_then(|p| spawn(&p)) {
            Ok(c) => children.push(c),
            Err(e) => return fail(stderr, &format!("cannot start a node: {e}")),
        }
    }
    let admins: Vec<SocketAddr> = cluster.iter().map(|(_, c)| c.admin).collect();
    let addrs: Vec<SocketAddr> = cluster.iter().map(|(_, c)| c.me().client).collect();
    let Some((leader, _)) = wait_for_leader(&admins, Duration::from_secs(15)) else {
        return fail(stderr, &"the node cluster elected no leader within 15 s");
    };
    let _ = writeln!(
        stdout,
        "3-node clusters on loopback, both fsyncing; {seconds} s per cell, {value_size}-byte values, {KEYS} keys"
    );
    let mut rows: Vec<(String, String)> = Vec::new();
    for (label, ratio) in [("writes", 1.0), ("50% writes", 0.5)] {
        for &clients in client_counts {
            let conns: Vec<std::sync::Mutex<Connections>> = (0..clients)
                .map(|_| std::sync::Mutex::new(Connections::new(addrs.clone())))
                .collect();
            let m = drive(clients, seconds, ratio, value_size, &|c, next| {
                let (write, key, value) = next();
                let Ok(mut conn) = conns[c].lock() else {
                    return false;
                };
                let answer = if write {
                    conn.call(leader, &["SET", &key, &value])
                } else {
                    conn.call(leader, &["GET", &key])
                };
                matches!(answer, Ok(Answer::Simple(_)) | Ok(Answer::Bulk(_)))
            });
            rows.push((format!("{label:<11} {clients:>3} clients"), cell(&m)));
        }
    }
    let redis = redis_benchmark(addrs[leader]);
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let etcd_rows: Vec<String> = match start_etcd() {
        Ok(_etcd) => {
            let mut out = Vec::new();
            for (_, ratio) in [("writes", 1.0), ("50% writes", 0.5)] {
                for &clients in client_counts {
                    let agents: Vec<ureq::Agent> = (0..clients)
                        .map(|_| {
                            ureq::Agent::config_builder()
                                .timeout_global(Some(Duration::from_secs(5)))
                                .build()
                                .into()
                        })
                        .collect();
                    let m = drive(clients, seconds, ratio, value_size, &|c, next| {
                        let (write, key, value) = next();
                        let endpoint = format!("http://127.0.0.1:2379{}", 1 + c % 3);
                        let result = if write {
                            agents[c]
                                .post(&format!("{endpoint}/v3/kv/put"))
                                .send(format!(
                                    "{{\"key\":\"{}\",\"value\":\"{}\"}}",
                                    b64(&key),
                                    b64(&value)
                                ))
                        } else {
                            agents[c]
                                .post(&format!("{endpoint}/v3/kv/range"))
                                .send(format!("{{\"key\":\"{}\"}}", b64(&key)))
                        };
                        result.is_ok_and(|mut r| r.body_mut().read_to_string().is_ok())
                    });
                    out.push(cell(&m));
                }
            }
            out
        }
        Err(e) => {
            let _ = writeln!(stdout, "etcd: {e}");
            Vec::new()
        }
    };
    let _ = writeln!(
        stdout,
        "{:<23} {:<52} etcd 3.4 (v3 JSON gateway, any member)",
        "workload", "distsys (RESP, to the leader)"
    );
    for (i, (label, node)) in rows.iter().enumerate() {
        let _ = writeln!(
            stdout,
            "{label:<23} {node:<52} {}",
            etcd_rows.get(i).map_or("-", String::as_str)
        );
    }
    if let Some(text) = redis {
        let _ = writeln!(
            stdout,
            "\nredis-benchmark against the node's leader (SET/GET, -c 50, 20000 requests):\n{text}"
        );
    }
    EXIT_OK
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
