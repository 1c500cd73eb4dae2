//! `cluster up|down`: a local cluster started in the background (its pids in `n<i>/pid`), and
//! stopped from those pid files.

use super::layout::{layout, write_config};
use super::process::{alive, signal, NodeProgram};
use nix::sys::signal::Signal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Most nodes [`up`] starts.
pub const MAX_NODES: usize = 9;
/// Highest base port [`up`] takes (node ports go up to base + 300).
pub const MAX_BASE_PORT: u16 = 65_000;

/// A node [`up`] started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedNode {
    /// Its id.
    pub id: u64,
    /// Its process.
    pub pid: u32,
    /// Its client (RESP) address.
    pub client: SocketAddr,
    /// Its admin (HTTP) address.
    pub admin: SocketAddr,
    /// Its log file.
    pub log: PathBuf,
}

/// Why [`up`] started no cluster, or not all of it.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// `nodes` is not within 1..=[`MAX_NODES`].
    #[error("nodes must be between 1 and {MAX_NODES}")]
    Nodes,
    /// The base port leaves no room for the node ports.
    #[error("the base port must be at most {MAX_BASE_PORT}")]
    BasePort,
    /// The directory already holds a running cluster's pid files.
    #[error("{0} already has a cluster")]
    AlreadyUp(PathBuf),
    /// A pid file could not be written (the node was started).
    #[error(transparent)]
    PidFile(std::io::Error),
    /// A node could not be configured or started.
    #[error("cannot start node {id}: {source}")]
    Start {
        /// The node.
        id: u64,
        /// Why.
        source: std::io::Error,
    },
}

/// Writes the configurations of a `nodes`-node cluster under `dir` (see
/// [`layout`](super::layout::layout)) and starts every node in the background with `program`,
/// its pid in `n<i>/pid`, every node running `protocol`; `on_started` hears of each node as it
/// starts. The nodes outlive this
/// call: [`down`] stops them. On an error the nodes already started keep running.
pub fn up(
    program: &NodeProgram,
    nodes: usize,
    dir: &Path,
    base_port: u16,
    password: Option<String>,
    protocol: distsys_node::ProtocolName,
    on_started: &mut dyn FnMut(&StartedNode),
) -> Result<(), UpError> {
    if !(1..=MAX_NODES).contains(&nodes) {
        return Err(UpError::Nodes);
    }
    if base_port > MAX_BASE_PORT {
        return Err(UpError::BasePort);
    }
    if dir.join("n1").join("pid").exists() {
        return Err(UpError::AlreadyUp(dir.to_path_buf()));
    }
    for (node_dir, mut config) in layout(nodes, dir, base_port, password) {
        config.protocol = protocol.name().into();
        let child = write_config(&node_dir, &config)
            .and_then(|path| program.spawn(&path))
            .map_err(|source| UpError::Start {
                id: config.id,
                source,
            })?;
        std::fs::write(node_dir.join("pid"), child.id().to_string()).map_err(UpError::PidFile)?;
        on_started(&StartedNode {
            id: config.id,
            pid: child.id(),
            client: config.me().client,
            admin: config.admin,
            log: node_dir.join("node.log"),
        });
    }
    Ok(())
}

/// Why [`down`] stopped nothing.
#[derive(Debug, thiserror::Error)]
pub enum DownError {
    /// No pid file under the directory.
    #[error("no cluster found in {0}")]
    NoCluster(PathBuf),
}

/// Stops the nodes [`up`] started under `dir`: SIGTERM to every pid, SIGKILL to those still
/// running after 5 s; the pid files are removed. Returns the pids stopped, in directory order.
pub fn down(dir: &Path) -> Result<Vec<u32>, DownError> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
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
        return Err(DownError::NoCluster(dir.to_path_buf()));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut stopped = Vec::new();
    for (pid, pid_file) in pids {
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(pid) {
            signal(pid, Signal::SIGKILL);
        }
        let _ = std::fs::remove_file(pid_file);
        stopped.push(pid);
    }
    Ok(stopped)
}
