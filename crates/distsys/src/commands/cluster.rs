//! `distsys serve` and `distsys cluster up|down`: one node in this process, or a local
//! cluster of node processes on loopback (`distsys_harness::cluster`).

use super::fail;
use crate::cli::ClusterAction;
use crate::{EXIT_BAD_INPUT, EXIT_OK};
use distsys_harness::cluster::{self, DownError, NodeProgram, StartedNode, UpError};
use distsys_node::{NodeConfig, ProtocolName};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The exit code of `serve` when the node's storage failed while running (a full disk, an I/O
/// error): 70, as sysexits' EX_SOFTWARE; the message on stderr says what failed.
pub const EXIT_STORAGE_FAILED: i32 = 70;

/// `distsys serve --config FILE [--protocol P] [--mutant NAME]`: the flags override the
/// file's `protocol` and `mutant`.
pub fn serve(
    path: &str,
    protocol: Option<ProtocolName>,
    mutant: Option<String>,
    stderr: &mut dyn Write,
) -> i32 {
    let mut config = match NodeConfig::load(Path::new(path)) {
        Ok(c) => c,
        Err(e) => return fail(stderr, &e),
    };
    if let Some(protocol) = protocol {
        config.protocol = protocol.name().into();
    }
    if mutant.is_some() {
        config.mutant = mutant;
    }
    match distsys_node::run(config) {
        Ok(()) => EXIT_OK,
        Err(e @ distsys_node::NodeError::StorageFailed(_)) => {
            let _ = writeln!(stderr, "error: {e}");
            EXIT_STORAGE_FAILED
        }
        Err(e) => fail(stderr, &e),
    }
}

/// `distsys cluster up|down`.
pub fn run(action: ClusterAction, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    match action {
        ClusterAction::Up {
            nodes,
            dir,
            base_port,
            password,
            protocol,
        } => up(
            nodes,
            &PathBuf::from(dir),
            base_port,
            protocol,
            password,
            stdout,
            stderr,
        ),
        ClusterAction::Down { dir } => match cluster::down(Path::new(&dir)) {
            Ok(pids) => {
                for pid in pids {
                    let _ = writeln!(stdout, "stopped pid {pid}");
                }
                EXIT_OK
            }
            Err(e @ DownError::NoCluster(_)) => {
                let _ = writeln!(stderr, "{e}");
                EXIT_BAD_INPUT
            }
        },
    }
}

fn up(
    nodes: usize,
    dir: &Path,
    base_port: u16,
    protocol: ProtocolName,
    password: Option<String>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let program = match NodeProgram::current() {
        Ok(p) => p,
        Err(e) => return fail(stderr, &format!("cannot start node 1: {e}")),
    };
    let mut print = |node: &StartedNode| {
        let _ = writeln!(
            stdout,
            "node {}: pid {}, clients {}, admin http://{}/status, log {}",
            node.id,
            node.pid,
            node.client,
            node.admin,
            node.log.display()
        );
    };
    match cluster::up(
        &program, nodes, dir, base_port, password, protocol, &mut print,
    ) {
        Ok(()) => {
            let _ = writeln!(
                stdout,
                "try: redis-cli -p {} -c SET greeting hello; redis-cli -p {} -c GET greeting",
                base_port + 1,
                base_port + 1
            );
            EXIT_OK
        }
        Err(UpError::Nodes) => fail(stderr, &"--nodes must be between 1 and 9"),
        Err(UpError::BasePort) => fail(stderr, &"--base-port must leave room for 300 ports"),
        Err(UpError::AlreadyUp(dir)) => fail(
            stderr,
            &format!(
                "{} already has a cluster (run `distsys cluster down --dir {}` first)",
                dir.display(),
                dir.display()
            ),
        ),
        Err(e) => fail(stderr, &e),
    }
}
