//! Node processes: starting `PROGRAM serve --config FILE` with its log beside the file,
//! signalling by pid, and [`Nodes`], a cluster's processes by index (killed when dropped).

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The program that runs a node: the `distsys` binary (it is started as
/// `PROGRAM serve --config FILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProgram {
    exe: PathBuf,
}

impl NodeProgram {
    /// The program at `exe`.
    pub fn new(exe: PathBuf) -> NodeProgram {
        NodeProgram { exe }
    }

    /// The running executable: what the `distsys` CLI passes, since it serves nodes itself.
    pub fn current() -> std::io::Result<NodeProgram> {
        std::env::current_exe().map(NodeProgram::new)
    }

    /// Starts a node for a configuration file, its stdout and stderr appended to `node.log`
    /// in the file's directory. The caller owns the child (and must reap it).
    pub fn spawn(&self, config_path: &Path) -> std::io::Result<Child> {
        let dir = config_path.parent().unwrap_or(Path::new("."));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("node.log"))?;
        Command::new(&self.exe)
            .arg("serve")
            .arg("--config")
            .arg(config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
    }
}

/// Sends `signal` to a process, ignoring one that is already gone.
pub fn signal(pid: u32, signal: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), signal);
}

/// Whether a process still exists (it may be a zombie not yet reaped by its parent).
pub fn alive(pid: u32) -> bool {
    kill(Pid::from_raw(pid as i32), None).is_ok()
}

/// A cluster's node processes, by index (node i + 1 is index i), each restartable from its
/// configuration file. Every process still running is killed (SIGKILL) and reaped on drop.
pub struct Nodes {
    program: NodeProgram,
    paths: Vec<PathBuf>,
    children: Vec<Option<Child>>,
}

impl Nodes {
    /// Starts one node per configuration file, in order. If one cannot start, the ones
    /// already started are killed and the error returned.
    pub fn start(program: NodeProgram, paths: Vec<PathBuf>) -> std::io::Result<Nodes> {
        let mut nodes = Nodes {
            program,
            children: (0..paths.len()).map(|_| None).collect(),
            paths,
        };
        for i in 0..nodes.paths.len() {
            nodes.restart(i)?;
        }
        Ok(nodes)
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The pid of node `i`, if it is running.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.children.get(i)?.as_ref().map(Child::id)
    }

    /// Kills node `i` with SIGKILL and reaps it; nothing if it is not running.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children.get_mut(i).and_then(Option::take) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again from its configuration (killing it first if it runs).
    pub fn restart(&mut self, i: usize) -> std::io::Result<()> {
        self.kill(i);
        let path = self
            .paths
            .get(i)
            .ok_or_else(|| std::io::Error::other(format!("no node {}", i + 1)))?;
        self.children[i] = Some(self.program.spawn(path)?);
        Ok(())
    }

    /// Kills every running node and reaps it.
    pub fn kill_all(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.kill_all();
    }
}
