//! The vocabulary every distsys crate shares, defined once so that the protocols, the
//! simulator, the checker and diagnose, the advisor and the node cannot drift apart:
//!
//! - [`NodeId`], the identity of a node;
//! - [`bytes`]: [`ByteString`], the keys and values of the replicated store: bytes end to end,
//!   plain JSON strings when they are UTF-8 and `{"base64": ...}` otherwise;
//! - [`quorum`]: the quorum systems (crash majority, byzantine, joint) every threshold comes
//!   from, the advisor's figures included;
//! - [`snapshot`]: the snapshot-agreement rule of a hash-chained log, used by Raft's in-memory
//!   log, the persisted state the simulator keeps and the node's disk;
//! - [`event`]: every structured log event ([`Event`]), the JSON log line the node and the
//!   simulator's trace write ([`LogLine`]) and its JSON schema, derived from the type;
//!   `distsys diagnose` matches on [`EventKind`], so renaming an event is a compile error;
//! - [`metrics`]: the Prometheus metric families (names, help, labels, buckets) the node and
//!   the simulator expose and diagnose reads (the prometheus-client registry with the
//!   `metrics` feature).
//!
//! It depends on no other distsys crate, so every one of them can (and does) depend on it.

pub mod bytes;
pub mod event;
pub mod metrics;
pub mod quorum;
pub mod snapshot;

pub use bytes::ByteString;
pub use event::{Event, EventKind, Level, LogLine};
pub use quorum::{FaultModel, JointQuorum, QuorumError, QuorumSystem};

/// A node (replica, server) of a cluster.
pub type NodeId = u64;
