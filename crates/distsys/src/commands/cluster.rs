//! `distsys serve` and `distsys cluster up|down`: one node, or a local cluster of node
//! processes on loopback, each with its own configuration, data directory and log.

use super::fail;
use crate::cli::ClusterAction;
use crate::{EXIT_BAD_INPUT, EXIT_OK};
use distsys_node::{Member, NodeConfig};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `distsys serve --config FILE`.
pub fn serve(path: &str, stderr: &mut dyn Write) -> i32 {
    let config = match NodeConfig::load(Path::new(path)) {
        Ok(c) => c,
        Err(e) => return fail(stderr, &e),
    };
    match distsys_node::run(config) {
        Ok(()) => EXIT_OK,
        Err(e) => fail(stderr, &e),
    }
}

/// The configurations of an `nodes`-node cluster on loopback under `dir`.
pub fn configs(
    nodes: usize,
    dir: &Path,
    base_port: u16,
    password: Option<String>,
) -> Vec<(PathBuf, NodeConfig)> {
    let key: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let addr = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let members: BTreeMap<u64, Member> = (1..=nodes as u16)
        .map(|i| {
            (
                u64::from(i),
                Member {
                    peer: addr(base_port + 100 + i),
                    client: addr(base_port + i),
                },
            )
        })
        .collect();
    (1..=nodes as u16)
        .map(|i| {
            let node_dir = dir.join(format!("n{i}"));
            let config = NodeConfig {
                id: u64::from(i),
                members: members.clone(),
                admin: addr(base_port + 200 + i),
                data_dir: node_dir.join("data"),
                cluster_key: key.clone(),
                password: password.clone(),
                heartbeat_ms: 50,
                election_timeout_ms: (300, 600),
                unsafe_stale_reads: false,
                peer_routes: BTreeMap::new(),
            };
            (node_dir, config)
        })
        .collect()
}

/// Writes a node's configuration into its directory; returns the file.
pub fn write_config(node_dir: &Path, config: &NodeConfig) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(node_dir)?;
    let path = node_dir.join("config.yaml");
    let text = serde_norway::to_string(config).map_err(std::io::Error::other)?;
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Starts `distsys serve` for a configuration file, logging to `node.log` beside it.
pub fn spawn(config_path: &Path) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let dir = config_path.parent().unwrap_or(Path::new("."));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("node.log"))?;
    Command::new(exe)
        .arg("serve")
        .arg("--config")
        .arg(config_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
}

/// The node that reports itself leader with the highest term, by index into `admins` (the
/// nodes' admin addresses), with that term.
pub fn leader(admins: &[std::net::SocketAddr]) -> Option<(usize, u64)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(300)))
        .build()
        .into();
    admins
        .iter()
        .enumerate()
        .filter_map(|(i, admin)| {
            let text = agent
                .get(&format!("http://{admin}/status"))
                .call()
                .ok()?
                .body_mut()
                .read_to_string()
                .ok()?;
            let status: serde_json::Value = serde_json::from_str(&text).ok()?;
            (status["role"] == "leader").then(|| (i, status["term"].as_u64().unwrap_or(0)))
        })
        .max_by_key(|(_, term)| *term)
}

/// Polls until some node leads (its index and how long it took), for at most `within`.
pub fn wait_for_leader(
    admins: &[std::net::SocketAddr],
    within: Duration,
) -> Option<(usize, Duration)> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some((i, _)) = leader(admins) {
            return Some((i, start.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Sends `signal` to a process, ignoring one that is already gone.
pub fn signal(pid: u32, signal: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), signal);
}

/// `distsys cluster up|down`.
pub fn run(action: ClusterAction, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    match action {
        ClusterAction::Up {
            nodes,
            dir,
            base_port,
            password,
        } => {
            if !(1..=9).contains(&nodes) {
                return fail(stderr, &"--nodes must be between 1 and 9");
            }
            if base_port > 65_000 {
                return fail(stderr, &"--base-port must leave room for 300 ports");
            }
            let dir = PathBuf::from(dir);
            if dir.join("n1").join("pid").exists() {
                return fail(
                    stderr,
                    &format!(
                        "{} already has a cluster (run `distsys cluster down --dir {}` first)",
                        dir.display(),
                        dir.display()
                    ),
                );
            }
            for (node_dir, config) in configs(nodes, &dir, base_port, password) {
                let started = write_config(&node_dir, &config).and_then(|path| spawn(&path));
                match started {
                    Ok(child) => {
                        if let Err(e) = std::fs::write(node_dir.join("pid"), child.id().to_string())
                        {
                            return fail(stderr, &e);
                        }
                        let _ = writeln!(
                            stdout,
                            "node {}: pid {}, clients {}, admin http://{}/status, log {}",
                            config.id,
                            child.id(),
                            config.me().client,
                            config.admin,
                            node_dir.join("node.log").display()
                        );
                    }
                    Err(e) => {
                        return fail(stderr, &format!("cannot start node {}: {e}", config.id))
                    }
                }
            }
            let _ = writeln!(
                stdout,
                "try: redis-cli -p {} -c SET greeting hello; redis-cli -p {} -c GET greeting",
                base_port + 1,
                base_port + 1
            );
            EXIT_OK
        }
        ClusterAction::Down { dir } => {
            let dir = PathBuf::from(dir);
            let mut pids = Vec::new();
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let pid_file = entry.path().join("pid");
                if let Some(pid) = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok())
                {
                    signal(pid, Signal::SIGTERM);
                    pids.push((pid, pid_file));
                }
            }
            if pids.is_empty() {
                let _ = writeln!(stderr, "no cluster found in {}", dir.display());
                return EXIT_BAD_INPUT;
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            for (pid, pid_file) in pids {
                while kill(Pid::from_raw(pid as i32), None).is_ok() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if kill(Pid::from_raw(pid as i32), None).is_ok() {
                    signal(pid, Signal::SIGKILL);
                }
                let _ = std::fs::remove_file(pid_file);
                let _ = writeln!(stdout, "stopped pid {pid}");
            }
            EXIT_OK
        }
    }
}
