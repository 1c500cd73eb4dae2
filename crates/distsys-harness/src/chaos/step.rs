//! What a chaos run reports as it goes: one [`Step`] per fault, heal and recovery, worded as
//! the run's log prints it.

use std::fmt;
use std::time::Duration;

/// One thing a chaos run did or saw. Nodes are numbered from 1, as in their configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The cluster started and elected a leader.
    Up {
        /// Cluster size.
        nodes: usize,
        /// The first leader.
        leader: usize,
        /// How long the election took.
        after: Duration,
    },
    /// No leader within 15 s of starting: the run stops there.
    NotUp,
    /// These nodes run as byzantine replicas, doing `behaviours`.
    Byzantine {
        /// The nodes.
        nodes: Vec<usize>,
        /// What they do (`all` or a list of names).
        behaviours: String,
    },
    /// Links were cut.
    Partition {
        /// Which (the simulator's description: "split [1, 3] | [2, 4, 5]", "isolate 2",
        /// "one-way from 2", "bridge 2 between [1, 3] and [4, 5]").
        shape: String,
        /// For how long.
        lasting: Duration,
    },
    /// Every cut link was restored.
    Healed,
    /// The message faults on every peer link started (what they do).
    MessageFaultsOn {
        /// What they do.
        what: String,
    },
    /// The message faults stopped; what they did.
    MessageFaultsOff {
        /// Their tally.
        tally: super::proxy::MessageTally,
    },
    /// A node was killed with SIGKILL.
    Kill {
        /// The node.
        node: usize,
        /// Whether it led at the time.
        leader: bool,
        /// When it is restarted.
        restart_in: Duration,
    },
    /// After the leader was killed, another node took over.
    NewLeader {
        /// The new leader.
        node: usize,
        /// How long after the kill.
        after: Duration,
    },
    /// A killed node could not be started again.
    CannotRestart {
        /// The node.
        node: usize,
        /// Why.
        error: String,
    },
    /// A killed node was started again.
    Restarted {
        /// The node.
        node: usize,
    },
    /// A node was paused with SIGSTOP.
    Pause {
        /// The node.
        node: usize,
        /// Whether it led at the time.
        leader: bool,
        /// For how long.
        lasting: Duration,
    },
    /// Nodes were stopped and continued in turns (SIGSTOP, SIGCONT) for a while: slow peers.
    Stutter {
        /// The nodes.
        nodes: Vec<usize>,
        /// How long each stop lasts.
        stopped: Duration,
        /// How long they run between stops.
        running: Duration,
        /// For how long in all.
        lasting: Duration,
    },
    /// A paused node was resumed with SIGCONT.
    Resume {
        /// The node.
        node: usize,
    },
    /// The fault schedule ended.
    FaultsStop,
    /// No leader within 15 s after the faults stopped.
    NoLeaderAfterFaults,
    /// Every node is killed at once and restarted.
    FullRestart,
    /// A leader was elected after the full restart.
    Recovered {
        /// The leader.
        node: usize,
        /// How long it took.
        after: Duration,
    },
    /// No leader within 15 s after the full restart.
    NotRecovered,
}

fn role(leader: bool) -> &'static str {
    if leader {
        " (the leader)"
    } else {
        ""
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Up {
                nodes,
                leader,
                after,
            } => write!(
                f,
                "cluster of {nodes} up, leader node {leader} after {} ms",
                after.as_millis()
            ),
            Step::NotUp => {
                f.write_str("no leader within 15 s: the cluster did not start (see the node logs)")
            }
            Step::Byzantine { nodes, behaviours } => write!(
                f,
                "byzantine replicas {nodes:?} (behaviours: {behaviours}); clients use the others"
            ),
            Step::Partition { shape, lasting } => {
                write!(f, "partition: {shape} for {} ms", lasting.as_millis())
            }
            Step::Healed => f.write_str("partition healed"),
            Step::MessageFaultsOn { what } => {
                write!(f, "message faults on every peer link: {what}")
            }
            Step::MessageFaultsOff { tally } => write!(
                f,
                "message faults off: of {} peer messages, {} dropped, {} duplicated, {} held back",
                tally.messages, tally.dropped, tally.duplicated, tally.held
            ),
            Step::Kill {
                node,
                leader,
                restart_in,
            } => write!(
                f,
                "kill -9 node {node}{}, restart in {} ms",
                role(*leader),
                restart_in.as_millis()
            ),
            Step::NewLeader { node, after } => {
                write!(f, "  new leader node {node} after {} ms", after.as_millis())
            }
            Step::CannotRestart { node, error } => write!(f, "cannot restart node {node}: {error}"),
            Step::Restarted { node } => write!(f, "restarted node {node}"),
            Step::Pause {
                node,
                leader,
                lasting,
            } => write!(
                f,
                "SIGSTOP node {node}{} for {} ms",
                role(*leader),
                lasting.as_millis()
            ),
            Step::Resume { node } => write!(f, "SIGCONT node {node}"),
            Step::Stutter {
                nodes,
                stopped,
                running,
                lasting,
            } => write!(
                f,
                "SIGSTOP and SIGCONT nodes {nodes:?} in turns ({} ms stopped, {} ms running) for {} ms",
                stopped.as_millis(),
                running.as_millis(),
                lasting.as_millis()
            ),
            Step::FaultsStop => f.write_str("faults stop; waiting for a leader"),
            Step::NoLeaderAfterFaults => {
                f.write_str("no leader within 15 s after the faults stopped (liveness)")
            }
            Step::FullRestart => f.write_str("kill -9 every node, restart all"),
            Step::Recovered { node, after } => {
                write!(f, "leader node {node} after {} ms", after.as_millis())
            }
            Step::NotRecovered => f.write_str("no leader within 15 s after the full restart"),
        }
    }
}
