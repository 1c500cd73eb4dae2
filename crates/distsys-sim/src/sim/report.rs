//! What one run measured, and the property it broke if it broke one.

use distsys_check::history::Event as HistoryEvent;
use distsys_consensus::NodeId;
use std::collections::BTreeMap;

/// A property a run broke.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// `election_safety`, `log_matching`, `linearizability`, `liveness`...
    pub property: String,
    /// The evidence.
    pub detail: String,
    /// Virtual time of detection, in microseconds.
    pub time_us: u64,
}

/// What kind of failure a violation is, so that a stall or a message storm is never reported
/// as a safety violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// A safety property of the protocol (election safety, log matching, leader completeness,
    /// state machine safety, agreement) or of the replicated state broke.
    Safety,
    /// The clients' history is not linearizable (a lost or stale acknowledged operation).
    Linearizability,
    /// The protocol did not serve clients again within its recovery bound after the heal.
    Liveness,
    /// The run generated messages without bound, or ran past its wall budget (a message storm).
    Runaway,
    /// An invariant asserted inside the protocol failed (a panic).
    Assertion,
}

impl FailureKind {
    /// Every kind, in report order.
    pub const ALL: [FailureKind; 5] = [
        FailureKind::Safety,
        FailureKind::Linearizability,
        FailureKind::Liveness,
        FailureKind::Runaway,
        FailureKind::Assertion,
    ];

    /// The name in summaries and JSON reports.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Safety => "safety",
            FailureKind::Linearizability => "linearizability",
            FailureKind::Liveness => "liveness",
            FailureKind::Runaway => "runaway",
            FailureKind::Assertion => "assertion",
        }
    }
}

impl Violation {
    /// The kind of failure this is.
    pub fn kind(&self) -> FailureKind {
        match self.property.as_str() {
            "linearizability" | "history" => FailureKind::Linearizability,
            "liveness" => FailureKind::Liveness,
            "runaway" => FailureKind::Runaway,
            "assertion" => FailureKind::Assertion,
            _ => FailureKind::Safety,
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// The first violation, if any.
    pub violation: Option<Violation>,
    /// Elections won.
    pub elections_won: u64,
    /// Entries committed (highest commit index reached).
    pub commits: u64,
    /// Client operations completed ok (and cas that failed cleanly).
    pub ops_ok: u64,
    /// Client operations that ended indeterminate or failed after every retry.
    pub ops_unknown: u64,
    /// Client operations attempted.
    pub ops_total: u64,
    /// Latency of successful writes, in microseconds (sorted).
    pub write_latencies_us: Vec<u64>,
    /// Time from the last fault healing to a leader, in microseconds (None: no leader by the end).
    pub leader_after_heal_us: Option<u64>,
    /// Time from the last fault healing until every client operation pending at that moment
    /// had completed (None: some never did).
    pub clients_done_after_heal_us: Option<u64>,
    /// Partition events (detected, healed).
    pub partitions: (u64, u64),
    /// Elections by outcome: (won, timed out alone, split between several candidates).
    pub election_results: (u64, u64, u64),
    /// Latency of operations that completed ok, by operation type, in microseconds.
    pub latency_by_operation_us: BTreeMap<String, Vec<u64>>,
    /// At the end: for each follower of the leader, the age (seconds) of the oldest entry the
    /// leader holds that the follower lacks.
    pub replication_lag_seconds: BTreeMap<NodeId, f64>,
    /// Events processed.
    pub events: u64,
    /// Messages the nodes sent to each other.
    pub messages: u64,
    /// The last trace lines before the end (or the violation).
    pub tail: Vec<String>,
    /// The whole trace, when requested.
    pub trace: Vec<String>,
    /// The clients' history (invoke/ok/fail/info), when a trace was requested.
    pub history: Vec<HistoryEvent>,
    /// The byzantine replicas and what each did.
    pub byzantine: BTreeMap<NodeId, Vec<&'static str>>,
    /// Messages the honest replicas refused, by reason (forged, replayed, bad_digest...).
    pub rejected: BTreeMap<&'static str, u64>,
    /// Time from the last fault healing to the first client operation completing after it.
    pub first_ok_after_heal_us: Option<u64>,
    /// Snapshots installed by lagging replicas (state transfer).
    pub snapshots_installed: u64,
}
