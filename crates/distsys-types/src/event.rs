//! Every structured log event, and the JSON log line that carries it, defined once for the
//! node's log, the simulator's trace and `distsys diagnose`.
//!
//! A line is one JSON object with the fields `level`, `timestamp` (ISO 8601), `skill`
//! (`"distributed-systems"`), `node_id`, `term`, `event` (the event's name) and `context` (its
//! data), written with sorted keys. [`Event`] is the one list of events: producers build one
//! and write [`LogLine`]; diagnose reads the name back into an [`EventKind`] and the context
//! into an [`Event`], so renaming an event or a field the reader needs is a compile error in
//! every crate at once. [`log_schema`] is the line's JSON schema, derived from the types.

use crate::NodeId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The `skill` field of every line.
pub const SKILL: &str = "distributed-systems";

/// The `event` of a line logged without one (a library's message): not an [`Event`].
pub const UNNAMED: &str = "log";

/// The keys of a log line.
pub mod field {
    /// The severity ([`super::Level`]).
    pub const LEVEL: &str = "level";
    /// ISO 8601 time (virtual in the simulator's trace).
    pub const TIMESTAMP: &str = "timestamp";
    /// Always [`super::SKILL`].
    pub const SKILL: &str = "skill";
    /// The node that logged the line, or null.
    pub const NODE_ID: &str = "node_id";
    /// The node's term, or null.
    pub const TERM: &str = "term";
    /// The event's name ([`super::EventKind::name`]).
    pub const EVENT: &str = "event";
    /// The event's data (an object).
    pub const CONTEXT: &str = "context";
}

/// A line's severity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Something is wrong (a violated property, a failed disk).
    Error,
    /// A fault (partition, crash).
    Warn,
    /// What a run or a node normally does.
    Info,
    /// Frequent detail.
    Debug,
    /// Finest detail.
    Trace,
}

impl Level {
    /// The word the `level` field carries.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

/// The context of events that carry no data: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NoContext {}

/// `election_started`: a node became a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ElectionStarted {
    /// The candidate.
    pub candidate: NodeId,
}

/// `leader_elected`: a node won an election (the line's `term` is its term).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LeaderElected {
    /// The new leader.
    pub leader: NodeId,
    /// The heartbeat interval, when the producer knows it (the simulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
    /// The election timeout range `[min, max]`, when the producer knows it (the simulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_timeout_ms: Option<[u64; 2]>,
}

/// `log_replicated`: a leader's commit index advanced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogReplicated {
    /// The new commit index.
    pub commit_index: u64,
    /// Each follower's match index, as `[follower, index]` pairs.
    pub follower_match: Vec<(NodeId, u64)>,
}

/// `commit_applied`: a node applied committed entries to its state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommitApplied {
    /// Index of the last entry applied.
    pub applied_index: u64,
    /// Entries applied at once.
    pub entries: u64,
    /// The chain hash of the last entry applied, 16 hex digits: a digest of the applied
    /// state (two nodes with the same index and different chains diverged).
    pub applied_chain: String,
}

impl CommitApplied {
    /// The event for `entries` entries applied up to `index`, whose chain hash is `chain`.
    pub fn new(index: u64, entries: usize, chain: u64) -> CommitApplied {
        CommitApplied {
            applied_index: index,
            entries: entries as u64,
            applied_chain: format!("{chain:016x}"),
        }
    }
}

/// `snapshot_installed`: a node replaced its state by a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotInstalled {
    /// The snapshot's last index.
    pub last_index: u64,
}

/// `partition_detected`: the network was cut (simulator) or a peer link lost (node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PartitionDetected {
    /// The simulator's description of the cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The node's lost peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<NodeId>,
}

/// `partition_healed`: the network (simulator) or a peer link (node) works again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PartitionHealed {
    /// The node's regained peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<NodeId>,
}

/// `write_torn`: a crash in the middle of a write: only part of it reached the disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WriteTorn {
    /// Persist operations in the write.
    pub operations: u64,
    /// How many of them were durable.
    pub durable: u64,
    /// Whether an append was cut in the middle.
    pub torn_append: bool,
}

/// What a membership change did to one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipStep {
    /// A voter removed.
    Remove,
    /// A learner made a voter.
    Promote,
    /// A node added as a learner.
    AddLearner,
}

/// How the leader took a membership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipOutcome {
    /// Proposed at this log index.
    Index(u64),
    /// Refused, with the reason.
    Refused(String),
}

/// `membership_change`: the simulator asked the leader to move one node one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MembershipChange {
    /// The step.
    pub step: MembershipStep,
    /// The node moved.
    pub node: NodeId,
    /// The voters asked for.
    pub voters: BTreeSet<NodeId>,
    /// The learners asked for.
    pub learners: BTreeSet<NodeId>,
    /// What the leader answered.
    pub outcome: MembershipOutcome,
}

/// `byzantine_replicas`: which replicas the simulator's adversary controls, and how they lie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ByzantineReplicas {
    /// Per replica (its id, as a JSON object key), the names of its behaviours.
    pub replicas: BTreeMap<String, Vec<String>>,
}

/// `violation`: a checked property failed (the run's verdict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Violation {
    /// The property's name.
    pub property: String,
    /// What was seen.
    pub detail: String,
}

/// `conflict_resolved`: two concurrent writes met and one won.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConflictResolved {
    /// The key.
    pub key: String,
    /// How the winner was chosen (`lww_hlc`).
    pub strategy: String,
    /// The winning write, `[replica, sequence]`.
    pub winner: [u64; 2],
    /// The losing write, `[replica, sequence]`.
    pub loser: [u64; 2],
}

/// `node_started`: a node process opened its storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeStarted {
    /// Log entries on disk.
    pub log_entries: u64,
    /// The last index of the snapshot on disk (null without one).
    pub snapshot_index: Option<u64>,
}

/// `node_listening`: a node's listeners are bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeListening {
    /// Address of the peer listener.
    pub peer: String,
    /// Address of the client (RESP) listener.
    pub client: String,
    /// Address of the admin (HTTP) listener.
    pub admin: String,
}

/// `storage_failed`: a write to disk failed; the node stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StorageFailed {
    /// The error.
    pub error: String,
}

/// `peer_connection_closed`: a connection to a peer ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PeerConnectionClosed {
    /// The peer's address.
    pub addr: String,
    /// Why it ended.
    pub reason: String,
}

/// `connection_refused`: a node turned a connection away or closed it for what it sent (a
/// failed peer handshake, a client over a limit, accept failing). Written at most a few times
/// a second per port; `suppressed` counts the refusals not written since the last line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionRefused {
    /// Which port: `peer` or `client`.
    pub port: String,
    /// The remote address (empty when accept itself failed).
    pub addr: String,
    /// Why.
    pub reason: String,
    /// Refusals on this port not logged since the previous line.
    pub suppressed: u64,
}

/// Declares [`Event`] and [`EventKind`] from one list: each event's variant, context type and
/// name appear once.
macro_rules! events {
    ($(
        $(#[$doc:meta])*
        $variant:ident($payload:ty) = $name:literal;
    )*) => {
        /// Every structured log event, with its context. Serializes as
        /// `{"event": name, "context": {...}}` (the two fields of a [`LogLine`]).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "event", content = "context")]
        pub enum Event {
            $(
                $(#[$doc])*
                #[serde(rename = $name)]
                $variant($payload),
            )*
        }

        /// The name of an [`Event`] without its context: what readers match on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $(
                $(#[$doc])*
                $variant,
            )*
        }

        impl EventKind {
            /// Every event kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];

            /// The name the `event` field carries.
            pub const fn name(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }

            /// The kind named `name`, if it is one.
            pub fn from_name(name: &str) -> Option<EventKind> {
                match name {
                    $($name => Some(EventKind::$variant),)*
                    _ => None,
                }
            }
        }

        impl Event {
            /// This event's kind.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$variant(_) => EventKind::$variant,)*
                }
            }

            /// The `context` field: the event's data as a JSON object.
            pub fn context(&self) -> Value {
                let value = match self {
                    $(Event::$variant(context) => serde_json::to_value(context),)*
                };
                // Every context is a struct of numbers, strings, sequences and maps keyed by
                // strings or integers: serializing it cannot fail.
                debug_assert!(value.is_ok(), "{value:?}");
                value.unwrap_or_else(|_| Value::Object(Map::new()))
            }

            /// Reads the context of an event of `kind` back (extra fields are ignored).
            pub fn from_context(kind: EventKind, context: &Value) -> Result<Event, serde_json::Error> {
                match kind {
                    $(EventKind::$variant => <$payload>::deserialize(context).map(Event::$variant),)*
                }
            }
        }
    };
}

events! {
    /// A node became a candidate.
    ElectionStarted(ElectionStarted) = "election_started";
    /// A node won an election.
    LeaderElected(LeaderElected) = "leader_elected";
    /// A leader's commit index advanced.
    LogReplicated(LogReplicated) = "log_replicated";
    /// A node applied committed entries.
    CommitApplied(CommitApplied) = "commit_applied";
    /// A node installed a snapshot.
    SnapshotInstalled(SnapshotInstalled) = "snapshot_installed";
    /// The network was cut, or a node lost a peer link.
    PartitionDetected(PartitionDetected) = "partition_detected";
    /// The network, or a node's peer link, works again.
    PartitionHealed(PartitionHealed) = "partition_healed";
    /// The simulator crashed a node.
    NodeCrashed(NoContext) = "node_crashed";
    /// The simulator restarted a crashed node from what it persisted.
    NodeRestarted(NoContext) = "node_restarted";
    /// The simulator paused a node (its clock and messages stop).
    NodePaused(NoContext) = "node_paused";
    /// The simulator resumed a paused node.
    NodeResumed(NoContext) = "node_resumed";
    /// The simulator ended every fault at once.
    FaultsHealed(NoContext) = "faults_healed";
    /// A crash tore a write.
    WriteTorn(WriteTorn) = "write_torn";
    /// The simulator changed the membership.
    MembershipChange(MembershipChange) = "membership_change";
    /// The simulator's byzantine replicas.
    ByzantineReplicas(ByzantineReplicas) = "byzantine_replicas";
    /// A checked property failed.
    Violation(Violation) = "violation";
    /// Concurrent writes met; one won.
    ConflictResolved(ConflictResolved) = "conflict_resolved";
    /// A node process started.
    NodeStarted(NodeStarted) = "node_started";
    /// A node's listeners are bound.
    NodeListening(NodeListening) = "node_listening";
    /// A node process is stopping.
    NodeStopping(NoContext) = "node_stopping";
    /// A node's disk failed.
    StorageFailed(StorageFailed) = "storage_failed";
    /// A connection to a peer ended.
    PeerConnectionClosed(PeerConnectionClosed) = "peer_connection_closed";
    /// A connection was refused or closed for what it sent.
    ConnectionRefused(ConnectionRefused) = "connection_refused";
}

impl EventKind {
    /// The level a line of this event is written at: errors for a failed property or disk,
    /// warnings for faults (partitions, crashes), information otherwise. A producer may write
    /// its most frequent events at [`Level::Debug`] instead (the node does, per commit and per
    /// closed connection).
    pub const fn level(self) -> Level {
        match self {
            EventKind::Violation | EventKind::StorageFailed => Level::Error,
            EventKind::PartitionDetected
            | EventKind::PartitionHealed
            | EventKind::NodeCrashed
            | EventKind::ConnectionRefused => Level::Warn,
            _ => Level::Info,
        }
    }

    /// Whether the event is a fault the cluster had to react to (a reason for an election).
    pub const fn is_fault(self) -> bool {
        matches!(
            self,
            EventKind::NodeCrashed
                | EventKind::NodeRestarted
                | EventKind::NodePaused
                | EventKind::NodeResumed
                | EventKind::PartitionDetected
                | EventKind::PartitionHealed
                | EventKind::MembershipChange
                | EventKind::WriteTorn
        )
    }
}

/// One log line: where and when an event happened, and the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    /// Severity.
    pub level: Level,
    /// ISO 8601 time.
    pub timestamp: String,
    /// Always [`SKILL`].
    pub skill: String,
    /// The node that logged it, if any.
    pub node_id: Option<NodeId>,
    /// The node's term, if known.
    pub term: Option<u64>,
    /// The event (the `event` and `context` fields).
    #[serde(flatten)]
    pub event: Event,
}

impl LogLine {
    /// A line of `event` at its kind's level.
    pub fn new(
        timestamp: String,
        node_id: Option<NodeId>,
        term: Option<u64>,
        event: Event,
    ) -> LogLine {
        LogLine {
            level: event.kind().level(),
            timestamp,
            skill: SKILL.to_string(),
            node_id,
            term,
            event,
        }
    }

    /// The line as JSON text, keys sorted (what the trace and the node's log hold).
    pub fn to_json(&self) -> String {
        line(
            self.level,
            &self.timestamp,
            self.node_id,
            self.term,
            self.event.kind().name(),
            self.event.context(),
        )
        .to_string()
    }
}

/// A log line from its parts, for producers whose event arrives as a name and a context (the
/// node's tracing layer, which also writes the lines of events that are not an [`Event`]).
/// Keys sorted; the same object [`LogLine::to_json`] writes.
pub fn line(
    level: Level,
    timestamp: &str,
    node_id: Option<NodeId>,
    term: Option<u64>,
    event: &str,
    context: Value,
) -> Value {
    let mut map = Map::new();
    map.insert(field::LEVEL.into(), Value::from(level.as_str()));
    map.insert(field::TIMESTAMP.into(), Value::from(timestamp));
    map.insert(field::SKILL.into(), Value::from(SKILL));
    map.insert(
        field::NODE_ID.into(),
        node_id.map_or(Value::Null, Value::from),
    );
    map.insert(field::TERM.into(), term.map_or(Value::Null, Value::from));
    map.insert(field::EVENT.into(), Value::from(event));
    map.insert(field::CONTEXT.into(), context);
    Value::Object(map)
}

/// The JSON schema of a log line written for an [`Event`], derived from [`LogLine`].
pub fn log_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(LogLine)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One event of every kind (the match makes a new kind a compile error here).
    fn sample(kind: EventKind) -> Event {
        match kind {
            EventKind::ElectionStarted => Event::ElectionStarted(ElectionStarted { candidate: 2 }),
            EventKind::LeaderElected => Event::LeaderElected(LeaderElected {
                leader: 2,
                heartbeat_ms: Some(50),
                election_timeout_ms: Some([150, 300]),
            }),
            EventKind::LogReplicated => Event::LogReplicated(LogReplicated {
                commit_index: 7,
                follower_match: vec![(1, 7), (3, 5)],
            }),
            EventKind::CommitApplied => Event::CommitApplied(CommitApplied::new(7, 2, 0xabc)),
            EventKind::SnapshotInstalled => {
                Event::SnapshotInstalled(SnapshotInstalled { last_index: 4 })
            }
            EventKind::PartitionDetected => Event::PartitionDetected(PartitionDetected {
                partition: Some("isolate 3".into()),
                peer: None,
            }),
            EventKind::PartitionHealed => Event::PartitionHealed(PartitionHealed { peer: Some(3) }),
            EventKind::NodeCrashed => Event::NodeCrashed(NoContext {}),
            EventKind::NodeRestarted => Event::NodeRestarted(NoContext {}),
            EventKind::NodePaused => Event::NodePaused(NoContext {}),
            EventKind::NodeResumed => Event::NodeResumed(NoContext {}),
            EventKind::FaultsHealed => Event::FaultsHealed(NoContext {}),
            EventKind::WriteTorn => Event::WriteTorn(WriteTorn {
                operations: 3,
                durable: 1,
                torn_append: true,
            }),
            EventKind::MembershipChange => Event::MembershipChange(MembershipChange {
                step: MembershipStep::AddLearner,
                node: 4,
                voters: [1, 2, 3].into(),
                learners: [4].into(),
                outcome: MembershipOutcome::Refused("a change is in progress".into()),
            }),
            EventKind::ByzantineReplicas => Event::ByzantineReplicas(ByzantineReplicas {
                replicas: [("4".to_string(), vec!["equivocate".to_string()])].into(),
            }),
            EventKind::Violation => Event::Violation(Violation {
                property: "election_safety".into(),
                detail: "two leaders".into(),
            }),
            EventKind::ConflictResolved => Event::ConflictResolved(ConflictResolved {
                key: "k1".into(),
                strategy: "lww_hlc".into(),
                winner: [1, 2],
                loser: [2, 1],
            }),
            EventKind::NodeStarted => Event::NodeStarted(NodeStarted {
                log_entries: 0,
                snapshot_index: None,
            }),
            EventKind::NodeListening => Event::NodeListening(NodeListening {
                peer: "127.0.0.1:1".into(),
                client: "127.0.0.1:2".into(),
                admin: "127.0.0.1:3".into(),
            }),
            EventKind::NodeStopping => Event::NodeStopping(NoContext {}),
            EventKind::StorageFailed => Event::StorageFailed(StorageFailed {
                error: "disk full".into(),
            }),
            EventKind::PeerConnectionClosed => Event::PeerConnectionClosed(PeerConnectionClosed {
                addr: "127.0.0.1:1".into(),
                reason: "reset".into(),
            }),
            EventKind::ConnectionRefused => Event::ConnectionRefused(ConnectionRefused {
                port: "peer".into(),
                addr: "127.0.0.1:1".into(),
                reason: "wrong cluster key".into(),
                suppressed: 0,
            }),
        }
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = BTreeSet::new();
        for &kind in EventKind::ALL {
            assert!(seen.insert(kind.name()), "{} twice", kind.name());
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
            assert_eq!(sample(kind).kind(), kind);
        }
        assert_eq!(EventKind::from_name(UNNAMED), None);
        assert_eq!(EventKind::from_name("leader-elected"), None);
    }

    #[test]
    fn every_event_round_trips_through_its_line() {
        for &kind in EventKind::ALL {
            let event = sample(kind);
            let line = LogLine::new(
                "1970-01-01T00:00:01.000000Z".into(),
                Some(1),
                Some(3),
                event.clone(),
            );
            let text = line.to_json();
            let value: Value = serde_json::from_str(&text).expect("a line is JSON");
            // The derived serialization and the written line are the same object.
            assert_eq!(
                serde_json::to_value(&line).expect("serializes"),
                value,
                "{text}"
            );
            assert_eq!(value[field::EVENT], kind.name());
            let back = Event::from_context(kind, &value[field::CONTEXT]).expect("reads back");
            assert_eq!(back, event, "{text}");
            let parsed: LogLine = serde_json::from_value(value).expect("parses as a line");
            assert_eq!(parsed, line);
        }
    }

    #[test]
    fn every_line_validates_against_the_schema_and_others_do_not() {
        let schema = log_schema();
        let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
        for &kind in EventKind::ALL {
            let line = LogLine::new(
                "1970-01-01T00:00:00.000000Z".into(),
                None,
                None,
                sample(kind),
            );
            let value: Value = serde_json::from_str(&line.to_json()).expect("JSON");
            assert!(validator.is_valid(&value), "{value}");
        }
        let wrong_name = line(
            Level::Info,
            "t",
            None,
            None,
            "leader-elected",
            serde_json::json!({"leader": 1}),
        );
        assert!(!validator.is_valid(&wrong_name));
        let missing_field = line(
            Level::Info,
            "t",
            None,
            None,
            "leader_elected",
            serde_json::json!({}),
        );
        assert!(!validator.is_valid(&missing_field));
    }

    #[test]
    fn keys_are_sorted_and_the_trace_format_is_kept() {
        let line = LogLine::new(
            "1970-01-01T00:00:00.152703Z".into(),
            Some(2),
            Some(1),
            Event::ElectionStarted(ElectionStarted { candidate: 2 }),
        );
        assert_eq!(
            line.to_json(),
            r#"{"context":{"candidate":2},"event":"election_started","level":"INFO","node_id":2,"skill":"distributed-systems","term":1,"timestamp":"1970-01-01T00:00:00.152703Z"}"#
        );
        let crash = LogLine::new("t".into(), Some(5), None, Event::NodeCrashed(NoContext {}));
        assert_eq!(
            crash.to_json(),
            r#"{"context":{},"event":"node_crashed","level":"WARN","node_id":5,"skill":"distributed-systems","term":null,"timestamp":"t"}"#
        );
    }

    #[test]
    fn the_names_the_log_schema_promises_exist() {
        // docs/design.md: "keep these names"; diagnose and external dashboards read them.
        for name in [
            "election_started",
            "leader_elected",
            "log_replicated",
            "commit_applied",
            "partition_detected",
            "partition_healed",
            "conflict_resolved",
        ] {
            assert!(EventKind::from_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn levels_and_faults() {
        assert_eq!(EventKind::Violation.level(), Level::Error);
        assert_eq!(EventKind::PartitionHealed.level(), Level::Warn);
        assert_eq!(EventKind::NodeRestarted.level(), Level::Info);
        let faults: Vec<&str> = EventKind::ALL
            .iter()
            .filter(|k| k.is_fault())
            .map(|k| k.name())
            .collect();
        assert_eq!(
            faults,
            [
                "partition_detected",
                "partition_healed",
                "node_crashed",
                "node_restarted",
                "node_paused",
                "node_resumed",
                "write_torn",
                "membership_change"
            ]
        );
    }
}
