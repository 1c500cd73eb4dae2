//! The `distributed_context`: what a user tells distsys about the system they are designing.
//!
//! These types are the single source of truth for the input format: the JSON Schema printed by
//! `distsys schema input` is generated from them, and [`crate::input::parse_context`] validates
//! raw input against that schema before the cross-field rules of [`crate::rules`] run.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind of problem the user wants a design for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemType {
    /// Agree on a single ordered log of commands (state machine replication).
    Consensus,
    /// Keep copies of data on several nodes.
    Replication,
    /// Spread data across nodes (sharding, placement).
    Partitioning,
    /// Atomic updates spanning several partitions.
    Transaction,
    /// Merge concurrent updates made on different replicas.
    ConflictResolution,
}

impl ProblemType {
    /// Every problem type, in declaration order.
    pub const ALL: [ProblemType; 5] = [
        ProblemType::Consensus,
        ProblemType::Replication,
        ProblemType::Partitioning,
        ProblemType::Transaction,
        ProblemType::ConflictResolution,
    ];

    /// The name used in the input format.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemType::Consensus => "consensus",
            ProblemType::Replication => "replication",
            ProblemType::Partitioning => "partitioning",
            ProblemType::Transaction => "transaction",
            ProblemType::ConflictResolution => "conflict_resolution",
        }
    }
}

/// The consistency model the system must offer its clients, strongest first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// Every operation appears to take effect atomically between its invocation and completion.
    Linearizable,
    /// All clients see one total order that respects each client's program order.
    Sequential,
    /// Clients never see an effect before its causes.
    Causal,
    /// Replicas converge once updates stop.
    #[default]
    Eventual,
}

impl Consistency {
    /// Every consistency level, strongest first.
    pub const ALL: [Consistency; 4] = [
        Consistency::Linearizable,
        Consistency::Sequential,
        Consistency::Causal,
        Consistency::Eventual,
    ];

    /// The name used in the input format.
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Linearizable => "linearizable",
            Consistency::Sequential => "sequential",
            Consistency::Causal => "causal",
            Consistency::Eventual => "eventual",
        }
    }

    /// True for the levels that need a single agreed order of writes (CP under partition).
    pub fn needs_total_order(self) -> bool {
        matches!(self, Consistency::Linearizable | Consistency::Sequential)
    }
}

/// Size and fault budget of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Number of nodes (processes that hold state), 1 to 1000.
    #[schemars(range(min = 1, max = 1000))]
    pub nodes: u32,
    /// Number of simultaneous node failures the design must survive (`f`). When absent, the
    /// largest `f` the node count allows is used (crash: (n-1)/2, byzantine: (n-1)/3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub failure_tolerance: Option<u32>,
    /// Regions (or availability zones) the nodes are spread over, one name each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// What the network does.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkAssumptions {
    /// Typical one-way message latency between nodes, in milliseconds (1 to 600000; larger values
    /// would overflow the derived timers). When absent: 1 ms within one region, 50 ms across regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0, max = 600000.0))]
    pub latency_ms: Option<f64>,
    /// Probability that the network is partitioned at a given moment, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub partition_probability: Option<f64>,
    /// Whether up to `f` nodes may behave arbitrarily (lie, equivocate, forge).
    #[serde(default)]
    pub byzantine: bool,
    /// One-way latency between two nodes of the same region, in milliseconds (0.01 to 600000),
    /// when the nodes span two or more regions (`latency_ms` is then the latency between
    /// regions). When absent: 1 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.01, max = 600000.0))]
    pub intra_region_latency_ms: Option<f64>,
    /// The most any node's clock may be off true time, in milliseconds (0 to 10000): the bound
    /// your clock synchronisation (NTP, chrony, PTP) keeps. Timestamp-ordered transactions
    /// wait out twice this before acknowledging a commit when strict serializability is asked
    /// for. When absent: 40 ms (a conservative NTP bound within one region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 10000.0))]
    pub max_clock_offset_ms: Option<f64>,
}

/// The clock offset bound assumed when the context gives none, in ms.
pub const DEFAULT_MAX_CLOCK_OFFSET_MS: f64 = 40.0;

impl NetworkAssumptions {
    /// The clock offset bound: the given one, else [`DEFAULT_MAX_CLOCK_OFFSET_MS`].
    pub fn max_clock_offset_ms(&self) -> f64 {
        self.max_clock_offset_ms
            .unwrap_or(DEFAULT_MAX_CLOCK_OFFSET_MS)
    }
}

/// What the workload looks like, when it changes the design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Keys ordered by time (logs, metrics, events): every insert hits the newest key range.
    TimeSeries,
    /// Several users editing one document at once.
    CollaborativeText,
    /// A few keys take most of the traffic.
    HotKeys,
    /// Locks, leases and leader election for other services.
    LockService,
}

impl Workload {
    /// Every workload hint.
    pub const ALL: [Workload; 4] = [
        Workload::TimeSeries,
        Workload::CollaborativeText,
        Workload::HotKeys,
        Workload::LockService,
    ];

    /// The name used in the input format.
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::TimeSeries => "time_series",
            Workload::CollaborativeText => "collaborative_text",
            Workload::HotKeys => "hot_keys",
            Workload::LockService => "lock_service",
        }
    }
}

/// The whole input: a description of the system to design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "distributed_context")]
pub struct DistributedContext {
    /// The kind of problem to solve.
    pub problem_type: ProblemType,
    /// Cluster size and fault budget.
    pub cluster_config: ClusterConfig,
    /// Consistency the clients need (default: eventual).
    #[serde(default)]
    pub consistency_requirement: Consistency,
    /// Network latency, partitions and faults.
    #[serde(default)]
    pub network_assumptions: NetworkAssumptions,
    /// What the workload looks like (optional; the design then answers its known traps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
}

impl DistributedContext {
    /// A context with the given problem type and node count and every optional field at its default.
    pub fn new(problem_type: ProblemType, nodes: u32) -> Self {
        DistributedContext {
            problem_type,
            cluster_config: ClusterConfig {
                nodes,
                failure_tolerance: None,
                regions: Vec::new(),
            },
            consistency_requirement: Consistency::default(),
            network_assumptions: NetworkAssumptions::default(),
            workload: None,
        }
    }

    /// Whether nodes may be byzantine.
    pub fn byzantine(&self) -> bool {
        self.network_assumptions.byzantine
    }
}
