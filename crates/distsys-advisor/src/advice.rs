//! The advisor's answer. Its JSON Schema (`distsys schema output`) is generated from these types.

use crate::context::ProblemType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The advisor's whole answer for one `distributed_context`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "distsys_advice")]
pub struct Advice {
    /// The problem type the answer is for.
    pub problem_type: ProblemType,
    /// The chosen protocol or technique.
    pub protocol: Protocol,
    /// Its configuration, every number derived from the input.
    pub configuration: Configuration,
    /// What happens under the failures that matter for this answer, and how the system recovers.
    pub failure_scenarios: Vec<FailureScenario>,
    /// The figures a user decides with: latency, failover, messages, availability, cost.
    pub figures: Figures,
    /// The safety mechanisms the design relies on (fencing, clock bounds, concurrency
    /// control, lease margin), each with why it is needed.
    pub safety_mechanisms: Vec<Mechanism>,
    /// How to run it: what to monitor, and the runbooks that keep the quorum.
    pub operations: Operations,
    /// Which input led to which choice.
    pub rationale: Vec<Rationale>,
    /// Questionable inputs and risks the user should look at.
    pub warnings: Vec<Warning>,
}

/// The chosen protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// Short name, e.g. `Raft`, `PBFT`, `Leaderless quorum replication`.
    pub name: String,
    /// What it does, in a sentence or two.
    pub description: String,
    /// What it guarantees, and under which assumptions.
    pub correctness_guarantee: String,
}

/// Numbers that configure the chosen protocol. Fields that do not apply to it are absent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    /// Voters (or replicas) in one replication group.
    #[schemars(range(min = 1))]
    pub group_size: u32,
    /// Faults one group survives (`f`).
    pub failure_tolerance: u32,
    /// Nodes that must answer for a decision (write, election, commit) to be made.
    #[schemars(range(min = 1))]
    pub quorum_size: u32,
    /// Failure-detection timeout: the lower bound of the randomised election (or view-change)
    /// timeout, in milliseconds. Always greater than `heartbeat_ms`.
    #[schemars(range(min = 1))]
    pub timeout_ms: u64,
    /// Upper bound (exclusive) of the randomised election timeout, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_timeout_max_ms: Option<u64>,
    /// Interval between heartbeats (leader to followers, or failure-detector pings), in ms.
    #[schemars(range(min = 1))]
    pub heartbeat_ms: u64,
    /// How long a client waits before retrying a request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Replication mode: `sync`, `semi_sync`, `async` or `leaderless`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_mode: Option<String>,
    /// Copies of each datum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_count: Option<u32>,
    /// Replica acknowledgements a write waits for, besides the primary's own (semi-sync `k`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_replicas: Option<u32>,
    /// Leaderless write quorum `W`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_quorum: Option<u32>,
    /// Leaderless read quorum `R`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_quorum: Option<u32>,
    /// Virtual nodes per physical node on a consistent-hashing ring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_nodes: Option<u32>,
    /// Bounded-load consistent hashing: no node takes more than `(1 + epsilon)` x the mean load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_epsilon: Option<f64>,
    /// Range partitioning: split a range larger than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_split_bytes: Option<u64>,
    /// Range partitioning: split a range serving more than this many queries per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_split_qps: Option<u64>,
    /// PBFT: requests between checkpoints (`K`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_interval: Option<u64>,
    /// PBFT: width of the low/high watermark window, in sequence numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_window: Option<u64>,
    /// Raft: pre-vote enabled (a partitioned node cannot disrupt the group on rejoining).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_vote: Option<bool>,
    /// Raft: check-quorum enabled (a leader that hears from no majority steps down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_quorum: Option<bool>,
    /// How reads are served: `read_index`, `leader`, `any_replica`, `quorum`, `session`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_path: Option<String>,
    /// Clock used to order concurrent writes: `hlc`, `version_vector`, `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// Non-voting members (learners): they receive the log and serve ReadIndex reads, but never
    /// count towards a quorum. Present when the cluster is larger than the voting group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learners: Option<u32>,
    /// Probability that a quorum of the voting group is reachable, when every node is
    /// independently unreachable with `partition_probability` (binomial model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum_availability: Option<f64>,
    /// How many of the group's nodes go to each region (round-robin), when regions are given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement: Vec<RegionPlacement>,
    /// Transactions: the isolation level committed transactions get, e.g.
    /// `strict_serializable` or `serializable` (each client's transactions in its own order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<String>,
    /// Transactions: a commit is acknowledged only once the coordinator's clock reads past the
    /// transaction's timestamp plus this many ms (twice the clock offset bound), so a
    /// transaction that starts later anywhere takes a larger timestamp. Included in the commit
    /// latency figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_wait_ms: Option<u64>,
}

/// Figures computed from the configuration and its placement (the model is in `model`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// Expected time from the leader (or coordinator) receiving a write to the write being
    /// durable on the quorum it waits for, in ms: the network's floor; for a transaction with
    /// a commit wait, the longer of the two (the wait runs from its timestamp, overlapping
    /// the commit round).
    pub commit_latency_ms: f64,
    /// The client's round trip to the leader from the leader's region, in ms, to add to
    /// every latency here.
    pub client_hop_ms: f64,
    /// Read latency at the server per read path, in ms (client hop not included).
    pub read_latency_ms: Vec<ReadLatency>,
    /// Time from a leader failure to a new leader serving, in ms: the upper election (or
    /// view-change) timeout plus one quorum round. Absent where no leader is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_ms: Option<u64>,
    /// Messages sent per write (learners included).
    pub messages_per_write: u64,
    /// Probability that a write can be served when each node is independently unreachable
    /// with `partition_probability` (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_availability: Option<f64>,
    /// Nodes to run.
    pub nodes: u32,
    /// Regions they run in.
    pub regions: u32,
    /// Cross-region round trips a write waits for.
    pub cross_region_rounds_per_write: u32,
    /// Where the leader (or leaseholder, coordinator) should sit: the region with the most
    /// members, next to the writers. Absent with fewer than two regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_region: Option<String>,
    /// The assumptions behind these figures.
    pub model: String,
}

/// A safety mechanism the design relies on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mechanism {
    /// Its name, e.g. `fencing tokens`.
    pub name: String,
    /// What it prevents and how, with this configuration's numbers.
    pub why: String,
}

/// How to run the design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    /// What to watch, with thresholds.
    pub monitor: Vec<Monitor>,
    /// Step-by-step procedures that keep the quorum.
    pub runbooks: Vec<Runbook>,
}

/// One thing to watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    /// The metric: its Prometheus name where the distsys node exports it.
    pub metric: String,
    /// When to act.
    pub threshold: String,
    /// What it means when it fires.
    pub why: String,
}

/// A procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// Its name, e.g. `rolling upgrade`.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<String>,
}

/// The latency of one read path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadLatency {
    /// The read path (`read_index`, `lease`, `quorum`, ...).
    pub path: String,
    /// Its latency at the server, in ms.
    pub latency_ms: f64,
}

impl ReadLatency {
    /// A read path and its latency.
    pub fn new(path: &str, latency_ms: f64) -> ReadLatency {
        ReadLatency {
            path: path.to_string(),
            latency_ms,
        }
    }
}

/// Nodes of one group placed in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionPlacement {
    /// Region name, as given in the input.
    pub region: String,
    /// Nodes of the group in that region.
    pub nodes: u32,
}

/// One failure, its effect and the way out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureScenario {
    /// The failure (e.g. `leader crash`, `minority partition`).
    pub scenario: String,
    /// What the system does while it lasts, with the numbers of this configuration.
    pub behavior: String,
    /// How it recovers.
    pub recovery: String,
}

/// Why a choice was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rationale {
    /// The input (field and value) that drove the choice.
    pub input: String,
    /// The choice it led to, with the formula where there is one.
    pub choice: String,
}

/// A questionable input or a risk of the chosen design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    /// Stable machine-readable code, e.g. `even_node_count`.
    pub code: String,
    /// What is questionable and what to do about it.
    pub message: String,
}
